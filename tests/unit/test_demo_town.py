"""Unit tests of infra.demo_town: determinism, validity against shared.inputs, realism of the mix."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.demo_town import TownFiles, make_town
from shared.inputs import CustomerRow, FeedRow, Rejected, ResponseRow, open_rows


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> TownFiles:
    return make_town(tmp_path_factory.mktemp("town"))


def parse(path: Path, model: type[Any], source: str) -> tuple[list[Any], list[Rejected]]:
    good: list[Any] = []
    bad: list[Rejected] = []
    for item in open_rows(path, model, source):
        if isinstance(item, Rejected):
            bad.append(item)
        else:
            good.append(item[1])
    return good, bad


@pytest.fixture(scope="module")
def parsed(town: TownFiles) -> dict[str, tuple[list[Any], list[Rejected]]]:
    return {
        "customers": parse(town.customers, CustomerRow, "customers"),
        "feed": parse(town.rollout, FeedRow, "feed"),
        "responses": parse(town.responses, ResponseRow, "responses"),
    }


def test_deterministic_per_seed(tmp_path: Path) -> None:
    first = make_town(tmp_path / "a", seed=11)
    again = make_town(tmp_path / "b", seed=11)
    make_town(tmp_path / "c", seed=12)
    for name in ("customers.csv", "rollout.csv", "responses.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
    assert first.bad_lines == again.bad_lines


def test_exactly_the_bad_rows_are_rejected(town: TownFiles, parsed: dict[str, Any]) -> None:
    for source, (good, bad) in parsed.items():
        assert tuple(r.line for r in bad) == town.bad_lines[source], [r.reason for r in bad]
        assert len(bad) >= 4
        assert (
            len(good) + len(bad)
            == {
                "customers": town.customer_rows,
                "feed": town.feed_rows,
                "responses": town.response_rows,
            }[source]
        )


def test_bad_rows_show_the_kinds_of_problems(parsed: dict[str, Any]) -> None:
    reasons = " | ".join(r.reason for _, bad in parsed.values() for r in bad)
    for expected in (
        "postcode: expected 4 digits",
        "connected_at: expected an ISO 8601 time with offset or Z, not a local time",
        "canton: expected a Swiss canton code",
        "no_ads_sticker: expected true or false",
        "street: must not start with =",
        "street: must not contain control characters",
        "email: expected a valid e-mail address",
        "last_name: must not start with =",
        "language: expected de, fr, it or en",
        "customer_id: duplicate of line",
        "at: expected an ISO 8601 time",
        "type: expected order",
        "outcome: expected ordered",
    ):
        assert expected in reasons


def test_households_and_houses(town: TownFiles, parsed: dict[str, Any]) -> None:
    feed: list[FeedRow] = parsed["feed"][0]
    households = {row.household_id: row for row in feed}
    assert len(households) == town.households == 300
    assert len(feed) > len(households)  # a few rows are re-sent
    houses = Counter((row.commune, row.street, row.house_number) for row in households.values())
    assert max(houses.values()) >= 5  # apartment blocks
    assert sum(1 for count in houses.values() if count == 1) >= 20  # and houses
    assert {row.canton for row in feed} >= {"ZH", "AG", "BE", "VD", "NE", "TI"}
    assert {row.max_down_mbps for row in feed} == {500, 1000, 10000}
    assert 0.1 < sum(row.no_ads_sticker for row in households.values()) / len(households) < 0.3


def test_connections_in_bursts_in_the_first_third(parsed: dict[str, Any]) -> None:
    feed: list[FeedRow] = parsed["feed"][0]
    start = date(2026, 3, 2)
    days_per_commune: dict[str, set[date]] = defaultdict(set)
    offsets = set()
    for row in feed:
        local_day = row.connected_at.date()
        assert start <= local_day < start + timedelta(days=40)
        assert local_day.weekday() < 5
        assert timedelta(days=3) <= row.marketable_from - local_day <= timedelta(days=21)
        days_per_commune[row.commune].add(local_day)
        offsets.add(row.connected_at.utcoffset())
    assert len(days_per_commune) == 7
    assert all(len(days) <= 5 for days in days_per_commune.values())
    assert offsets == {timedelta(0), timedelta(hours=1), timedelta(hours=2)}


def test_all_target_group_situations(parsed: dict[str, Any]) -> None:
    feed_ids = {row.household_id for row in parsed["feed"][0]}
    customers: list[CustomerRow] = parsed["customers"][0]
    by_household: dict[str, list[CustomerRow]] = defaultdict(list)
    for customer in customers:
        assert customer.household_id in feed_ids
        by_household[customer.household_id].append(customer)
    internet = {h for h, cs in by_household.items() if any(c.has_internet for c in cs)}
    mobile_only = {h for h, cs in by_household.items() if h not in internet and any(c.has_mobile for c in cs)}
    former_only = {h for h, cs in by_household.items() if all(c.is_former_customer for c in cs)}
    prospects = feed_ids - internet - mobile_only
    assert 0.25 < len(internet) / len(feed_ids) < 0.45  # upgrade
    assert 0.12 < len(mobile_only) / len(feed_ids) < 0.30  # switch
    assert 0.30 < len(prospects) / len(feed_ids) < 0.60  # prospect
    assert former_only
    assert any(len(cs) > 1 for cs in by_household.values())
    speeds = [c.internet_down_mbps for c in customers if c.internet_down_mbps is not None]
    assert any(speed >= 1000 for speed in speeds)
    assert sum(speed < 1000 for speed in speeds) > 0.8 * len(speeds)


def test_customers_are_varied(parsed: dict[str, Any]) -> None:
    customers: list[CustomerRow] = parsed["customers"][0]
    assert {c.language for c in customers} == {"de", "fr", "it", "en"}
    assert {c.phone_listing for c in customers} == {"listed", "starred", "unlisted"}
    assert any(c.email is None for c in customers) and any(c.email for c in customers)
    assert any(c.mobile is None for c in customers) and any(c.mobile for c in customers)
    assert any(c.mobile and not c.mobile.startswith("+41") for c in customers) or len(customers) < 300
    for flag in ("email_consent", "sms_consent"):
        values = Counter(getattr(c, flag) for c in customers)
        assert values[True] > values[False] > 0  # mostly true, not all
    assert {c.call_consent for c in customers} == {True, False}
    assert any(c.do_not_call for c in customers)
    assert any(c.do_not_mail for c in customers)


def test_responses(town: TownFiles, parsed: dict[str, Any]) -> None:
    responses: list[ResponseRow] = parsed["responses"][0]
    times = [r.at for r in responses]
    assert times == sorted(times)
    start = date(2026, 3, 2)
    assert all(start <= r.at.date() < start + timedelta(days=120) for r in responses)
    assert {r.type for r in responses} == {
        "order", "opt_out", "email_bounce", "email_complaint", "sms_stop", "call_outcome"
    }  # fmt: skip
    assert {r.outcome for r in responses if r.type == "call_outcome"} == {
        "ordered", "declined", "not_reached", "do_not_call"
    }  # fmt: skip
    assert "all" in {r.channel for r in responses if r.type == "opt_out"}
    assert any(r.type == "order" and r.customer_id is None for r in responses)
    assert any(r.type == "order" and r.customer_id is not None for r in responses)
    marketable = {row.household_id: row.marketable_from for row in parsed["feed"][0]}
    for order in (r for r in responses if r.type == "order"):
        assert order.at.date() >= marketable[order.household_id] + timedelta(days=7)


def test_small_and_shifted_towns(tmp_path: Path) -> None:
    tiny = make_town(tmp_path / "tiny", households=5, days=10, seed=1, start=date(2026, 11, 2))
    for path, model, source in (
        (tiny.customers, CustomerRow, "customers"),
        (tiny.rollout, FeedRow, "feed"),
        (tiny.responses, ResponseRow, "responses"),
    ):
        _, bad = parse(path, model, source)
        assert tuple(r.line for r in bad) == tiny.bad_lines[source]
    feed = parse(tiny.rollout, FeedRow, "feed")[0]
    assert {row.household_id for row in feed} == {f"HH-{n:06d}" for n in range(1, 6)}
    assert all(row.connected_at.date() >= date(2026, 11, 2) for row in feed)
    with pytest.raises(ValueError):
        make_town(tmp_path / "none", households=0)


def test_bigger_town_keeps_about_one_percent_bad(tmp_path: Path) -> None:
    big = make_town(tmp_path / "big", households=2000, days=120, seed=3)
    assert 0.005 < len(big.bad_lines["feed"]) / big.feed_rows < 0.015
    _, bad = parse(big.rollout, FeedRow, "feed")
    assert tuple(r.line for r in bad) == big.bad_lines["feed"]
