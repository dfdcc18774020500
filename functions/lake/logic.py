"""The lake's producer: the tables' stream records, as rows of the contact-history lake (shared/lake.py).

One row per change that the report reads: a contact made (a claim whose status is or was `sent`), a decision,
a response, a household, a journey's segment, offer or end. Only the columns of shared.lake.COLUMNS leave: ids,
codes, dates and money, never a name, an address line, an email, a phone number or a customer id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from boto3.dynamodb.types import TypeDeserializer

from shared.lake import COLUMN_NAMES, SEQ_WIDTH

Row = dict[str, Any]
SENT = "sent"
HOUSEHOLD_FIELDS = ("commune", "canton", "postcode", "connected_at", "marketable_from", "target_group",
                    "control_group")
JOURNEY_FIELDS = ("journey_id", "status", "offer_id", "end_reason", "target_group")
CONTACT_FIELDS = ("contact_id", "journey_id", "target_group", "channel", "kind", "cycle", "step", "attempt",
                  "offer_id", "cost_chf", "at", "status")
DECISION_FIELDS = ("journey_id", "channel", "cycle", "step", "at", "decision", "reason")
RESPONSE_FIELDS = ("at", "type", "channel", "outcome")
TTL_PRINCIPAL = "dynamodb.amazonaws.com"  # a REMOVE by TTL: the lake keeps its own retention

_deserializer = TypeDeserializer()


def lake_rows(records: Iterable[dict[str, Any]], tables: dict[str, str], tz: ZoneInfo) -> Iterator[Row]:
    """The lake rows of a batch of DynamoDB stream records (Lambda's shape); `tables` maps table name to
    what it holds ('contacts', 'households', 'journeys')."""
    for record in records:
        what = tables.get(_table_of(record.get("eventSourceARN", "")))
        if what is None or _expired(record):
            continue
        stream = record.get("dynamodb") or {}
        new, old = _image(stream.get("NewImage")), _image(stream.get("OldImage"))
        base = {"household_id": str((new or old or {}).get("household_id", "")),
                "seq": str(stream.get("SequenceNumber", "0")).zfill(SEQ_WIDTH),
                "changed": _changed_at(stream)}
        row = _ROWS[what](new, old, base, tz)
        if row is not None:
            yield _finish(row, tz)


def _contacts_table_row(new: Row | None, old: Row | None, base: Row, tz: ZoneInfo) -> Row | None:
    item = new if new is not None else old
    assert item is not None
    sk = str(item.get("sk", ""))
    op = "upsert" if new is not None else "remove"
    if sk.startswith("contact#"):
        # A claim becomes a contact when it is sent; it stops being one only if that changes (erased, undone).
        if (new or {}).get("status") != SENT and (old or {}).get("status") != SENT:
            return None
        return {**base, "record_type": "contact", "op": op, "item_key": sk, **_pick(item, CONTACT_FIELDS)}
    if sk.startswith("decision#"):
        return {**base, "record_type": "decision", "op": op, "item_key": sk, **_pick(item, DECISION_FIELDS)}
    if sk.startswith("response#"):
        return {**base, "record_type": "response", "op": op, "item_key": sk, **_pick(item, RESPONSE_FIELDS)}
    return None


def _households_row(new: Row | None, old: Row | None, base: Row, tz: ZoneInfo) -> Row | None:
    if new is not None and old is not None and _pick(new, HOUSEHOLD_FIELDS) == _pick(old, HOUSEHOLD_FIELDS):
        return None  # a change the report does not read (an address line, a speed, a language)
    item = new if new is not None else old
    assert item is not None
    row = {**base, "record_type": "household", "op": "upsert" if new is not None else "remove", "item_key": "",
           **_pick(item, HOUSEHOLD_FIELDS)}
    if row.get("target_group") == "none":
        row["target_group"] = None
    return row


def _journeys_row(new: Row | None, old: Row | None, base: Row, tz: ZoneInfo) -> Row | None:
    if new is not None and old is not None and _pick(new, JOURNEY_FIELDS) == _pick(old, JOURNEY_FIELDS):
        return None  # a step taken or put off: the journey's segment, offer and status are as they were
    item = new if new is not None else old
    assert item is not None
    at = item.get("ended_at") if item.get("status") == "ended" else None
    # its day: when it ended, else when its cycle started (the stream's own time is the emulator's wall clock)
    when = _instant(at or item.get("cycle_started_at") or item.get("started_at"))
    return {**base, "record_type": "journey", "op": "upsert" if new is not None else "remove", "item_key": "",
            **_pick(item, JOURNEY_FIELDS), "at": at, "changed": when or base["changed"]}


_ROWS = {"contacts": _contacts_table_row, "households": _households_row, "journeys": _journeys_row}


def _finish(row: Row, tz: ZoneInfo) -> Row:
    """Typed as the lake's JSON: timestamps 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC, local days, numbers; the
    partition `day` is the local day of the change's own time, else of the moment it was written."""
    from shared.domain.journey import marketable_instant

    changed: datetime = row.pop("changed")
    at = _instant(row.get("at"))
    out: Row = {"record_type": row["record_type"]}
    out.update({name: row.get(name) for name in COLUMN_NAMES})
    out["at"] = _utc_text(at)
    out["local_day"] = at.astimezone(tz).date().isoformat() if at else None
    connected = _instant(row.get("connected_at"))
    if connected is not None:
        out["connected_at"] = _utc_text(connected)
        out["connected_day"] = connected.astimezone(tz).date().isoformat()
    marketable = row.get("marketable_from")
    if marketable:
        out["marketable_day"] = marketable_instant(str(marketable), tz).astimezone(tz).date().isoformat()
    for name in ("cycle", "step", "attempt"):
        out[name] = int(out[name]) if out.get(name) not in (None, "") else None
    if out.get("cost_chf") is not None:
        out["cost_chf"] = float(Decimal(str(out["cost_chf"])))
    if out.get("control_group") is not None:
        out["control_group"] = bool(out["control_group"])
    out["day"] = (at or connected or changed).astimezone(tz).date().isoformat()
    return out


def _pick(item: Row, fields: tuple[str, ...]) -> Row:
    return {f: _plain(item.get(f)) for f in fields}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    return value


def _image(image: dict[str, Any] | None) -> Row | None:
    if not image:
        return None
    return {k: _deserializer.deserialize(v) for k, v in image.items()}


def _instant(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _utc_text(at: datetime | None) -> str | None:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if at is not None else None


def _changed_at(stream: dict[str, Any]) -> datetime:
    value = stream.get("ApproximateCreationDateTime")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if value in (None, ""):
        return datetime.now(UTC)
    return datetime.fromtimestamp(float(value), UTC)


def _table_of(arn: str) -> str:
    """arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL -> NAME"""
    parts = arn.split(":table/", 1)
    return parts[1].split("/", 1)[0] if len(parts) == 2 else ""


def _expired(record: dict[str, Any]) -> bool:
    identity = record.get("userIdentity") or {}
    return record.get("eventName") == "REMOVE" and identity.get("principalId") == TTL_PRINCIPAL


def put_rows(stream_name: str, rows: list[Row], attempts: int = 3) -> int:
    """Deliver rows to the Firehose stream (500 records or 4 MiB a call); what Firehose refuses is sent again,
    and what is still refused after `attempts` raises, so the stream batch is retried and nothing is lost."""
    import json

    from shared.aws import client
    from shared.batching import chunks

    records = [{"Data": (json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n").encode()} for r in rows]
    sent = 0
    for chunk in chunks(records, 500, 4 * 1024 * 1024 - 1024, lambda r: len(r["Data"])):  # PutRecordBatch's limits
        pending = chunk
        for _ in range(attempts):
            response = client("firehose").put_record_batch(DeliveryStreamName=stream_name, Records=pending)
            if not response.get("FailedPutCount"):
                break
            pending = [r for r, result in zip(pending, response["RequestResponses"], strict=True)
                       if result.get("ErrorCode")]
        else:
            raise RuntimeError(f"Firehose refused {len(pending)} lake records {attempts} times")
        sent += len(chunk)
    return sent
