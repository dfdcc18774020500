"""A household segmented again (a re-sent feed row, new residents) against the journey it already has:
keep it, re-schedule it, change its offer, end it, or end it and start the dialogue of its new segment.

Pure: the journey's state and what the household should have now in, the plan out. The offer picker
carries the plan out with conditional writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

Action = Literal["start", "skip", "not_eligible", "keep", "update", "restart", "end"]


@dataclass(frozen=True)
class JourneyState:
    """What reconciling needs of the household's journey item."""

    status: str  # live | completed | ended
    target_group: str
    customer_id: str | None
    offer_id: str
    cycle: int
    step: int
    state: str  # ready (waiting in the due index) | requested
    due_at: datetime
    marketable_from: date | datetime | None  # the one it was scheduled for (None: not recorded)
    reopenable: bool = False  # ended by a reconciliation (not eligible, re-segmented), not by the household


@dataclass(frozen=True)
class Wanted:
    """What the household should get now: its segment, the best eligible offer, and when it may start."""

    target_group: str
    customer_id: str | None
    offer_id: str | None
    offer_reason: str  # why no offer, when offer_id is None
    marketable_from: date | datetime  # a date, or an instant
    marketable_start: datetime  # its first instant (a date: 00:00 in the campaign's time zone)
    now: datetime
    blocker: str | None = None  # an order or an objection to everything: no journey at all

    @property
    def first_due(self) -> datetime:
        return max(self.now, self.marketable_start)


@dataclass(frozen=True)
class Plan:
    action: Action
    reason: str
    decision: Literal["skipped", "not_eligible"] | None = None  # the decision to record, if any
    offer_id: str | None = None  # update: the new offer
    due_at: datetime | None = None  # update: when the waiting step is due now
    new_cycle_start: bool = False  # update: nothing went out yet, the first cycle starts at due_at


def reconcile(journey: JourneyState | None, wanted: Wanted) -> Plan:
    live = journey is not None and journey.status == "live"
    if wanted.blocker:
        if live:
            return Plan("end", wanted.blocker, decision="skipped")
        if journey is None:
            return Plan("skip", f"no journey: {wanted.blocker}", decision="skipped")
        return Plan("keep", f"journey {journey.status}")
    if wanted.offer_id is None:
        reason = f"no offer: {wanted.offer_reason}"
        if live:
            return Plan("end", reason, decision="not_eligible")
        return Plan("not_eligible", reason, decision="not_eligible") if journey is None else Plan(
            "keep", f"journey {journey.status}")
    if journey is None:
        return Plan("start", "first journey")
    moved = _segment_change(journey, wanted)
    if not live:
        if journey.reopenable or (journey.status == "completed" and moved):
            return Plan("restart", moved or "eligible again")
        return Plan("keep", f"journey {journey.status}")
    if moved:
        return Plan("restart", moved, decision="skipped")
    return _follow(journey, wanted)


def _segment_change(journey: JourneyState, wanted: Wanted) -> str | None:
    if journey.target_group != wanted.target_group:
        return f"re-segmented: {journey.target_group} → {wanted.target_group}"
    if journey.customer_id != wanted.customer_id:
        return f"re-segmented: {wanted.target_group} with another lead customer"
    return None


def _follow(journey: JourneyState, wanted: Wanted) -> Plan:
    """The same dialogue goes on; its offer and its waiting step follow the household's facts."""
    reasons: list[str] = []
    offer_id = wanted.offer_id if wanted.offer_id != journey.offer_id else None
    if offer_id:
        reasons.append(f"offer changed: {journey.offer_id} → {offer_id}")
    due_at, first = _due(journey, wanted)
    if due_at is not None:
        reasons.append(f"marketable_from {wanted.marketable_from.isoformat()}: due at {due_at.isoformat()}")
    if not reasons and _instant(journey.marketable_from, wanted) == wanted.marketable_start:
        return Plan("keep", "unchanged")
    return Plan("update", "; ".join(reasons) or f"marketable_from {wanted.marketable_from.isoformat()}",
                offer_id=offer_id, due_at=due_at, new_cycle_start=first)


def _due(journey: JourneyState, wanted: Wanted) -> tuple[datetime | None, bool]:
    """A waiting step never goes before the household is marketable; the first one comes sooner when
    marketable_from came forward and nothing went out yet. A step already requested is the gate's to judge."""
    if journey.state != "ready":
        return None, False
    first = (journey.cycle, journey.step) == (1, 1)
    if wanted.marketable_start > journey.due_at:
        return wanted.marketable_start, first
    scheduled_for = _instant(journey.marketable_from, wanted)
    came_forward = scheduled_for is not None and wanted.marketable_start < scheduled_for
    if first and came_forward and wanted.first_due < journey.due_at:
        return wanted.first_due, True
    return None, False


def _instant(value: date | datetime | None, wanted: Wanted) -> datetime | None:
    """A marketable_from as an instant: a date opens at 00:00 where the campaign's own start was computed."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), tzinfo=wanted.marketable_start.tzinfo)
