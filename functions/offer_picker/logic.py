"""Offer picker: the best eligible offer for a segmented household, and the start of its journey."""

from __future__ import annotations

from datetime import datetime

from shared.batching import Outbox
from shared.bus import Outgoing
from shared.campaign import Campaign
from shared.domain.journey import first_position
from shared.events import HouseholdSegmented, JourneyStarted
from shared.offers import Household, choose_offer
from shared.settings import Settings
from shared.stores.journeys import Journey, start_journey_put
from shared.stores.ledger import plain_put
from shared.stores.records import OFFER_DECISION_SK, expires_at, journey_id


def pick_and_start(s: Settings, campaign: Campaign, event: HouseholdSegmented, now: datetime,
                   outbox: Outbox) -> Journey | None:
    """The journey to start, written with the rest of the batch; a household that already has one
    (a re-sent feed row) keeps it: the write's condition fails and JourneyStarted is not sent."""
    position = first_position(event.marketable_from, now, campaign.tz)
    choice = choose_offer(
        campaign.offers,
        Household(event.target_group, event.max_down_mbps, event.current_down_mbps, event.canton, event.commune),
        position.due_at.astimezone(campaign.tz).date(),
    )
    if choice.offer is None:
        outbox.write(f"contacts#{event.household_id}#{OFFER_DECISION_SK}", "Put", plain_put(s.contacts_table, {
            "household_id": event.household_id, "sk": OFFER_DECISION_SK, "customer_id": event.customer_id,
            "channel": None, "at": now.astimezone(campaign.tz).isoformat(), "decision": "not_eligible",
            "reason": f"no offer: {choice.reason}", "expires_at": expires_at(now, campaign.config.retention_days),
        }))
        return None
    journey = Journey(
        household_id=event.household_id,
        journey_id=journey_id(campaign.config.campaign_id, event.household_id),
        status="live",
        target_group=event.target_group,
        offer_id=choice.offer.offer_id,
        customer_id=event.customer_id,
        cycle=1,
        step=1,
        cycle_started_at=position.cycle_started_at,
        due_at=position.due_at,
        state="ready",
    )
    outbox.write(f"journeys#{event.household_id}", "Put", start_journey_put(s.journeys_table, journey, now))
    outbox.publish([Outgoing(JourneyStarted(
        correlation_id=event.correlation_id, household_id=event.household_id, journey_id=journey.journey_id,
        target_group=event.target_group, offer_id=journey.offer_id, first_due_at=journey.due_at,
    ), now)])
    return journey
