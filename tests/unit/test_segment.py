"""Segmenting: who lives at a connected household decides the dialogue it gets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.segment import Resident, in_control_group, segment_household


def resident(cid: str, internet: bool = False, mobile: bool = False, mbps: int | None = None) -> Resident:
    return Resident(customer_id=cid, has_internet=internet, has_mobile=mobile, internet_down_mbps=mbps, language="fr")


def test_an_internet_customer_is_shown_the_new_speeds() -> None:
    segment = segment_household([resident("C2", mobile=True), resident("C1", internet=True, mbps=100)], 1000)
    assert (segment.target_group, segment.customer_id, segment.current_down_mbps) == ("upgrade", "C1", 100)


def test_a_mobile_only_customer_gets_the_switch_offer() -> None:
    segment = segment_household([resident("C7", mobile=True)], 1000)
    assert (segment.target_group, segment.customer_id) == ("switch", "C7")


def test_no_customer_or_only_former_customers_make_a_prospect() -> None:
    assert segment_household([], 1000).target_group == "prospect"
    former = segment_household([resident("C3")], 1000)
    assert (former.target_group, former.customer_id, former.reason) == ("prospect", None, "former customer only")


def test_an_internet_customer_already_at_the_best_speed_is_not_eligible() -> None:
    segment = segment_household([resident("C1", internet=True, mbps=1000)], 1000)
    assert segment.target_group is None
    assert "1000 Mbit/s" in segment.reason


def test_the_fastest_internet_customer_leads_the_household() -> None:
    segment = segment_household([resident("C1", internet=True, mbps=50), resident("C2", internet=True, mbps=300)],
                                10000)
    assert segment.customer_id == "C2"


@given(st.text(min_size=1, max_size=20), st.floats(min_value=0, max_value=100))
def test_the_control_group_is_deterministic(household_id: str, percent: float) -> None:
    assert in_control_group("c", household_id, percent) == in_control_group("c", household_id, percent)


def test_the_control_group_holds_about_the_configured_share() -> None:
    ids = [f"HH-{i:06d}" for i in range(20_000)]
    share = sum(in_control_group("fibre-rollout", h, 5) for h in ids) / len(ids)
    assert 0.045 < share < 0.055
    assert not any(in_control_group("fibre-rollout", h, 0) for h in ids[:1000])
    assert all(in_control_group("fibre-rollout", h, 100) for h in ids[:1000])
