"""Segmenter against moto: HouseholdConnected -> target group on the household, HouseholdSegmented
on the bus (to the offer picker's queue), or a recorded decision why not."""

from __future__ import annotations

import itertools

import pytest

from functions.segmenter.handler import handler
from shared.domain.segment import in_control_group
from tests.integration import helpers as h

NOW = h.local(h.MONDAY, 9)


def _not_in_control(prefix: str) -> str:
    return next(f"{prefix}-{i}" for i in itertools.count() if not in_control_group(h.CAMPAIGN_ID, f"{prefix}-{i}", 5))


def _connected(household_id: str, max_down_mbps: int = 10000, canton: str = "ZH", commune: str = "Zürich") -> dict:
    return {"version": "1", "correlation_id": household_id, "household_id": household_id,
            "connected_at": "2026-06-01T10:00:00+02:00", "marketable_from": "2026-06-10",
            "max_down_mbps": max_down_mbps, "canton": canton, "commune": commune}


def _segment(household_id: str, **kwargs: object) -> None:
    h.no_failures(h.invoke(handler, h.sqs_event("HouseholdConnected", _connected(household_id, **kwargs), NOW)))


@pytest.mark.parametrize(("customers", "group", "lead"), [
    ([{"customer_id": "C-1", "has_internet": True, "internet_down_mbps": 100, "has_mobile": False}], "upgrade", "C-1"),
    ([{"customer_id": "C-1", "has_internet": False, "internet_down_mbps": None, "has_mobile": True}], "switch", "C-1"),
    ([], "prospect", None),
    ([{"customer_id": "C-1", "has_internet": False, "internet_down_mbps": None, "has_mobile": False}], "prospect",
     None),
], ids=["internet-upgrade", "mobile-only-switch", "nobody-prospect", "former-prospect"])
def test_residents_decide_the_target_group(stack, customers: list[dict], group: str, lead: str | None) -> None:
    # Given a connected household (outside the control group) and who lives there
    household_id = _not_in_control("H-seg")
    h.seed_household(household_id, language=None)
    for customer in customers:
        h.seed_customer(household_id, customer.pop("customer_id"), **customer)
    tap = h.BusTap(stack)
    # When HouseholdConnected reaches the segmenter
    _segment(household_id)
    # Then the household carries its target group and one HouseholdSegmented goes to the offer picker
    assert h.household(household_id)["target_group"] == group
    segmented = [e["detail"] for e in tap.events("HouseholdSegmented")]
    assert len(segmented) == 1
    assert (segmented[0]["household_id"], segmented[0]["target_group"], segmented[0]["customer_id"]) == (
        household_id, group, lead)
    assert segmented[0]["control_group"] is False and segmented[0]["marketable_from"] == "2026-06-10"
    assert len(h.queue_bodies(stack, "OfferPickerQueue")) == 1
    assert h.decisions(household_id) == []


def test_internet_customer_who_already_has_the_best_speed_is_not_eligible(stack) -> None:
    household_id = _not_in_control("H-fast")
    h.seed_household(household_id)
    h.seed_customer(household_id, "C-9", has_internet=True, internet_down_mbps=1000)
    tap = h.BusTap(stack)
    _segment(household_id, max_down_mbps=1000)
    assert tap.events("HouseholdSegmented") == []
    [decision] = h.decisions(household_id)
    assert decision["decision"] == "not_eligible" and decision["customer_id"] == "C-9"
    assert "1000" in decision["reason"]
    assert decision["at"] == NOW.isoformat()
    assert h.household(household_id)["target_group"] == "none"


def test_control_group_household_is_held_out_and_recorded(stack) -> None:
    # Given a household that hashes into the 5 % control group, with an internet customer
    household_id = next(f"H-ctl-{i}" for i in itertools.count() if in_control_group(h.CAMPAIGN_ID, f"H-ctl-{i}", 5))
    h.seed_household(household_id)
    h.seed_customer(household_id, "C-1", has_internet=True, internet_down_mbps=100)
    tap = h.BusTap(stack)
    # When it is segmented
    _segment(household_id)
    # Then it is measured (group and control flag on the household) but no journey is asked for
    hh = h.household(household_id)
    assert hh["target_group"] == "upgrade" and hh["control_group"] is True
    assert tap.events("HouseholdSegmented") == []
    assert h.queue_bodies(stack, "OfferPickerQueue") == []
    [decision] = h.decisions(household_id)
    assert decision["decision"] == "control_group"


def test_language_falls_back_to_the_canton_for_prospects(stack) -> None:
    household_id = _not_in_control("H-vd")
    h.seed_household(household_id, canton="VD", language=None)
    tap = h.BusTap(stack)
    _segment(household_id, canton="VD")
    [segmented] = tap.events("HouseholdSegmented")
    assert segmented["detail"]["language"] == "fr"
    assert h.household(household_id)["language"] == "fr"


@pytest.mark.parametrize(("canton", "commune", "language"), [
    ("VS", "Visp", "de"), ("BE", "Biel/Bienne", "de"), ("FR", "Murten/Morat", "de"), ("GR", "Poschiavo", "it"),
    ("BE", "Saint-Imier", "fr"),
])
def test_language_comes_from_the_commune_in_a_multilingual_canton(stack, canton: str, commune: str,
                                                                 language: str) -> None:
    # Given a prospect household (no known language) in a commune whose language is not its canton's main one
    household_id = _not_in_control(f"H-{canton}")
    h.seed_household(household_id, canton=canton, language=None)
    tap = h.BusTap(stack)
    # When it is segmented
    _segment(household_id, canton=canton, commune=commune)
    # Then its letters go out in the commune's language
    [segmented] = tap.events("HouseholdSegmented")
    assert segmented["detail"]["language"] == language
    assert h.household(household_id)["language"] == language
