"""Journeys in DynamoDB: one item per household, a sparse `due` index for steps waiting to go out.

A journey waits in the index (due_shard, due_at) while its next step is `ready`; the tick marks
it `requested` and pushes its due_at to a re-check time, so a request lost on the way is asked
for again while the step's claim keeps it from ever going out twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from shared.aws import client
from shared.domain.journey import Position, parse_marketable
from shared.stores.dynamo import from_item, to_item, to_value
from shared.stores.records import due_shard, due_shards, expires_at, parse_time, utc_key

RECHECK_AFTER = timedelta(hours=6)
FIRST_PAGE = 25
NEXT_PAGES = 1000


@dataclass(frozen=True)
class Journey:
    household_id: str
    journey_id: str
    status: str
    target_group: str
    offer_id: str
    customer_id: str | None
    cycle: int
    step: int
    cycle_started_at: datetime
    due_at: datetime
    state: str
    end_reason: str | None = None
    generation: int = 1  # 1 for the household's first journey, +1 for each restart (a new segment)
    marketable_from: date | datetime | None = None  # the household's marketable_from it was scheduled for
    ended_by: str | None = None  # RECONCILED: ended because the household's facts changed, may start again

    @property
    def position(self) -> Position:
        return Position(self.cycle, self.step, self.cycle_started_at, self.due_at)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Journey:
        return cls(
            household_id=item["household_id"],
            journey_id=item["journey_id"],
            status=item["status"],
            target_group=item["target_group"],
            offer_id=item["offer_id"],
            customer_id=item.get("customer_id"),
            cycle=int(item["cycle"]),
            step=int(item["step"]),
            cycle_started_at=parse_time(item["cycle_started_at"]),
            due_at=parse_time(item["due_at"]),
            state=item.get("state", "ready"),
            end_reason=item.get("end_reason"),
            generation=int(item.get("generation", 1)),
            marketable_from=parse_marketable(item["marketable_from"]) if item.get("marketable_from") else None,
            ended_by=item.get("ended_by"),
        )


def new_journey_item(journey: Journey, started_at: datetime) -> dict[str, Any]:
    return {
        "household_id": journey.household_id,
        "journey_id": journey.journey_id,
        "status": "live",
        "target_group": journey.target_group,
        "offer_id": journey.offer_id,
        "customer_id": journey.customer_id,
        "cycle": journey.cycle,
        "step": journey.step,
        "cycle_started_at": journey.cycle_started_at.isoformat(),
        "due_at": utc_key(journey.due_at),
        "due_shard": due_shard(journey.household_id),
        "state": "ready",
        "started_at": started_at.isoformat(),
        "generation": journey.generation,
        "marketable_from": journey.marketable_from.isoformat() if journey.marketable_from else None,
    }


def start_journey_put(table: str, journey: Journey, started_at: datetime) -> dict[str, Any]:
    """The Put that creates the household's only journey; its condition fails when it has one."""
    return {"TableName": table, "Item": to_item(new_journey_item(journey, started_at)),
            "ConditionExpression": "attribute_not_exists(household_id)"}


def due_journeys(table: str, now: datetime) -> tuple[list[Journey], datetime | None]:
    """Every journey due by `now` in household order, and the earliest due_at after `now`.

    One ascending Query per shard of the due index reads the due items and, in the same page,
    the first one that is not due yet: the tick learns when it next has work at no extra cost. The
    first page is small (a quiet hour reads a few items), the next ones large (a commune that
    became marketable at once is read in a few requests, not one per handful of households).
    """
    due: list[Journey] = []
    upcoming: list[str] = []
    ddb = client("dynamodb")
    for shard in range(due_shards()):
        args: dict[str, Any] = {
            "TableName": table, "IndexName": "due", "KeyConditionExpression": "due_shard = :s",
            "ExpressionAttributeValues": {":s": {"S": str(shard)}}, "ScanIndexForward": True, "Limit": FIRST_PAGE,
        }
        while True:
            response = ddb.query(**args)
            items = [from_item(i) for i in response.get("Items", [])]
            later = [i["due_at"] for i in items if i["due_at"] > utc_key(now)]
            due += [Journey.from_item(i) for i in items if i["due_at"] <= utc_key(now) and i.get("status") == "live"]
            if later or "LastEvaluatedKey" not in response:
                upcoming += later[:1]
                break
            args["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            args["Limit"] = NEXT_PAGES
    return sorted(due, key=lambda j: (j.due_at, j.household_id)), (parse_time(min(upcoming)) if upcoming else None)


def mark_requested_update(table: str, journey: Journey, now: datetime) -> dict[str, Any]:
    """The Update that claims the tick's right to request this step: its condition fails when another
    tick or a channel moved the journey since it was read."""
    return {
        "TableName": table,
        "Key": to_item({"household_id": journey.household_id}),
        "UpdateExpression": "SET #state = :requested, due_at = :recheck, requested_at = :now",
        "ConditionExpression": "#status = :live AND #cycle = :cycle AND #step = :step AND due_at = :due",
        "ExpressionAttributeNames": {"#state": "state", "#status": "status", "#cycle": "cycle", "#step": "step"},
        "ExpressionAttributeValues": {
            ":requested": to_value("requested"),
            ":recheck": to_value(utc_key(now + RECHECK_AFTER)),
            ":now": to_value(now.isoformat()),
            ":live": to_value("live"),
            ":cycle": to_value(journey.cycle),
            ":step": to_value(journey.step),
            ":due": to_value(utc_key(journey.due_at)),
        },
    }


def _at_step(table: str, household_id: str, cycle: int, step: int) -> dict[str, Any]:
    """Transaction parts share this condition: the journey is live and still at this step."""
    return {
        "TableName": table,
        "Key": to_item({"household_id": household_id}),
        "ConditionExpression": "#status = :live AND #cycle = :cycle AND #step = :step",
    }


def advance_update(table: str, household_id: str, cycle: int, step: int, nxt: Position | None,
                   reason_done: str = "all cycles done", *, offer_id: str | None = None,
                   ended: str | None = None, journey_id: str | None = None,
                   expiry: tuple[datetime, int] | None = None) -> dict[str, Any]:
    """The Update of a transaction that moves the journey past (cycle, step): to `nxt`, or completed after
    the last step, or `ended` with that reason (no offer may be shown any more). `offer_id`: the offer the
    step advertised, when it replaced an expired one. `expiry` (now, retention_days): a journey that completes
    or ends here expires that long after (TTL)."""
    update = _at_step(table, household_id, cycle, step)
    names = {"#status": "status", "#cycle": "cycle", "#step": "step", "#state": "state"}
    values: dict[str, Any] = {":live": "live", ":cycle": cycle, ":step": step}
    if nxt is None:
        update["UpdateExpression"] = "SET #status = :done, end_reason = :why REMOVE due_shard, #state"
        values |= {":done": "ended" if ended else "completed", ":why": ended or reason_done}
    else:
        update["UpdateExpression"] = (
            "SET #cycle = :ncycle, #step = :nstep, cycle_started_at = :nstart, due_at = :ndue, "
            "due_shard = :shard, #state = :ready"
        )
        values |= {":ncycle": nxt.cycle, ":nstep": nxt.step, ":nstart": nxt.cycle_started_at.isoformat(),
                   ":ndue": utc_key(nxt.due_at), ":shard": due_shard(household_id), ":ready": "ready"}
    if offer_id is not None:
        update["UpdateExpression"] = update["UpdateExpression"].replace("SET ", "SET offer_id = :offer, ", 1)
        values[":offer"] = offer_id
    update["ExpressionAttributeNames"] = names
    update["ExpressionAttributeValues"] = {k: to_value(v) for k, v in values.items()}
    if nxt is None and expiry is not None:
        _expiring(update, *expiry)
    return _of_journey(update, journey_id)


def _expiring(update: dict[str, Any], at: datetime, retention_days: int | None) -> dict[str, Any]:
    """Data minimisation: a journey that ended or completed at `at` expires `retention_days` later (DynamoDB TTL);
    a live one never does (a rewind or restart brings it back without the attribute)."""
    if retention_days is not None:
        update["UpdateExpression"] = update["UpdateExpression"].replace("SET ", "SET expires_at = :expires, ", 1)
        update["ExpressionAttributeValues"][":expires"] = to_value(expires_at(at, retention_days))
    return update


def _of_journey(update: dict[str, Any], journey_id: str | None) -> dict[str, Any]:
    """The update's condition also names the journey: a journey restarted since it was read (a new
    generation, after re-segmenting) is not moved by what belonged to the old one."""
    if journey_id is not None:
        update["ConditionExpression"] += " AND journey_id = :jid"
        update["ExpressionAttributeValues"][":jid"] = to_value(journey_id)
    return update


def defer_update(table: str, household_id: str, cycle: int, step: int, until: datetime, *,
                 journey_id: str | None = None) -> dict[str, Any]:
    """The Update of a transaction that puts the same step back in the index, due at `until`."""
    update = _at_step(table, household_id, cycle, step)
    update["UpdateExpression"] = "SET due_at = :until, due_shard = :shard, #state = :ready"
    update["ExpressionAttributeNames"] = {"#status": "status", "#cycle": "cycle", "#step": "step", "#state": "state"}
    update["ExpressionAttributeValues"] = {
        k: to_value(v)
        for k, v in {":live": "live", ":cycle": cycle, ":step": step, ":until": utc_key(until),
                     ":shard": due_shard(household_id), ":ready": "ready"}.items()
    }
    return _of_journey(update, journey_id)


def end_update(table: str, household_id: str, reason: str, at: datetime, *,
               journey_id: str | None = None, retention_days: int | None = None) -> dict[str, Any]:
    """The Update of a transaction that stops a live journey for good, with the reason."""
    return _of_journey(_expiring({
        "TableName": table,
        "Key": to_item({"household_id": household_id}),
        "UpdateExpression": "SET #status = :ended, end_reason = :why, ended_at = :at REMOVE due_shard, #state",
        "ConditionExpression": "#status = :live",
        "ExpressionAttributeNames": {"#status": "status", "#state": "state"},
        "ExpressionAttributeValues": {k: to_value(v) for k, v in {
            ":ended": "ended", ":why": reason, ":at": at.isoformat(), ":live": "live"}.items()},
    }, at, retention_days), journey_id)


def rewind_update(table: str, journey: Journey, position: Position) -> dict[str, Any]:
    """The Update of a transaction that puts a live or completed journey back at an earlier step (a contact
    withdrawn with a deferral), conditioned on the journey being exactly as it was read."""
    condition = "journey_id = :jid AND #status = :was AND #cycle = :wcycle AND #step = :wstep"
    values: dict[str, Any] = {":jid": journey.journey_id, ":was": journey.status, ":wcycle": journey.cycle,
                              ":wstep": journey.step, ":live": "live", ":cycle": position.cycle,
                              ":step": position.step, ":start": position.cycle_started_at.isoformat(),
                              ":due": utc_key(position.due_at), ":shard": due_shard(journey.household_id),
                              ":ready": "ready"}
    if journey.status == "live":
        condition += " AND #state = :ready"
    return {
        "TableName": table,
        "Key": to_item({"household_id": journey.household_id}),
        "UpdateExpression": ("SET #status = :live, #cycle = :cycle, #step = :step, cycle_started_at = :start, "
                             "due_at = :due, due_shard = :shard, #state = :ready REMOVE end_reason, expires_at"),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#status": "status", "#cycle": "cycle", "#step": "step", "#state": "state"},
        "ExpressionAttributeValues": {k: to_value(v) for k, v in values.items()},
    }


def end_journey(table: str, household_id: str, reason: str, at: datetime, retention_days: int | None = None) -> bool:
    """Stop a live journey for good (order, objection); False when none is live."""
    from botocore.exceptions import ClientError

    try:
        client("dynamodb").update_item(**end_update(table, household_id, reason, at, retention_days=retention_days))
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get_journey(table: str, household_id: str) -> Journey | None:
    item = client("dynamodb").get_item(TableName=table, Key=to_item({"household_id": household_id})).get("Item")
    return Journey.from_item(from_item(item)) if item else None


# ------------------------------------------------------------------ reconciliation (a household segmented again)
RECONCILED = "reconcile"  # ended_by: the household's facts changed (not eligible, re-segmented), not the household


def _same_journey(journey: Journey) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The condition every reconciling write shares: the item is still the journey that was read."""
    return ("journey_id = :jid AND #status = :seen_status", {"#status": "status"},
            {":jid": to_value(journey.journey_id), ":seen_status": to_value(journey.status)})


def reconcile_end_update(table: str, journey: Journey, reason: str, at: datetime,
                         retention_days: int | None = None) -> dict[str, Any]:
    """End the live journey that was read (its condition fails when it moved on or ended meanwhile)."""
    condition, names, values = _same_journey(journey)
    return _expiring({
        "TableName": table, "Key": to_item({"household_id": journey.household_id}),
        "UpdateExpression": ("SET #status = :ended, end_reason = :why, ended_at = :at, ended_by = :by "
                             "REMOVE due_shard, #state"),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names | {"#state": "state"},
        "ExpressionAttributeValues": values | {k: to_value(v) for k, v in {
            ":ended": "ended", ":why": reason, ":at": at.isoformat(), ":by": RECONCILED}.items()},
    }, at, retention_days)


def restart_journey_put(table: str, replaced: Journey, journey: Journey, reason: str,
                        started_at: datetime) -> dict[str, Any]:
    """The Put that replaces the journey that was read by the household's next one (a new journey_id); the
    item keeps what became of the one before. Its condition fails when another restart came first."""
    condition, names, values = _same_journey(replaced)
    item = new_journey_item(journey, started_at) | {
        "previous_journey_id": replaced.journey_id, "previous_target_group": replaced.target_group,
        "previous_end_reason": reason if replaced.status == "live" else replaced.end_reason,
    }
    return {"TableName": table, "Item": to_item(item), "ConditionExpression": condition,
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


def follow_update(table: str, journey: Journey, *, offer_id: str | None, due_at: datetime | None,
                  new_cycle_start: bool, marketable_from: date | datetime) -> dict[str, Any]:
    """The live journey that was read follows the household's facts: its offer, when its waiting step is due,
    the marketable_from it is scheduled for. Its condition fails when the journey moved since it was read."""
    condition, names, values = _same_journey(journey)
    sets = {"marketable_from": marketable_from.isoformat()}
    if offer_id:
        sets["offer_id"] = offer_id
    if due_at is not None:
        sets |= {"due_at": utc_key(due_at), "due_shard": due_shard(journey.household_id)}
        if new_cycle_start:
            sets["cycle_started_at"] = due_at.isoformat()
    return {
        "TableName": table, "Key": to_item({"household_id": journey.household_id}),
        "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in sets),
        "ConditionExpression": f"{condition} AND #cycle = :cycle AND #step = :step AND due_at = :due "
                               "AND #state = :seen_state",
        "ExpressionAttributeNames": names | {f"#{k}": k for k in sets} | {
            "#cycle": "cycle", "#step": "step", "#state": "state"},
        "ExpressionAttributeValues": values | {f":{k}": to_value(v) for k, v in sets.items()} | {
            ":cycle": to_value(journey.cycle), ":step": to_value(journey.step),
            ":due": to_value(utc_key(journey.due_at)), ":seen_state": to_value(journey.state)},
    }


def end_live_journey(table: str, household_id: str, reason: str, at: datetime,
                     retention_days: int | None = None) -> bool:
    """End the household's live journey because its facts changed (it may start again when they change back);
    False when none is live."""
    from botocore.exceptions import ClientError

    try:
        client("dynamodb").update_item(**_expiring({
            "TableName": table,
            "Key": to_item({"household_id": household_id}),
            "UpdateExpression": ("SET #status = :ended, end_reason = :why, ended_at = :at, ended_by = :by "
                                 "REMOVE due_shard, #state"),
            "ConditionExpression": "#status = :live",
            "ExpressionAttributeNames": {"#status": "status", "#state": "state"},
            "ExpressionAttributeValues": {k: to_value(v) for k, v in {
                ":ended": "ended", ":why": reason, ":at": at.isoformat(), ":by": RECONCILED, ":live": "live"}.items()},
        }, at, retention_days))
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True

