"""Journey tick: every due step of every live journey becomes a ContactRequested for its channel."""

from __future__ import annotations

from datetime import datetime

from shared.batching import Outbox
from shared.bus import Outgoing
from shared.campaign import Campaign
from shared.events import ContactRequested
from shared.handler import logger_for
from shared.settings import Settings
from shared.stores.journeys import RECHECK_AFTER, due_journeys, mark_requested_update


def tick(s: Settings, campaign: Campaign, now: datetime) -> tuple[int, datetime | None]:
    """Request every due step; returns how many, and when the next step falls due.

    Each due journey is marked `requested` (conditioned on it still being at that step) and its
    request published; the marks go out in transactions of up to 100, the requests by 10. A journey
    another tick or a channel moved meanwhile is left alone; one whose mark or request did not go
    through is due again at the next tick (mark lost) or at its re-check (request lost).
    """
    outbox = Outbox(s.event_bus_name)
    due, upcoming = due_journeys(s.journeys_table, now)
    for journey in due:
        steps = campaign.config.journeys[journey.target_group].steps  # type: ignore[index]
        if journey.step > len(steps):
            continue
        outbox.begin(journey.household_id)
        mark = mark_requested_update(s.journeys_table, journey, now)
        outbox.write(f"journeys#{journey.household_id}", "Update", mark)
        outbox.publish([Outgoing(ContactRequested(
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
        ), now)])
    result = outbox.flush()
    if result.failed:
        logger_for("journey").warning("steps not requested this tick", extra={"journeys": len(result.failed)})
    if result.published:
        recheck = now + RECHECK_AFTER  # a requested step is looked at again then, in case its request was lost
        upcoming = min(upcoming, recheck) if upcoming else recheck
    if result.failed:
        upcoming = now  # what failed is due again at once
    return result.published, upcoming
