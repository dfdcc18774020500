"""Reconciling a household segmented again with the journey it has: keep, re-schedule, re-offer, end, restart."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from shared.domain.reconcile import JourneyState, Wanted, reconcile

TZ = ZoneInfo("Europe/Zurich")
NOW = datetime(2026, 6, 8, 9, tzinfo=TZ)


def start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TZ)


JOURNEY = JourneyState(status="live", target_group="upgrade", customer_id="C-1", offer_id="fibre-10g-upgrade",
                       cycle=1, step=1, state="ready", due_at=start(date(2026, 6, 20)),
                       marketable_from=date(2026, 6, 20))
WANTED = Wanted(target_group="upgrade", customer_id="C-1", offer_id="fibre-10g-upgrade", offer_reason="",
                marketable_from=date(2026, 6, 20), marketable_start=start(date(2026, 6, 20)), now=NOW)


def wanted(**changes: object) -> Wanted:
    if "marketable_from" in changes:
        changes["marketable_start"] = start(changes["marketable_from"])  # type: ignore[arg-type]
    return replace(WANTED, **changes)  # type: ignore[arg-type]


def test_given_no_journey_when_eligible_then_it_starts() -> None:
    assert reconcile(None, WANTED).action == "start"


def test_given_no_journey_and_a_pre_order_then_no_journey_and_a_skipped_decision_says_why() -> None:
    plan = reconcile(None, wanted(blocker="ordered (2026-06-01T10:00:00+02:00): no contact after an order"))
    assert (plan.action, plan.decision) == ("skip", "skipped") and "ordered" in plan.reason


def test_given_a_live_journey_and_an_objection_to_all_then_it_ends_with_that_reason() -> None:
    plan = reconcile(JOURNEY, wanted(blocker="objection to all channels"))
    assert (plan.action, plan.decision, plan.reason) == ("end", "skipped", "objection to all channels")


def test_given_no_journey_and_no_offer_then_not_eligible() -> None:
    plan = reconcile(None, wanted(offer_id=None, offer_reason="no offer needs at most the 300 Mbit/s available"))
    assert (plan.action, plan.decision) == ("not_eligible", "not_eligible") and plan.reason.startswith("no offer")


def test_given_a_live_journey_and_no_offer_any_more_then_it_ends_not_eligible() -> None:
    plan = reconcile(JOURNEY, wanted(offer_id=None, offer_reason="no offer valid on 2026-07-01"))
    assert (plan.action, plan.decision) == ("end", "not_eligible") and "2026-07-01" in plan.reason


def test_given_the_same_segment_and_facts_then_the_journey_is_kept() -> None:
    assert reconcile(JOURNEY, WANTED).action == "keep"


def test_given_marketable_from_brought_forward_before_any_contact_then_due_earlier_but_never_before_now() -> None:
    plan = reconcile(JOURNEY, wanted(marketable_from=date(2026, 6, 10)))
    assert (plan.action, plan.due_at, plan.new_cycle_start) == ("update", start(date(2026, 6, 10)), True)
    plan = reconcile(JOURNEY, wanted(marketable_from=date(2026, 6, 1)))
    assert plan.due_at == NOW


def test_given_marketable_from_brought_forward_after_the_first_contact_then_the_timetable_stays() -> None:
    plan = reconcile(replace(JOURNEY, step=2), wanted(marketable_from=date(2026, 6, 10)))
    assert plan.action == "update" and plan.due_at is None  # only the recorded marketable_from follows


def test_given_marketable_from_moved_later_then_the_waiting_step_waits_for_it() -> None:
    plan = reconcile(JOURNEY, wanted(marketable_from=date(2026, 7, 1)))
    assert (plan.action, plan.due_at) == ("update", start(date(2026, 7, 1)))
    mid = replace(JOURNEY, step=2, due_at=start(date(2026, 6, 27)))
    assert reconcile(mid, wanted(marketable_from=date(2026, 7, 1))).due_at == start(date(2026, 7, 1))


def test_given_a_step_already_requested_then_its_time_is_left_to_the_gate() -> None:
    plan = reconcile(replace(JOURNEY, state="requested"), wanted(marketable_from=date(2026, 7, 1)))
    assert plan.due_at is None


def test_given_a_deferred_first_step_and_the_same_marketable_from_then_it_is_not_pulled_forward() -> None:
    deferred = replace(JOURNEY, due_at=start(date(2026, 7, 1)))
    assert reconcile(deferred, WANTED).action == "keep"


def test_given_a_better_offer_then_the_journey_carries_it() -> None:
    plan = reconcile(JOURNEY, wanted(offer_id="fibre-1g-upgrade"))
    assert (plan.action, plan.offer_id) == ("update", "fibre-1g-upgrade") and "offer changed" in plan.reason


def test_given_a_prospect_that_gained_a_customer_then_the_old_journey_ends_and_a_new_one_starts() -> None:
    prospect = replace(JOURNEY, target_group="prospect", customer_id=None, offer_id="fibre-1g-welcome")
    plan = reconcile(prospect, WANTED)
    assert (plan.action, plan.decision, plan.reason) == ("restart", "skipped", "re-segmented: prospect → upgrade")


def test_given_another_lead_customer_then_the_journey_restarts() -> None:
    plan = reconcile(JOURNEY, wanted(customer_id="C-2"))
    assert plan.action == "restart" and "another lead customer" in plan.reason


def test_given_a_journey_ended_by_the_household_then_nothing_starts_again() -> None:
    ended = replace(JOURNEY, status="ended")
    assert reconcile(ended, WANTED).action == "keep"
    assert reconcile(ended, wanted(target_group="switch")).action == "keep"


def test_given_a_journey_ended_as_not_eligible_when_eligible_again_then_a_new_one_starts() -> None:
    ended = replace(JOURNEY, status="ended", reopenable=True)
    assert reconcile(ended, WANTED).action == "restart"


def test_given_a_completed_journey_then_only_a_new_segment_starts_a_new_dialogue() -> None:
    done = replace(JOURNEY, status="completed", target_group="prospect", customer_id=None)
    assert reconcile(done, WANTED).action == "restart"
    assert reconcile(replace(JOURNEY, status="completed"), WANTED).action == "keep"


def test_given_marketable_from_as_instants_then_it_is_compared_as_instants_with_a_stored_date() -> None:
    """Given a journey scheduled for the date 2026-06-20 (00:00 Zurich),
    When the feed now says the instant 2026-06-12T13:00+02:00 (earlier), or 2026-06-20T00:00+02:00 (the same),
    Then the first step comes forward to that instant, or the journey is kept."""
    earlier = datetime(2026, 6, 12, 13, tzinfo=TZ)
    plan = reconcile(JOURNEY, replace(WANTED, marketable_from=earlier, marketable_start=earlier))
    assert (plan.action, plan.due_at) == ("update", earlier)
    same = start(date(2026, 6, 20))
    assert reconcile(JOURNEY, replace(WANTED, marketable_from=same, marketable_start=same)).action == "keep"
