"""A CRM extract is a full snapshot: it supersedes the customers held, or is held when implausible.

Two passes over the dropped file: the first validates it and collects its keys (and what segmenting needs),
so the plan (`shared.domain.crm.plan_extract`) is made against the customers held before anything changes;
the second writes the customers (the same object, by its ETag). Then customers who left are retired (their
objections stay as suppressions, their item goes), moved customers leave their old household, and every
connected household whose residents changed is announced again (`HouseholdConnected`, cause `crm_change`).
The plan is written (`applied/<key>.json`) before the first change, so a redelivery after a crash finishes
the same plan, and a duplicate of a finished drop changes nothing; an extract delivered after a newer one was
applied (by the time of their drops) is out of date and not applied either.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.aws import client
from shared.bus import Outgoing, Publisher
from shared.domain.crm import CustomerKey, ExtractPlan, plan_extract
from shared.domain.journey import parse_marketable
from shared.events import HouseholdConnected
from shared.inputs import CustomerRow, Rejected, read_rows
from shared.settings import Settings
from shared.stores.dynamo import batch_get, batch_put, scan_all, to_item
from shared.stores.extracts import (
    applied_plan,
    is_release,
    latest_applied,
    mark_released,
    release_key,
    write_applied,
    write_held,
    write_latest,
)
from shared.stores.records import parse_time
from shared.stores.suppression import PARTIALLY_ADDRESSED, customer_subject, household_subject, suppress

if TYPE_CHECKING:
    from functions.ingest.logic import IngestResult

SOURCE = "crm"
CHUNK = 500
# What decides a household's segment (shared.domain.segment.Resident): a change re-segments the household.
SEGMENT_FIELDS = ("has_internet", "has_mobile", "internet_down_mbps", "language")


@dataclass
class _Extract:
    profiles: dict[CustomerKey, Hashable] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)  # the object's ETag


def apply_extract(s: Settings, bucket: str, key: str, now: datetime, publisher: Publisher,
                  max_retire_percent: float) -> IngestResult:
    from functions.ingest.logic import IngestResult, write_rejected

    record = applied_plan(bucket, key)
    if record and record.get("done"):
        return IngestResult(key=key, accepted=0, rejected=0)  # applied before: a duplicate delivery
    newer = None if record or is_release(key) else _newer_extract(bucket, now)
    if newer:
        write_applied(bucket, key, {"key": key, "done": True, "superseded_by": newer})
        return IngestResult(key=key, accepted=0, rejected=0)
    extract = _read(bucket, key)
    write_rejected(bucket, key, extract.rejected)
    if record is None:
        held = _customers_held(s)
        plan = plan_extract({k: v[0] for k, v in held.items()}, extract.profiles, max_retire_percent,
                            force=is_release(key))
        if plan.held:
            _hold(bucket, key, plan, now)
            return IngestResult(key=key, accepted=0, rejected=len(extract.rejected), held=plan.reason)
        record = _plan_record(key, plan, held, now)
        write_applied(bucket, key, record)
    accepted = _upsert(s, bucket, key, extract.seen.get("etag"), now)
    _retire(s, record["retired"], now)
    resegmented = _resegment(s, record["resegment"], now, publisher)
    write_applied(bucket, key, record | {"done": True, "applied_at": now.isoformat()})
    if _newer_extract(bucket, now) is None:
        write_latest(bucket, key, now.isoformat())
    if is_release(key):
        mark_released(bucket, key, now.isoformat())
    return IngestResult(key=key, accepted=accepted, rejected=len(extract.rejected),
                        retired=len(record["retired"]), resegmented=resegmented)


def _newer_extract(bucket: str, now: datetime) -> str | None:
    """An extract dropped after this one (delivered late) and already applied: this one is out of date."""
    latest = latest_applied(bucket)
    return str(latest["key"]) if latest and parse_time(latest["at"]) > now else None


def profile(item: Any) -> Hashable:
    """What segmenting reads of a customer, from a row or an item, comparable across both."""
    get = item.get if isinstance(item, dict) else lambda name: getattr(item, name)
    return (bool(get("has_internet")), bool(get("has_mobile")), get("internet_down_mbps"), get("language"))


def _read(bucket: str, key: str) -> _Extract:
    from functions.ingest.logic import s3_lines

    extract = _Extract()
    for row in read_rows(s3_lines(bucket, key, seen=extract.seen), CustomerRow, "customers", f"s3://{bucket}/{key}"):
        if isinstance(row, Rejected):
            extract.rejected.append(row)
        else:
            extract.profiles[(row[1].household_id, row[1].customer_id)] = profile(row[1])
    return extract


def _customers_held(s: Settings) -> dict[CustomerKey, tuple[Hashable, bool, bool]]:
    """Every customer item's key, profile and objections (a Scan: fine at a CRM's volumes, once per extract)."""
    names = {f"#{f}": f for f in ("household_id", "customer_id", *SEGMENT_FIELDS, "do_not_call", "do_not_mail")}
    items = scan_all(s.customers_table, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
    return {(i["household_id"], i["customer_id"]): (profile(i), bool(i.get("do_not_call")),
                                                    bool(i.get("do_not_mail"))) for i in items}


def _plan_record(key: str, plan: ExtractPlan, held: dict[CustomerKey, tuple[Hashable, bool, bool]],
                 now: datetime) -> dict[str, Any]:
    """The plan as applied: each retired item with the objections to keep (a customer who left only)."""
    retired = [[h, c, *(held[(h, c)][1:] if c in plan.left else (False, False))] for h, c in sorted(plan.retired)]
    return {"key": key, "planned_at": now.isoformat(), "customers_before": plan.before,
            "customers_after": plan.after, "share_retired": round(plan.retire_percent, 2),
            "threshold": plan.threshold, "moved": len(plan.moved), "retired": retired,
            "resegment": sorted(plan.resegment), "done": False}


def _hold(bucket: str, key: str, plan: ExtractPlan, now: datetime) -> None:
    from shared.handler import logger_for

    write_held(bucket, key, {
        "key": key, "share_retired": round(plan.retire_percent, 2), "threshold": plan.threshold,
        "customers_before": plan.before, "customers_after": plan.after, "customers_retired": len(plan.left),
        "held_at": now.isoformat(), "reason": plan.reason, "release_key": release_key(key),
    })
    logger_for("ingest").warning("CRM extract held, not applied", extra={
        "key": key, "share_retired": round(plan.retire_percent, 2), "threshold": plan.threshold,
        "customers_before": plan.before, "customers_after": plan.after, "release_key": release_key(key)})


def _upsert(s: Settings, bucket: str, key: str, etag: str | None, now: datetime) -> int:
    """Second pass: every valid row overwrites its customer item; a resident's do_not_mail also stops
    partially addressed mail to the household (written first: an objection never waits for the item)."""
    from functions.ingest.logic import s3_lines

    written = 0
    chunk: list[CustomerRow] = []
    rows = read_rows(s3_lines(bucket, key, if_match=etag), CustomerRow, "customers", f"s3://{bucket}/{key}")
    for row in rows:
        if isinstance(row, Rejected):
            continue
        chunk.append(row[1])
        if len(chunk) >= CHUNK:
            written += _upsert_chunk(s, chunk, now)
            chunk = []
    return written + (_upsert_chunk(s, chunk, now) if chunk else 0)


def _upsert_chunk(s: Settings, rows: list[CustomerRow], now: datetime) -> int:
    for household_id in sorted({r.household_id for r in rows if r.do_not_mail}):
        suppress(s.suppression_table, household_subject(household_id), PARTIALLY_ADDRESSED, now, SOURCE)
    from functions.ingest.logic import expires_at_from

    expires = expires_at_from(now)  # each extract renews the customers it holds; one they no longer hold is retired
    return batch_put(s.customers_table, (r.model_dump(mode="json") | {"expires_at": expires} for r in rows))


def _retire(s: Settings, retired: list[list[Any]], now: datetime) -> None:
    """Objections first (they outlive the record), then the items: a crash between leaves nobody contactable
    who objected, and the redelivery finishes with the same plan."""
    for _, customer_id, do_not_call, do_not_mail in retired:
        if do_not_call:
            suppress(s.suppression_table, customer_subject(customer_id), "call", now, SOURCE)
        if do_not_mail:
            suppress(s.suppression_table, customer_subject(customer_id), "print", now, SOURCE)
    _batch_delete(s.customers_table, [{"household_id": h, "customer_id": c} for h, c, *_ in retired])


def _batch_delete(table: str, keys: list[dict[str, str]]) -> None:
    ddb = client("dynamodb")
    for start in range(0, len(keys), 25):
        pending: dict[str, Any] = {table: [{"DeleteRequest": {"Key": to_item(k)}} for k in keys[start:start + 25]]}
        for _ in range(8):
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
        else:
            raise RuntimeError(f"{table}: {len(pending[table])} deletes still unprocessed")


def _resegment(s: Settings, household_ids: Iterable[str], now: datetime, publisher: Publisher) -> int:
    """Connected households (in the households table) whose residents changed are segmented again."""
    found = batch_get({s.households_table: [{"household_id": h} for h in household_ids]})[s.households_table]
    events = [Outgoing(connected_again(item), now) for item in sorted(found, key=lambda i: i["household_id"])]
    for start in range(0, len(events), 100):
        publisher.publish(events[start:start + 100])
    return len(events)


def connected_again(item: dict[str, Any]) -> HouseholdConnected:
    return HouseholdConnected(
        correlation_id=item["household_id"], household_id=item["household_id"],
        connected_at=parse_time(item["connected_at"]), marketable_from=parse_marketable(item["marketable_from"]),
        max_down_mbps=int(item["max_down_mbps"]), canton=item["canton"], commune=item["commune"], cause="crm_change",
    )
