"""Call-list exporter: gated call steps wait in a queue; each morning the day's list is cut to the
call centre's capacity, best expected value first, and what does not fit rolls over, oldest first."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.aws import client
from shared.campaign import Campaign
from shared.channels.letter import CALL_LIST_COLUMNS, call_list_row
from shared.dispatch import Context, Part, decision_item, judge, load_context, reserve_budget, reserved
from shared.domain.budget import next_month_start
from shared.domain.call_list import has_place, list_made_on, listing_order, waited_too_long, window_start
from shared.domain.caps import prune
from shared.domain.gate import Verdict
from shared.events import ContactRequested
from shared.metrics import (
    CALL_BACKLOG,
    CALL_BACKLOG_DAYS_OVER,
    CALL_BACKLOG_OLDEST_DAYS,
    CALL_LIST_CAPACITY,
    CALL_LIST_ROWS,
    CONTACTS_DEFERRED,
    CONTACTS_MADE,
    count_decision,
    emit,
)
from shared.settings import Settings
from shared.stores import budget as budget_store
from shared.stores.dynamo import query_all, to_item
from shared.stores.ledger import TransactionCancelled, pressure_update, put_item, transact
from shared.stores.records import CALLS_LISTED, CALLS_PENDING, expires_at, utc_key

PENDING = CALLS_PENDING
LISTED = CALLS_LISTED
LISTED_DAYS = 3  # how long they are kept (TTL): a retry of the export comes within minutes
COLUMNS = CALL_LIST_COLUMNS
UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")


def request_id(requested_at: datetime, household_id: str, sk: str) -> str:
    return f"{utc_key(requested_at)}#{household_id}#{sk}"


@dataclass
class CallChannel:
    settings: Settings
    name: str = "call"
    claim_status: str = "queued"
    checks_timing: bool = False  # windows and caps are checked when the day's list is made

    def contact_time(self, now: datetime, campaign: Campaign, not_before: datetime | None) -> datetime:
        return now

    def extra_parts(self, req: ContactRequested, ctx: Context, claim: dict[str, Any], campaign: Campaign) -> list[Part]:
        requested = datetime.fromisoformat(claim["at"])
        item = {
            "queue": PENDING, "request_id": request_id(requested, req.household_id, claim["sk"]),
            "household_id": req.household_id, "contact_sk": claim["sk"], "detail": req.model_dump_json(),
            "expected_value_chf": campaign.offer(req.offer_id).expected_value_chf,
            "requested_at": requested.isoformat(),
            # Kept as long as the contact history: the exporter ends every waiting call with a decision.
            "expires_at": expires_at(requested, campaign.config.retention_days),
        }
        return [("Put", {"TableName": self.settings.calls_table, "Item": to_item(item)})]

    def deliver(self, req: ContactRequested, ctx: Context, claim: dict[str, Any],
                campaign: Campaign) -> dict[str, Any] | None:
        return None  # the call is made from the day's list


def safe_cell(value: Any) -> str:
    """OWASP CSV injection: a cell must not start with a formula trigger, so quote it with '."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(UNSAFE_START) else text


def call_list_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export(s: Settings, campaign: Campaign, now: datetime) -> dict[str, Any]:
    """Make the day's list; rows that do not fit or may not be called today stay queued."""
    local = now.astimezone(campaign.tz)
    if not list_made_on(local.date()):
        return {"date": local.date().isoformat(), "rows": 0, "reason": "no calls on Sundays and public holidays"}
    day = local.date().isoformat()
    # A retried export (a crash, a timeout after some rows were listed) keeps what it listed before:
    # those calls count as made, so they must be on the list it writes now.
    listed = query_all(TableName=s.calls_table, KeyConditionExpression="queue = :q AND begins_with(request_id, :d)",
                       ExpressionAttributeValues={":q": {"S": LISTED}, ":d": {"S": f"{day}#"}})
    rows: list[dict[str, Any]] = []
    people: set[str] = set()
    for item in listed:
        req = ContactRequested.model_validate_json(item["detail"])
        people.add(req.customer_id or req.household_id)
        row = _row_again(s, req, item, local)
        if row is not None:
            rows.append(row)
    pending = query_all(TableName=s.calls_table, KeyConditionExpression="queue = :q",
                        ExpressionAttributeValues={":q": {"S": PENDING}})
    pending.sort(key=lambda p: listing_order(p["requested_at"], p["expected_value_chf"], p["request_id"]))
    position = len(listed)
    waiting: list[dict[str, Any]] = []  # due today, but no place on the list (capacity, one call per person)
    for item in pending:
        req = ContactRequested.model_validate_json(item["detail"])
        if _waited_too_long(s, campaign, req, item, now):
            continue
        if item.get("not_before_day", "") > day:
            continue  # deferred by the gate to a later day: nothing new to say today
        who = req.customer_id or req.household_id
        if not has_place(position, campaign.config.calls.per_day) or who in people:
            waiting.append(item)
            continue
        row = _list_one(s, campaign, item, req, now, position)
        if row is not None:
            people.add(who)
            rows.append(row)
            position += 1
            emit(CONTACTS_MADE, channel="call", target_group=req.target_group)
    for priority, row in enumerate(rows, start=1):
        row["priority"] = priority
    body = call_list_csv(rows)
    client("s3").put_object(Bucket=s.call_list_bucket, Key=f"call-lists/{day}.csv", Body=body,
                            ContentType="text/csv; charset=utf-8")
    count_list(campaign, now, len(rows), waiting)
    return {"date": day, "rows": len(rows), "pending": len(pending) - (position - len(listed))}


def count_list(campaign: Campaign, now: datetime, rows: int, waiting: list[dict[str, Any]]) -> None:
    """The day's list against the capacity, and the backlog of due calls left waiting: how many, how long the
    oldest has waited, and how far beyond `calls.max_backlog_days` (the template's alarm, > 0)."""
    calls = campaign.config.calls
    oldest = max((backlog_days(item["requested_at"], now) for item in waiting), default=0.0)
    emit(CALL_LIST_ROWS, rows)
    emit(CALL_LIST_CAPACITY, calls.per_day)
    emit(CALL_BACKLOG, len(waiting))
    emit(CALL_BACKLOG_OLDEST_DAYS, oldest)
    emit(CALL_BACKLOG_DAYS_OVER, max(0.0, oldest - calls.max_backlog_days))


def backlog_days(requested_at: str, now: datetime) -> float:
    """Days (with their fraction) a call has waited since its request."""
    return max(0.0, (now - datetime.fromisoformat(requested_at)).total_seconds() / 86400)


def _list_one(s: Settings, campaign: Campaign, item: dict[str, Any], req: ContactRequested,
              now: datetime, position: int) -> dict[str, Any] | None:
    """Put the call on today's list if the gate, asked now with the state of now, lets it go (design rule 9):
    caps at the export's instant (when the contact is recorded), the call window and cantonal holidays on
    today's opening; else it is withdrawn (skipped) or stays queued for a later day (deferred)."""
    from shared.withdrawal import withdraw

    ctx = load_context(s, req, item["contact_sk"])
    if ctx.household is None or ctx.claim is None or ctx.claim.get("status") != "queued":
        _drop(s, item)  # erased, or handled by an earlier try of this export
        return None
    judged = judge(campaign, req, ctx, now, window_at=_window_start(campaign, now))
    verdict = judged.verdict
    if verdict.action == "skip":
        withdraw(s, campaign, req, ctx, item["contact_sk"], now, verdict, own=None, ends_journey=judged.ends_journey,
                 extra_parts=[_pending_delete(s, item)])
        return None
    if verdict.action == "defer":
        assert verdict.until is not None
        _defer(s, campaign, req, now, item, verdict.reason, verdict.until)
        return None
    # The call is made (and paid) when it is listed: from the export day's month, at the claim's cost.
    reservation, short = reserve_budget(s, campaign, req.household_id, float(ctx.claim["cost_chf"]), now, fresh=True)
    if reservation is None:
        _defer(s, campaign, req, now, item, short, next_month_start(now, campaign.tz))
        return None
    local = now.astimezone(campaign.tz)
    history = prune([*ctx.pressure.history, ("call", now)], now, campaign.gate_policy.caps)
    offered = req.model_copy(update={"offer_id": judged.offer_id})
    on_list = {"queue": LISTED, "request_id": f"{local.date().isoformat()}#{position:06d}#{item['request_id']}",
               "household_id": req.household_id, "contact_sk": item["contact_sk"],
               "detail": offered.model_dump_json(), "expires_at": expires_at(now, LISTED_DAYS)}
    try:
        transact([("Update", _listed(s, offered, item, local)),
                  ("Update", pressure_update(s.contacts_table, ctx.pressure, history)),
                  _pending_delete(s, item),
                  ("Put", {"TableName": s.calls_table, "Item": to_item(on_list)}),
                  *reservation.parts(s.budget_table)])
    except TransactionCancelled:
        budget_store.forget(s.budget_table, reservation.month)
        return None  # another export or a response moved it, or a budget shard ran short: not on today's list
    reserved(s, campaign, reservation, now)
    return _row(offered, ctx, local)


def _waited_too_long(s: Settings, campaign: Campaign, req: ContactRequested, item: dict[str, Any],
                     now: datetime) -> bool:
    """A call still waiting for a place on a list when its journey's next cycle would begin is withdrawn
    with a decision (the backlog never expires in silence); True when it was."""
    from shared.withdrawal import withdraw

    days = campaign.config.journeys[req.target_group].repeat_every_days
    if not waited_too_long(datetime.fromisoformat(item["requested_at"]), now, days):
        return False
    ctx = load_context(s, req, item["contact_sk"])
    if ctx.claim is None or ctx.claim.get("status") != "queued":
        _drop(s, item)
        return True
    reason = f"call not listed within {days} days of its request (call-centre capacity): skipped"
    try:
        withdraw(s, campaign, req, ctx, item["contact_sk"], now, Verdict("skip", reason), own=None,
                 extra_parts=[_pending_delete(s, item)])
    except TransactionCancelled:
        return False  # moved meanwhile: looked at again tomorrow
    return True


def _pending_delete(s: Settings, item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = {"queue": PENDING, "request_id": item["request_id"]}
    return ("Delete", {"TableName": s.calls_table, "Key": to_item(key)})


def _row(req: ContactRequested, ctx: Context, local: datetime) -> dict[str, Any]:
    return call_list_row(local.date().isoformat(), ctx.customer or {}, ctx.household or {}, req.customer_id,
                         req.household_id, req.offer_id, req.attempt)


def _row_again(s: Settings, req: ContactRequested, item: dict[str, Any], local: datetime) -> dict[str, Any] | None:
    """The row of a call listed by an earlier try of today's export, from today's data (an erased person:
    none)."""
    ctx = load_context(s, req, item["contact_sk"])
    if ctx.household is None or (req.customer_id and ctx.customer is None):
        return None
    return _row(req, ctx, local)


def _listed(s: Settings, req: ContactRequested, item: dict[str, Any], local: datetime) -> dict[str, Any]:
    """The claim's move from queued to sent (the contact is made) at the export's local time."""
    return {
        "TableName": s.contacts_table, "Key": to_item({"household_id": req.household_id, "sk": item["contact_sk"]}),
        "UpdateExpression": "SET #status = :sent, #at = :at, offer_id = :offer",
        "ConditionExpression": "#status = :queued",
        "ExpressionAttributeNames": {"#status": "status", "#at": "at"},
        "ExpressionAttributeValues": {":sent": {"S": "sent"}, ":at": {"S": local.isoformat()},
                                      ":queued": {"S": "queued"}, ":offer": {"S": req.offer_id}},
    }


def _defer(s: Settings, campaign: Campaign, req: ContactRequested, now: datetime, item: dict[str, Any], reason: str,
           until: datetime) -> None:
    """Keep the call queued, off the lists before `until`'s day, and record why."""
    day = until.astimezone(campaign.tz).date()
    _decide(s, campaign, req, now, "deferred", f"call list: {reason}; listed again from {day}")
    count_decision(CONTACTS_DEFERRED, "call", req.target_group, reason)
    client("dynamodb").update_item(
        TableName=s.calls_table, Key=to_item({"queue": PENDING, "request_id": item["request_id"]}),
        UpdateExpression="SET not_before_day = :d", ExpressionAttributeValues={":d": {"S": day.isoformat()}})


def _window_start(campaign: Campaign, now: datetime) -> datetime:
    """When today's calls may start (the call window's opening on this weekday)."""
    return window_start(campaign.gate_policy.windows["call"], now.astimezone(campaign.tz).date(), campaign.tz)


def _drop(s: Settings, item: dict[str, Any]) -> None:
    client("dynamodb").delete_item(TableName=s.calls_table,
                                   Key=to_item({"queue": PENDING, "request_id": item["request_id"]}))


def _decide(s: Settings, campaign: Campaign, req: ContactRequested, now: datetime, decision: str, reason: str) -> None:
    put_item(s.contacts_table, decision_item(s, campaign, req, now, decision, reason,
                                             f"{req.journey_id}{req.cycle}{req.step}{decision}"))
