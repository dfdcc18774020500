"""Journey tick against moto: the scheduled tick turns due steps of live journeys into
ContactRequested for the step's channel (routed to that channel's queue) and says when it is next needed."""

from __future__ import annotations

from datetime import datetime

from functions.journey.handler import handler
from shared.domain.segment import in_control_group
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


def test_from_feed_drop_to_first_email_through_the_local_runtime(runtime, stack) -> None:
    # Given a CRM extract and a feed row dropped on Monday morning (already marketable)
    from tests.integration.test_ingest import CRM_HEADER, FEED_HEADER

    household_id = "H-rt-1"
    feed = FEED_HEADER + (f"{household_id},Bahnhofstrasse,1,8001,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,"
                          "2026-06-01,10000,false\n")
    crm = CRM_HEADER + (f"C-1,{household_id},Anna,Muster,de,anna@example.ch,079 123 45 67,listed,true,100,true,"
                        "true,true,true,false,false\n")
    start = h.local(h.MONDAY, 7, 30)
    runtime.start_clock(start)
    runtime.drop(h.cfg().feed_bucket, "crm/extract.csv", crm.encode(), start)
    runtime.drain()
    runtime.drop(h.cfg().feed_bucket, "feed/rollout.csv", feed.encode(), start + h.hours(0.25))
    runtime.drain()
    # When the clock runs to 10:00 (hourly journey ticks)
    runtime.fire_due(h.local(h.MONDAY, 10))
    # Then the household is an upgrade journey at step 2 and its first email has left exactly once
    assert runtime.errors == []
    assert not in_control_group(h.CAMPAIGN_ID, household_id, 5)
    j = h.journey(household_id)
    assert j is not None
    assert (j["target_group"], j["step"]) == ("upgrade", 2)
    [sent] = h.ses_sent()
    assert "anna@example.ch" in sent.destinations
    [contact] = h.claims(household_id)
    assert contact["status"] == "sent" and datetime.fromisoformat(contact["at"]) == h.local(h.MONDAY, 8)
    assert set(runtime.dlq_depths().values()) == {0}
