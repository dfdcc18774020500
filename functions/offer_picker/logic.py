"""Offer picker: the best eligible offer for a segmented household, and its journey started or reconciled.

A household is segmented again when its feed row is re-sent or its residents change: its journey then
follows (`shared.domain.reconcile`): kept, re-scheduled, re-offered, ended, or ended and replaced by the
dialogue of its new segment (a new journey id, the next generation). A pre-order or an objection to every
channel stops the journey from starting. Every write is conditional on the journey that was read, so a
redelivered event, or two events racing, never start a journey twice.

The journeys and suppression items of a whole batch are read at once (`read_ahead`, strongly consistent);
a record that finds nothing read ahead reads its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.aws import client
from shared.batching import Outbox, current_outbox
from shared.bus import Outgoing
from shared.campaign import Campaign
from shared.domain.journey import first_position, marketable_start
from shared.domain.reconcile import JourneyState, Plan, Wanted, reconcile
from shared.events import HOUSEHOLD_SEGMENTED, HouseholdSegmented, JourneyStarted
from shared.handler import Envelope
from shared.offers import Household, choose_offer
from shared.settings import Settings, settings
from shared.stores.dynamo import from_item, to_item
from shared.stores.journeys import (
    RECONCILED,
    Journey,
    follow_update,
    reconcile_end_update,
    restart_journey_put,
    start_journey_put,
)
from shared.stores.ledger import plain_put
from shared.stores.records import OFFER_DECISION_SK, decision_sk, expires_at, journey_id
from shared.stores.suppression import household_subject, journey_blocker

JOURNEY = "journey"
SUPPRESSION = "suppression"


def pick_and_start(s: Settings, campaign: Campaign, event: HouseholdSegmented, now: datetime,
                   outbox: Outbox) -> Journey | None:
    """The household's journey as it should be now, written with the rest of the batch; None when it has none.

    Nothing is written when it already is as it should be (a redelivered event): its journey is kept."""
    position = first_position(event.marketable_from, now, campaign.tz)
    choice = choose_offer(
        campaign.offers,
        Household(event.target_group, event.max_down_mbps, event.current_down_mbps, event.canton, event.commune),
        position.due_at.astimezone(campaign.tz).date(),
    )
    journey, suppression = _read(s, outbox, event.household_id)
    wanted = Wanted(target_group=event.target_group, customer_id=event.customer_id,
                    offer_id=choice.offer.offer_id if choice.offer else None, offer_reason=choice.reason,
                    marketable_from=event.marketable_from,
                    marketable_start=marketable_start(event.marketable_from, campaign.tz), now=now,
                    blocker=journey_blocker(suppression))
    plan = reconcile(_state(journey) if journey else None, wanted)
    result = _carry_out(s, campaign, event, now, outbox, journey, wanted, plan)
    outbox.memo[(JOURNEY, event.household_id)] = result if result is not None else journey
    return result if result is not None and result.status == "live" else None


def _carry_out(s: Settings, campaign: Campaign, event: HouseholdSegmented, now: datetime, outbox: Outbox,
               journey: Journey | None, wanted: Wanted, plan: Plan) -> Journey | None:
    """The plan's writes and events; the journey as they leave it (None: as it was)."""
    table = s.journeys_table
    key = f"journeys#{event.household_id}"
    if plan.action == "not_eligible":
        _decide(s, campaign, outbox, event.household_id, event.customer_id, now, "not_eligible", plan.reason,
                OFFER_DECISION_SK)
        return None
    if plan.action == "skip":
        _decide(s, campaign, outbox, event.household_id, event.customer_id, now, "skipped", plan.reason)
        return None
    if plan.action == "keep" or (journey is None and plan.action != "start"):
        return None
    if plan.action == "end" and journey is not None:
        outbox.write(key, "Update", reconcile_end_update(table, journey, plan.reason, now,
                                                                  campaign.config.retention_days))
        _decide(s, campaign, outbox, event.household_id, journey.customer_id, now, plan.decision or "skipped",
                f"journey ended: {plan.reason}")
        return _ended(journey, plan.reason)
    if plan.action == "update" and journey is not None:
        outbox.write(key, "Update", follow_update(table, journey, offer_id=plan.offer_id, due_at=plan.due_at,
                                                  new_cycle_start=plan.new_cycle_start,
                                                  marketable_from=event.marketable_from))
        return _followed(journey, event, plan)
    return _start(s, campaign, event, now, outbox, journey, wanted, plan)


def _start(s: Settings, campaign: Campaign, event: HouseholdSegmented, now: datetime, outbox: Outbox,
           journey: Journey | None, wanted: Wanted, plan: Plan) -> Journey:
    """The household's first journey, or the next one in place of the journey that was read (a restart)."""
    key = f"journeys#{event.household_id}"
    new = _new_journey(campaign, event, wanted, generation=journey.generation + 1 if journey else 1)
    if journey is None:
        outbox.write(key, "Put", start_journey_put(s.journeys_table, new, now))
    else:
        outbox.write(key, "Put", restart_journey_put(s.journeys_table, journey, new, plan.reason, now))
        if plan.decision:
            _decide(s, campaign, outbox, event.household_id, journey.customer_id, now, plan.decision,
                    f"journey ended: {plan.reason}")
    outbox.publish([Outgoing(JourneyStarted(
        correlation_id=event.correlation_id, household_id=event.household_id, journey_id=new.journey_id,
        target_group=event.target_group, offer_id=new.offer_id, first_due_at=new.due_at,
    ), now)])
    return new


def _new_journey(campaign: Campaign, event: HouseholdSegmented, wanted: Wanted, generation: int) -> Journey:
    due = wanted.first_due
    return Journey(
        household_id=event.household_id,
        journey_id=journey_id(campaign.config.campaign_id, event.household_id, generation),
        status="live", target_group=event.target_group, offer_id=wanted.offer_id or "",
        customer_id=event.customer_id, cycle=1, step=1, cycle_started_at=due, due_at=due, state="ready",
        generation=generation, marketable_from=event.marketable_from,
    )


def _ended(journey: Journey, reason: str) -> Journey:
    from dataclasses import replace

    return replace(journey, status="ended", end_reason=reason, ended_by=RECONCILED)


def _followed(journey: Journey, event: HouseholdSegmented, plan: Plan) -> Journey:
    from dataclasses import replace

    due = plan.due_at or journey.due_at
    started = plan.due_at if plan.due_at is not None and plan.new_cycle_start else journey.cycle_started_at
    return replace(journey, offer_id=plan.offer_id or journey.offer_id, due_at=due, cycle_started_at=started,
                   marketable_from=event.marketable_from)


def _state(journey: Journey) -> JourneyState:
    return JourneyState(status=journey.status, target_group=journey.target_group, customer_id=journey.customer_id,
                        offer_id=journey.offer_id, cycle=journey.cycle, step=journey.step, state=journey.state,
                        due_at=journey.due_at, marketable_from=journey.marketable_from,
                        reopenable=journey.ended_by == RECONCILED)


def _decide(s: Settings, campaign: Campaign, outbox: Outbox, household_id: str, customer_id: str | None,
            now: datetime, decision: str, reason: str, sk: str | None = None) -> None:
    # Keyed by the event's time and content: a redelivery writes the same decision again, not a second one.
    sk = sk or decision_sk(now, f"{household_id}:offer:{decision}:{reason}")
    outbox.write(f"contacts#{household_id}#{sk}", "Put", plain_put(s.contacts_table, {
        "household_id": household_id, "sk": sk, "customer_id": customer_id, "channel": None,
        "at": now.astimezone(campaign.tz).isoformat(), "decision": decision, "reason": reason,
        "expires_at": expires_at(now, campaign.config.retention_days),
    }))


# ------------------------------------------------------------------ reading
def _read(s: Settings, outbox: Outbox, household_id: str) -> tuple[Journey | None, dict[str, Any] | None]:
    memo = outbox.memo
    if (JOURNEY, household_id) not in memo or (SUPPRESSION, household_id) not in memo:
        _read_into(s, memo, [household_id])
    return memo[(JOURNEY, household_id)], memo[(SUPPRESSION, household_id)]


def read_ahead(envelopes: Sequence[Envelope]) -> None:
    """The handler's `prepare`: the batch's journeys and suppression items in one strongly consistent read."""
    outbox = current_outbox()
    if outbox is None:
        return
    households = sorted({str(e.detail["household_id"]) for e in envelopes
                         if e.detail_type == HOUSEHOLD_SEGMENTED and "household_id" in e.detail})
    if households:
        _read_into(settings(), outbox.memo, households)


def _read_into(s: Settings, memo: dict[Any, Any], household_ids: list[str]) -> None:
    """BatchGetItem (50 households a request: their journey and their suppression item), ConsistentRead."""
    ddb = client("dynamodb")
    for start in range(0, len(household_ids), 50):
        chunk = household_ids[start:start + 50]
        for household_id in chunk:
            memo[(JOURNEY, household_id)] = None
            memo[(SUPPRESSION, household_id)] = None
        request: dict[str, Any] = {
            s.journeys_table: {"Keys": [to_item({"household_id": h}) for h in chunk], "ConsistentRead": True},
            s.suppression_table: {"Keys": [to_item({"subject": household_subject(h)}) for h in chunk],
                                  "ConsistentRead": True},
        }
        while request:
            response = ddb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(s.journeys_table, []):
                journey = Journey.from_item(from_item(item))
                memo[(JOURNEY, journey.household_id)] = journey
            for item in response.get("Responses", {}).get(s.suppression_table, []):
                plain = from_item(item)
                memo[(SUPPRESSION, plain["subject"].removeprefix("household#"))] = plain
            request = response.get("UnprocessedKeys") or {}
