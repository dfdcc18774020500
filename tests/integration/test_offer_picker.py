"""Offer picker against moto: HouseholdSegmented -> the household's one journey (JourneyStarted),
first step due at max(now, marketable_from 00:00 Europe/Zurich), or a not_eligible decision."""

from __future__ import annotations

from datetime import date

from functions.offer_picker.handler import handler
from shared.stores.records import journey_id, utc_key
from tests.integration import helpers as h


def _segmented(household_id: str, *, group: str = "upgrade", customer_id: str | None = "C-1",
               current: int | None = 100, max_down: int = 10000, marketable_from: date = date(2026, 6, 10)) -> dict:
    return {"version": "1", "correlation_id": household_id, "household_id": household_id, "target_group": group,
            "customer_id": customer_id, "current_down_mbps": current, "control_group": False,
            "marketable_from": marketable_from.isoformat(), "max_down_mbps": max_down, "canton": "ZH",
            "commune": "Zürich", "language": "de"}


def test_journey_starts_at_marketable_from_midnight_zurich_when_that_is_later(stack) -> None:
    # Given a segmented upgrade household that may be marketed from Wednesday 10 June
    tap = h.BusTap(stack)
    now = h.local(h.MONDAY, 9)
    # When the offer picker handles it on Monday 8 June
    h.no_failures(h.invoke(handler, h.sqs_event("HouseholdSegmented", _segmented("H-1"), now)))
    # Then one live journey waits with the best upgrade offer, due at 10 June 00:00 local (22:00Z the day before)
    j = h.journey("H-1")
    assert j is not None
    assert (j["status"], j["cycle"], j["step"], j["target_group"], j["customer_id"]) == ("live", 1, 1, "upgrade",
                                                                                          "C-1")
    assert j["offer_id"] == "fibre-10g-upgrade"
    assert j["due_at"] == "2026-06-09T22:00:00Z"
    assert j["journey_id"] == journey_id(h.CAMPAIGN_ID, "H-1")
    [started] = tap.events("JourneyStarted")
    assert started["detail"]["journey_id"] == j["journey_id"]
    assert started["detail"]["first_due_at"].startswith("2026-06-10T00:00:00")


def test_journey_starts_now_when_already_marketable(stack) -> None:
    now = h.local(h.MONDAY, 9, 30)
    h.no_failures(h.invoke(handler, h.sqs_event(
        "HouseholdSegmented", _segmented("H-2", marketable_from=date(2026, 6, 1)), now)))
    assert h.journey("H-2")["due_at"] == utc_key(now)


def test_the_same_event_twice_still_gives_one_journey(stack) -> None:
    # Given a redelivered event: the household is segmented twice with the same facts, the second time later
    tap = h.BusTap(stack)
    first = h.local(h.MONDAY, 9)
    h.no_failures(h.invoke(handler, h.sqs_event("HouseholdSegmented", _segmented("H-3"), first)))
    h.no_failures(h.invoke(handler, h.sqs_event("HouseholdSegmented", _segmented("H-3"), first + h.hours(30))))
    # Then the household keeps its first journey, announced once
    journeys = [j for j in h.scan(h.cfg().journeys_table) if j["household_id"] == "H-3"]
    assert len(journeys) == 1
    assert journeys[0]["offer_id"] == "fibre-10g-upgrade" and journeys[0]["due_at"] == "2026-06-09T22:00:00Z"
    assert len(tap.events("JourneyStarted")) == 1
    assert h.decisions("H-3") == []


def test_no_eligible_offer_is_a_not_eligible_decision(stack) -> None:
    # Given an upgrade household where only 300 Mbit/s are available (every upgrade offer needs >= 500)
    tap = h.BusTap(stack)
    now = h.local(h.MONDAY, 9)
    h.no_failures(h.invoke(handler, h.sqs_event("HouseholdSegmented", _segmented("H-4", max_down=300), now)))
    # Then there is no journey, nothing published, and the reason is recorded
    assert h.journey("H-4") is None
    assert tap.events() == []
    [decision] = h.decisions("H-4")
    assert decision["decision"] == "not_eligible" and decision["reason"].startswith("no offer")
    assert decision["customer_id"] == "C-1"


def test_prospect_gets_the_best_welcome_offer_and_no_customer(stack) -> None:
    h.no_failures(h.invoke(handler, h.sqs_event("HouseholdSegmented", _segmented(
        "H-5", group="prospect", customer_id=None, current=None, max_down=1000), h.local(h.MONDAY, 9))))
    j = h.journey("H-5")
    assert j["offer_id"] == "fibre-1g-welcome" and j.get("customer_id") is None
