"""Journey tick: every due step of every live journey becomes a ContactRequested for its channel."""

from __future__ import annotations

from datetime import datetime

from shared.bus import Outgoing, Publisher
from shared.campaign import Campaign
from shared.events import ContactRequested
from shared.settings import Settings
from shared.stores.journeys import RECHECK_AFTER, due_journeys, mark_requested


def tick(s: Settings, campaign: Campaign, now: datetime, publisher: Publisher) -> tuple[int, datetime | None]:
    """Request every due step; returns how many, and when the next step falls due."""
    requests: list[Outgoing] = []
    due, upcoming = due_journeys(s.journeys_table, now)
    for journey in due:
        steps = campaign.config.journeys[journey.target_group].steps  # type: ignore[index]
        if journey.step > len(steps) or not mark_requested(s.journeys_table, journey, now):
            continue
        requests.append(Outgoing(ContactRequested(
            correlation_id=journey.household_id,
            household_id=journey.household_id,
            journey_id=journey.journey_id,
            customer_id=journey.customer_id,
            target_group=journey.target_group,  # type: ignore[arg-type]
            channel=steps[journey.step - 1].channel,
            cycle=journey.cycle,
            step=journey.step,
            offer_id=journey.offer_id,
            due_at=journey.due_at,
        ), now))
    publisher.publish(requests)
    if requests:
        recheck = now + RECHECK_AFTER  # a requested step is looked at again then, in case its request was lost
        upcoming = min(upcoming, recheck) if upcoming else recheck
    return len(requests), upcoming
