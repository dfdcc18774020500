"""Call attempts: a call not reached is tried again on a later day, within the attempt limits."""

from __future__ import annotations

from datetime import datetime

from shared.campaign import Campaign
from shared.events import ContactRequested, ResponseReceived
from shared.settings import Settings
from shared.stores.dynamo import to_item
from shared.stores.ledger import TransactionCancelled, claim_put, transact
from shared.stores.records import contact_id, contact_sk, expires_at


def book_next_attempt(s: Settings, campaign: Campaign, response: ResponseReceived) -> str:
    from functions.call_list_exporter.logic import PENDING, request_id
    from functions.responses.logic import latest_contacts, within

    calls = [c for c in latest_contacts(s, response.household_id)
             if c.get("channel") == "call" and c.get("status") == "sent"]
    if not calls:
        return "call outcome for no listed call"
    last = max(calls, key=lambda c: (c["cycle"], c["step"], c["attempt"]))
    first = min((c for c in calls if (c["cycle"], c["step"]) == (last["cycle"], last["step"])),
                key=lambda c: c["attempt"])
    limits = campaign.config.calls
    if last["attempt"] >= limits.max_attempts:
        return "no attempt left"
    if not within(datetime.fromisoformat(first["at"]), response.at, limits.attempt_window_days):
        return "attempt window over"
    attempt = int(last["attempt"]) + 1
    sk = contact_sk(last["journey_id"], int(last["cycle"]), int(last["step"]), attempt)
    req = ContactRequested(
        correlation_id=response.household_id, household_id=response.household_id, journey_id=last["journey_id"],
        customer_id=last.get("customer_id"), target_group=last["target_group"], channel="call",
        cycle=int(last["cycle"]), step=int(last["step"]), offer_id=last["offer_id"], due_at=response.at,
        attempt=attempt,
    )
    claim = {k: v for k, v in last.items() if k not in ("provider_message_id", "batch_id")}
    claim |= {"sk": sk, "contact_id": contact_id(response.household_id, sk), "attempt": attempt, "status": "queued",
              "at": response.at.astimezone(campaign.tz).isoformat()}
    queued = {
        "queue": PENDING, "request_id": request_id(response.at, response.household_id, sk),
        "household_id": response.household_id, "contact_sk": sk, "detail": req.model_dump_json(),
        "expected_value_chf": campaign.offer(req.offer_id).expected_value_chf,
        "requested_at": response.at.isoformat(), "expires_at": expires_at(response.at, campaign.config.retention_days),
    }
    try:
        transact([("Put", claim_put(s.contacts_table, claim)),
                  ("Put", {"TableName": s.calls_table, "Item": to_item(queued)})])
    except TransactionCancelled:
        return "attempt already booked"
    release_unreached_call(s, response.household_id, datetime.fromisoformat(last["at"]))
    return f"attempt {attempt} booked"


def release_unreached_call(s: Settings, household_id: str, listed_at: datetime) -> None:
    """A call that reached nobody put no pressure on anyone: its place in the cap goes back, so the
    next attempt can follow within the attempt window (windows, Sundays and holidays still hold)."""
    from shared.aws import client
    from shared.stores.dynamo import from_item
    from shared.stores.ledger import Pressure, pressure_update
    from shared.stores.records import PRESSURE_SK

    for _ in range(5):
        item = client("dynamodb").get_item(
            TableName=s.contacts_table, Key=to_item({"household_id": household_id, "sk": PRESSURE_SK}),
            ConsistentRead=True).get("Item")
        pressure = Pressure.from_item(household_id, from_item(item) if item else None)
        history = list(pressure.history)
        if ("call", listed_at) not in history:
            return
        history.remove(("call", listed_at))
        try:
            transact([("Update", pressure_update(s.contacts_table, pressure, history))])
            return
        except TransactionCancelled:
            continue  # another contact changed the pressure item meanwhile: read it again
