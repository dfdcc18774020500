"""The CRM extract plan: who is retired, who moved, which households are segmented again, and the guard."""

from __future__ import annotations

from shared.domain.crm import plan_extract

P = ("internet", 100)  # a profile: compared for equality only


def _base(n: int) -> dict[tuple[str, str], object]:
    return {(f"H-{i}", f"C-{i}"): P for i in range(n)}


def test_given_no_customers_yet_when_the_first_extract_comes_then_it_is_applied_whole() -> None:
    plan = plan_extract({}, _base(3), 20)
    assert not plan.held and plan.retire_percent == 0.0 and plan.before == 0 and plan.after == 3
    assert plan.retired == frozenset() and plan.resegment == {"H-0", "H-1", "H-2"}


def test_given_a_customer_missing_when_planned_then_retired_and_the_household_resegmented() -> None:
    old = _base(10)
    new = {k: v for k, v in old.items() if k != ("H-3", "C-3")}
    plan = plan_extract(old, new, 20)
    assert plan.retired == {("H-3", "C-3")} and plan.left == {"C-3"}
    assert plan.resegment == {"H-3"} and plan.retire_percent == 10.0 and not plan.held


def test_given_a_customer_who_moved_when_planned_then_the_old_item_goes_and_both_households_resegment() -> None:
    old = _base(5)
    new = {k: v for k, v in old.items() if k != ("H-1", "C-1")} | {("H-9", "C-1"): P}
    plan = plan_extract(old, new, 20)
    assert plan.retired == {("H-1", "C-1")} and plan.left == frozenset()
    assert plan.moved == {"C-1": ("H-1", "H-9")} and plan.resegment == {"H-1", "H-9"}
    assert plan.retire_percent == 0.0


def test_given_a_segment_relevant_change_when_planned_then_only_that_household_resegments() -> None:
    old = _base(4)
    new = dict(old) | {("H-2", "C-2"): ("mobile", None)}
    plan = plan_extract(old, new, 20)
    assert plan.resegment == {"H-2"} and plan.retired == frozenset()


def test_given_an_unchanged_extract_when_planned_then_nothing_happens() -> None:
    plan = plan_extract(_base(4), _base(4), 20)
    assert plan.resegment == frozenset() and plan.retired == frozenset() and not plan.held


def test_given_more_than_the_threshold_missing_when_planned_then_held_with_the_share_in_the_reason() -> None:
    old = _base(10)
    new = {k: v for k, v in old.items() if k[1] not in ("C-0", "C-1", "C-2")}
    plan = plan_extract(old, new, 20)
    assert plan.held and plan.retire_percent == 30.0
    assert "30.0 % of 10 customers" in plan.reason and "20 %" in plan.reason


def test_given_exactly_the_threshold_missing_when_planned_then_applied() -> None:
    old = _base(10)
    new = {k: v for k, v in old.items() if k[1] not in ("C-0", "C-1")}
    assert not plan_extract(old, new, 20).held


def test_given_a_released_extract_when_planned_then_never_held() -> None:
    plan = plan_extract(_base(10), {}, 20, force=True)
    assert not plan.held and plan.retire_percent == 100.0 and len(plan.retired) == 10
