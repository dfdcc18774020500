"""Ingest: a rollout feed or CRM extract dropped in S3 becomes households and customers in DynamoDB.

Rows are validated as they stream in; good rows go on (feed rows announce `HouseholdConnected`),
bad rows and ignored fields are listed with their line, reason and action in `rejected/<drop>` beside the drop.
A drop that is unusable as a whole (a duplicated or missing column, not UTF-8) is set aside: copied to
`rejected/<drop>` with its reason in `rejected/<drop>.reason.txt`, a log line and a metric (the template's alarm),
never retried into a DLQ. The original stays where it was dropped: no function may delete objects (least privilege).
Each drop's rows accepted and rejected are counted in the business metrics (`shared.metrics`).

A CRM extract is a full snapshot (see `apply_extract`): it supersedes the customers held, or is held
when it would retire more than `crm.max_retire_percent` of them.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from shared.aws import client
from shared.bus import Outgoing, Publisher
from shared.events import CRM_PREFIX, FEED_PREFIX, REJECTED_PREFIX, Cause, HouseholdConnected
from shared.inputs import FeedRow, Rejected, read_rows
from shared.metrics import DROP_REJECTED_PERCENT, DROPS_REFUSED, ROWS_ACCEPTED, ROWS_REJECTED, emit
from shared.settings import Settings
from shared.stores.dynamo import batch_get, batch_put
from shared.stores.extracts import held_reason as held_reason  # for `dispatch run`: was a CRM drop held?

CHUNK = 500
REJECTED_COLUMNS = ["source", "line", "reason", "raw", "action"]  # rejected.csv of the contract


REASON_SUFFIX = ".reason.txt"  # beside a drop moved aside: why it was refused


@dataclass(frozen=True)
class IngestResult:
    key: str
    accepted: int
    rejected: int  # rows rejected
    ignored: int = 0  # fields ignored in rows that were kept
    held: str | None = None  # why a CRM extract was held, not applied
    retired: int = 0
    resegmented: int = 0


def dropped_object(detail: dict[str, Any], prefixes: tuple[str, ...]) -> tuple[str, str] | None:
    """(bucket, key) of the object an S3 "Object Created" notification names, or None for one to leave alone.

    S3 URL-encodes object keys in its notifications (form encoding: a space is '+', a '+' is '%2B'), so the
    key is decoded; a key S3 sent as it is (one holding a literal '+' or '%') is tried as given when the
    decoded one does not exist. A folder object (`feed/`, what the console's "Create folder" makes) and a
    key outside `prefixes` are logged and ignored: neither is a drop, and failing would only fill the DLQ.
    """
    bucket, raw = detail["bucket"]["name"], str(detail["object"]["key"])
    key = unquote_plus(raw)
    if key.endswith("/"):
        _log().info("folder object ignored", extra={"bucket": bucket, "key": key})
        return None
    if not key.startswith(prefixes):
        _log().warning("object outside the drop prefixes ignored", extra={"bucket": bucket, "key": key,
                                                                          "prefixes": list(prefixes)})
        return None
    if key != raw and not _exists(bucket, key) and _exists(bucket, raw):
        key = raw
    return bucket, key


def _exists(bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:  # 404, or 403 where the role may not list the bucket
        if exc.response.get("Error", {}).get("Code") in ("404", "403", "NoSuchKey", "NotFound", "Forbidden"):
            return False
        raise
    return True


def refuse_drop(bucket: str, key: str, reason: str) -> None:
    """Set an unusable drop aside in rejected/<key>, its reason beside it; a log line and a metric say so."""
    s3 = client("s3")
    target = f"{REJECTED_PREFIX}{key}"
    s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key})
    s3.put_object(Bucket=bucket, Key=target + REASON_SUFFIX, Body=(reason + "\n").encode("utf-8"),
                  ContentType="text/plain; charset=utf-8")
    _log().error("drop refused", extra={"bucket": bucket, "key": key, "moved_to": target, "reason": reason})
    emit(DROPS_REFUSED)  # the template's alarm


def _log() -> Any:
    from shared.handler import logger_for

    return logger_for("ingest")


def ingest_drop(s: Settings, bucket: str, key: str, now: datetime, publisher: Publisher,
                max_retire_percent: float | None = None) -> IngestResult:
    """`max_retire_percent` guards CRM extracts (default: the campaign's `crm.max_retire_percent`)."""
    if key.startswith(FEED_PREFIX):
        result = _ingest(s, bucket, key, FeedRow, "feed", lambda rows: _feed_chunk(s, rows, now, publisher))
        count_rows("feed", result)
        return result
    if key.startswith(CRM_PREFIX):
        from functions.ingest.extract import apply_extract

        if max_retire_percent is None:
            from shared.campaign import campaign

            max_retire_percent = campaign().config.crm.max_retire_percent
        result = apply_extract(s, bucket, key, now, publisher, max_retire_percent)
        count_rows("crm", result)
        return result
    raise ValueError(f"s3://{bucket}/{key}: not a feed ({FEED_PREFIX}) or CRM ({CRM_PREFIX}) drop")


def count_rows(source: str, result: IngestResult) -> None:
    """A drop's rows accepted and rejected, and the share rejected (the template alarms on a feed drop's)."""
    emit(ROWS_ACCEPTED, result.accepted, source=source)
    emit(ROWS_REJECTED, result.rejected, source=source)
    rows = result.accepted + result.rejected
    if rows and result.held is None:  # a held extract's rows are neither taken nor refused yet
        emit(DROP_REJECTED_PERCENT, 100 * result.rejected / rows, source=source)


def s3_lines(bucket: str, key: str, if_match: str | None = None, seen: dict[str, str] | None = None) -> Iterator[str]:
    """The object's text line by line, streamed (a million-row feed never sits in memory).

    Lines end at "\n" only, as the csv module reads them: a U+2028 or a lone CR inside a field
    neither splits the record nor shifts the line numbers of the rows after it. `seen` receives the
    object's ETag; `if_match` refuses an object that changed since (a second pass over the same file).
    """
    args = {"Bucket": bucket, "Key": key} | ({"IfMatch": if_match} if if_match else {})
    response = client("s3").get_object(**args)
    if seen is not None:
        seen["etag"] = response["ETag"]
    body = response["Body"]
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    pending = ""
    for chunk in body.iter_chunks(chunk_size=1 << 20):
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _ingest(s: Settings, bucket: str, key: str, model: Any, source: str, flush: Any) -> IngestResult:
    rejected: list[Rejected] = []  # rows rejected and fields ignored, in file order
    chunk: list[Any] = []
    accepted = 0
    for row in read_rows(s3_lines(bucket, key), model, source, f"s3://{bucket}/{key}"):
        if isinstance(row, Rejected):
            rejected.append(row)
            continue
        chunk.append(row[1])
        if len(chunk) >= CHUNK:
            accepted += flush(chunk)
            chunk = []
    if chunk:
        accepted += flush(chunk)
    write_rejected(bucket, key, rejected)
    rows_rejected = sum(1 for r in rejected if r.row_rejected)
    return IngestResult(key=key, accepted=accepted, rejected=rows_rejected, ignored=len(rejected) - rows_rejected)


def household_item(row: FeedRow) -> dict[str, Any]:
    return {
        "household_id": row.household_id,
        "street": row.street,
        "house_number": row.house_number,
        "postcode": row.postcode,
        "locality": row.locality,
        "commune": row.commune,
        "canton": row.canton,
        "connected_at": row.connected_at.isoformat(),
        "marketable_from": row.marketable_from.isoformat(),
        "max_down_mbps": row.max_down_mbps,
        "no_ads_sticker": row.no_ads_sticker,
    }


def expires_at_from(now: datetime) -> int:
    """Data minimisation: a household or customer not seen in a feed or extract for `retention_days` expires (TTL)."""
    from shared.campaign import campaign
    from shared.stores.records import expires_at

    return expires_at(now, campaign().config.retention_days)


def _feed_chunk(s: Settings, rows: list[FeedRow], now: datetime, publisher: Publisher) -> int:
    latest = {r.household_id: r for r in rows}  # a row re-sent within one drop: the later one holds
    stored = batch_get({s.households_table: [{"household_id": h} for h in latest]})[s.households_table]
    before = {i["household_id"]: i for i in stored}
    expires = expires_at_from(now)
    batch_put(s.households_table, (household_item(r) | {"expires_at": expires} for r in latest.values()))
    publisher.publish([
        Outgoing(
            HouseholdConnected(
                correlation_id=r.household_id,
                household_id=r.household_id,
                connected_at=r.connected_at,
                marketable_from=r.marketable_from,
                max_down_mbps=r.max_down_mbps,
                canton=r.canton,
                commune=r.commune,
                cause=feed_cause(before.get(r.household_id), household_item(r)),
            ),
            now,
        )
        for r in latest.values()
    ])
    return len(rows)


def feed_cause(stored: dict[str, Any] | None, row: dict[str, Any]) -> Cause:
    """A row that changes what was stored (address, speed, marketable_from, ...) is a correction; the first
    row, or the same row again (a redelivery), is the feed itself."""
    if stored is None or all(stored.get(k) == v for k, v in row.items()):
        return "feed"
    return "feed_correction"


def rejected_csv(rows: Iterable[Rejected]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REJECTED_COLUMNS)
    for r in rows:
        writer.writerow([r.source, r.line, r.reason, r.raw.rstrip("\r\n"), r.action])
    return out.getvalue()


def write_rejected(bucket: str, key: str, rejected: list[Rejected]) -> None:
    if rejected:
        client("s3").put_object(
            Bucket=bucket, Key=f"{REJECTED_PREFIX}{key}", Body=rejected_csv(rejected).encode("utf-8"),
            ContentType="text/csv; charset=utf-8",
        )
