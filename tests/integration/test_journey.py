"""Journey tick against moto: the scheduled tick turns due steps of live journeys into
ContactRequested for the step's channel (routed to that channel's queue) and says when it is next needed."""

from __future__ import annotations

from datetime import datetime

from functions.journey.handler import handler
from shared.stores.records import utc_key
from tests.integration import helpers as h


def test_due_journey_is_requested_on_its_channel_and_marked(stack) -> None:
    # Given a live switch journey at step 2 (email), due at 09:00, and an upgrade journey due at 09:30
    started = h.local(h.MONDAY, 9)
    h.seed_household("H-1")
    h.seed_journey("H-1", target_group="switch", offer_id="fibre-10g-switch-combo", customer_id="C-1",
                   due_at=started, step=2, cycle_started_at=started - h.hours(48))
    h.seed_household("H-2")
    h.seed_journey("H-2", target_group="upgrade", offer_id="fibre-10g-upgrade", customer_id="C-2",
                   due_at=h.local(h.MONDAY, 9, 30))
    tap = h.BusTap(stack)
    now = h.local(h.MONDAY, 9, 0)
    # When the tick fires at 09:00
    result = h.invoke(handler, h.scheduled("tick", now))
    # Then exactly the due step is requested, on the channel of step 2 of the switch journey (email)
    assert result["task"] == "tick" and result["result"]["requested"] == 1
    [requested] = tap.events("ContactRequested")
    detail = requested["detail"]
    assert (detail["household_id"], detail["channel"], detail["cycle"], detail["step"]) == ("H-1", "email", 1, 2)
    assert (detail["customer_id"], detail["offer_id"], detail["target_group"]) == ("C-1", "fibre-10g-switch-combo",
                                                                                   "switch")
    assert requested["time"] == h.iso_z(now)
    assert [b["detail"]["household_id"] for b in h.queue_bodies(stack, "EmailQueue")] == ["H-1"]
    assert h.queue_bodies(stack, "SmsQueue") == [] and h.queue_bodies(stack, "PrintQueue") == []
    # ... the journey is marked requested and put back for a re-check, the other one untouched
    j1, j2 = h.journey("H-1"), h.journey("H-2")
    assert j1["state"] == "requested" and datetime.fromisoformat(j1["requested_at"]) == now
    assert j1["due_at"] > utc_key(now)
    assert j2["state"] == "ready" and j2["due_at"] == utc_key(h.local(h.MONDAY, 9, 30))
    # ... and the tick tells the scheduler when it is next needed: the 09:30 step
    assert datetime.fromisoformat(result["result"]["idle_until"]) == h.local(h.MONDAY, 9, 30)


def test_a_second_tick_does_not_request_the_same_step_again(stack) -> None:
    now = h.local(h.MONDAY, 9)
    h.seed_household("H-1")
    h.seed_journey("H-1", target_group="upgrade", offer_id="fibre-10g-upgrade", customer_id="C-1", due_at=now)
    tap = h.BusTap(stack)
    h.invoke(handler, h.scheduled("tick", now))
    second = h.invoke(handler, h.scheduled("tick", now + h.hours(1)))
    assert second["result"]["requested"] == 0
    assert len(tap.events("ContactRequested")) == 1


def test_not_yet_due_journey_requests_nothing_and_reports_idle_until(stack) -> None:
    # Given the only journey is due tomorrow at 00:00 local
    due = h.local(h.MONDAY.replace(day=9), 0)
    h.seed_household("H-1")
    h.seed_journey("H-1", target_group="prospect", offer_id="fibre-1g-welcome", customer_id=None, due_at=due)
    tap = h.BusTap(stack)
    # When the tick fires today
    result = h.invoke(handler, h.scheduled("tick", h.local(h.MONDAY, 12)))
    # Then nothing is requested, the journey is unchanged and idle_until is its due time
    assert result["result"]["requested"] == 0
    assert datetime.fromisoformat(result["result"]["idle_until"]) == due
    assert tap.events() == []
    assert h.journey("H-1")["state"] == "ready"


def test_no_journeys_at_all_idles_indefinitely(stack) -> None:
    result = h.invoke(handler, h.scheduled("tick", h.local(h.MONDAY, 12)))
    assert result["result"] == {"requested": 0, "idle_until": None}
