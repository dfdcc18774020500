"""The monthly budget's arithmetic: exact micro-francs, the split over shards, the order a household draws
on them, how a cost is taken, and which month pays."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.budget import (
    Share,
    chf_text,
    micro_chf,
    month_of,
    next_month_start,
    plan_shares,
    shard_limits,
    shard_order,
)

TZ = ZoneInfo("Europe/Zurich")


def test_francs_become_exact_micro_francs_costs_round_up_budgets_down() -> None:
    assert micro_chf(0.002, round_up=True) == 2_000  # email: a fifth of a centime, exactly
    assert micro_chf(6.50, round_up=True) == 6_500_000
    assert micro_chf(0.1, round_up=False) == 100_000  # no binary-float drift (0.1 * 1e6 = 100000.00000000001)
    assert micro_chf(0.0000001, round_up=True) == 1 and micro_chf(0.0000001, round_up=False) == 0
    assert chf_text(100_000) == "0.10" and chf_text(2_000) == "0.002" and chf_text(50_000_000_000) == "50000.00"


@given(st.integers(min_value=0, max_value=10**14), st.integers(min_value=1, max_value=64))
def test_shard_limits_sum_exactly_to_the_month_and_differ_by_at_most_one(monthly: int, shards: int) -> None:
    limits = shard_limits(monthly, shards)
    assert len(limits) == shards
    assert sum(limits) == monthly
    assert max(limits) - min(limits) <= 1


def test_default_budget_splits_evenly_over_sixteen_shards() -> None:
    assert shard_limits(micro_chf(50000, round_up=False), 16) == [3_125_000_000] * 16
    assert shard_limits(100_000, 16) == [6_250] * 16
    assert shard_limits(10, 4) == [3, 3, 2, 2]


@given(st.text(min_size=1, max_size=20), st.integers(min_value=1, max_value=64))
def test_a_household_visits_every_shard_once_home_first_and_always_the_same_way(household: str, shards: int) -> None:
    order = shard_order(household, shards)
    assert sorted(order) == list(range(shards))
    assert order == shard_order(household, shards)
    assert order[1:] == [(order[0] + i) % shards for i in range(1, shards)]


def test_households_spread_over_the_shards() -> None:
    homes = [shard_order(f"H-{n:04d}", 16)[0] for n in range(1600)]
    counts = [homes.count(s) for s in range(16)]
    assert min(counts) > 60 and max(counts) < 140  # about 100 each: no shard is the hot one


def test_the_whole_cost_comes_from_the_first_shard_in_order_that_holds_it() -> None:
    assert plan_shares({0: 50, 1: 500, 2: 500}, [0, 1, 2], 100) == [(1, 100)]
    assert plan_shares({0: 500, 1: 500}, [1, 0], 100) == [(1, 100)]


def test_a_cost_no_single_shard_holds_is_taken_in_parts_so_nothing_is_stranded() -> None:
    assert plan_shares({0: 60, 1: 30, 2: 30}, [2, 0, 1], 100) == [(2, 30), (0, 60), (1, 10)]


def test_when_all_shards_together_cannot_pay_the_month_is_short() -> None:
    assert plan_shares({0: 60, 1: 30, 2: -5}, [0, 1, 2], 100) is None  # a negative shard (budget cut) gives nothing
    assert plan_shares({0: 0}, [0], 0) == []  # a free contact needs no reservation


@given(st.dictionaries(st.integers(0, 15), st.integers(-100, 1000), min_size=1), st.integers(1, 3000))
def test_a_plan_takes_exactly_the_cost_and_never_more_than_a_shard_holds(remaining: dict[int, int], cost: int) -> None:
    order = sorted(remaining)
    shares: list[Share] | None = plan_shares(remaining, order, cost)
    if shares is None:
        assert sum(max(0, r) for r in remaining.values()) < cost
        return
    assert sum(a for _, a in shares) == cost
    assert all(0 < a <= remaining[s] for s, a in shares)
    assert len({s for s, _ in shares}) == len(shares)


def test_the_paying_month_is_the_calendar_month_in_the_campaign_time_zone() -> None:
    # 31 March 23:30 UTC is already 1 April in Zurich (CEST, +02:00)
    assert month_of(datetime(2026, 3, 31, 23, 30, tzinfo=UTC), TZ) == "2026-04"
    assert month_of(datetime(2026, 3, 31, 21, 59, tzinfo=UTC), TZ) == "2026-03"


def test_next_month_starts_at_local_midnight_on_the_first_also_across_the_year() -> None:
    assert next_month_start(datetime(2026, 3, 15, 12, tzinfo=TZ), TZ) == datetime(2026, 4, 1, tzinfo=TZ)
    assert next_month_start(datetime(2026, 12, 31, 23, 59, tzinfo=TZ), TZ) == datetime(2027, 1, 1, tzinfo=TZ)
    assert next_month_start(datetime(2026, 3, 1, tzinfo=TZ), TZ).utcoffset().total_seconds() == 7200  # type: ignore[union-attr]
