"""The plan's own parts, without AWS: what-if settings, response rates, the rules moved into shared/domain for it,
and what a smaller call centre or budget does to a plan of the demo town."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from infra.demo_town import make_town
from shared.config import ConfigError, UnitCostConfig
from shared.domain.call_list import has_place, list_made_on, listing_order, waited_too_long
from shared.domain.cost import unit_cost
from shared.domain.print_cut_off import next_cut_off
from shared.plan import PlanInputs, make_plan
from shared.plan.engine import tick_at_or_after
from shared.plan.html import render_plan_html
from shared.plan.rates import RatesError, load_rates
from shared.plan.table import render_plan
from shared.plan.whatif import config_with

ZURICH = ZoneInfo("Europe/Zurich")


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    files = make_town(tmp_path_factory.mktemp("town"), households=40, days=30, seed=7)
    return files.customers, files.rollout


@pytest.fixture(scope="module")
def bigger_town(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    files = make_town(tmp_path_factory.mktemp("town"), households=200, days=60, seed=3)
    return files.customers, files.rollout


def _plan(town: tuple[Path, Path], *sets: str, rates: Path | None = None) -> dict:  # type: ignore[type-arg]
    return make_plan(PlanInputs(town[0], town[1], config_with(None, list(sets)), rates=load_rates(rates),
                                sets=tuple(sets)))


# ---------------------------------------------------------------- what-if settings


def test_a_set_changes_one_key_and_keeps_the_rest() -> None:
    config = config_with(None, ["calls.per_day=300", "budget_chf.monthly=80000", "caps.per_channel.call.max=0"])
    assert (config.calls.per_day, config.budget_chf.monthly) == (300, 80000)
    assert config.calls.export_at == "06:00" and config.caps.per_channel["call"].days == 7
    assert config.caps.per_channel["email"].max == 1


def test_a_set_of_an_unknown_key_or_a_nonsense_value_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"calls\.per_days: unknown key"):
        config_with(None, ["calls.per_days=300"])
    with pytest.raises(ConfigError, match=r"calls\.per_day: -1: expected a number >= 0"):
        config_with(None, ["calls.per_day=-1"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        config_with(None, ["calls.per_day"])
    file = tmp_path / "config.yaml"
    file.write_text("calls: {per_day: 50}\n", encoding="utf-8")
    assert config_with(file, ["budget_chf.monthly=1"]).calls.per_day == 50


# ---------------------------------------------------------------- rates


def test_rates_from_yaml_and_from_a_report(tmp_path: Path) -> None:
    yaml_file = tmp_path / "rates.yaml"
    yaml_file.write_text("within_days: 10\nupgrade: {call: {order: 0.1, opt_out: 0.05}}\n", encoding="utf-8")
    rates = load_rates(yaml_file)
    assert rates.within_days == 10 and rates.reacting("upgrade", "call") == pytest.approx(0.15)
    assert rates.reacting("switch", "call") == 0
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"by_group_channel_cycle": [
        {"target_group": "upgrade", "channel": "email", "cycle": 1, "contacts": 40, "orders": 2},
        {"target_group": "upgrade", "channel": "email", "cycle": 2, "contacts": 10, "orders": 3}]}), encoding="utf-8")
    measured = load_rates(report)
    assert measured.outcomes("upgrade", "email") == {"order": pytest.approx(0.1)}
    assert measured.shares[("upgrade", "email", "order")].sample == 50
    yaml_file.write_text("upgrade: {fax: {order: 0.1}}\n", encoding="utf-8")
    with pytest.raises(RatesError, match=r"upgrade\.fax: unknown channel"):
        load_rates(yaml_file)
    yaml_file.write_text("upgrade: {call: {order: 1.5}}\n", encoding="utf-8")
    with pytest.raises(RatesError, match="between 0 and 1"):
        load_rates(yaml_file)


# ---------------------------------------------------------------- the rules the plan shares with the functions


def test_the_call_list_rules() -> None:
    assert not list_made_on(date(2026, 3, 8))  # a Sunday
    assert not list_made_on(date(2026, 12, 25)) and not list_made_on(date(2026, 8, 1))
    assert list_made_on(date(2026, 3, 7))  # a Saturday
    assert has_place(199, 200) and not has_place(200, 200) and not has_place(0, 0)
    older, newer = listing_order("2026-03-02T10:00:00+01:00", 10, "b"), listing_order("2026-03-03T09:00:00+01:00",
                                                                                         900, "a")
    better = listing_order("2026-03-02T11:00:00+01:00", 20, "c")
    assert sorted([newer, older, better]) == [better, older, newer]  # oldest day first, then expected value
    asked = datetime(2026, 3, 2, 10, tzinfo=ZURICH)
    assert not waited_too_long(asked, datetime(2026, 5, 16, 9, tzinfo=ZURICH), 75)
    assert waited_too_long(asked, datetime(2026, 5, 16, 10, tzinfo=ZURICH), 75)


def test_the_print_cut_off_and_the_unit_cost() -> None:
    clock = time(17, 0)
    friday_evening = datetime(2026, 3, 6, 18, tzinfo=ZURICH)
    assert next_cut_off(friday_evening, clock, ZURICH) == datetime(2026, 3, 9, 17, tzinfo=ZURICH)
    assert next_cut_off(datetime(2026, 3, 4, 17, tzinfo=ZURICH), clock, ZURICH).day == 4
    costs = UnitCostConfig()
    assert unit_cost(costs, "print", "personalised") == 1.10
    assert unit_cost(costs, "print", "partially_addressed") == 0.45
    assert unit_cost(costs, "call", None) == 6.50


def test_the_journey_tick_finds_a_step_at_the_hour_it_is_due_or_the_next() -> None:
    assert tick_at_or_after(datetime(2026, 3, 9, 0, 0, tzinfo=ZURICH)) == datetime(2026, 3, 9, 0, 0, tzinfo=ZURICH)
    assert tick_at_or_after(datetime(2026, 3, 9, 0, 0, 1, tzinfo=ZURICH)) == datetime(2026, 3, 9, 1, tzinfo=ZURICH)


# ---------------------------------------------------------------- plans of the demo town


def test_a_smaller_call_centre_builds_a_backlog(bigger_town: tuple[Path, Path]) -> None:
    usual, small = _plan(bigger_town), _plan(bigger_town, "calls.per_day=1")
    assert small["totals"]["peak_backlog"] >= 2 * usual["totals"]["peak_backlog"]  # waiting for caps, holidays
    busy = [d for d in small["days"] if d["calls_listed"]]
    assert busy and all(d["calls_listed"] <= 1 for d in small["days"])
    growing = [d["backlog"] for d in small["days"]]
    assert max(growing) >= 3 and max(d["oldest_waiting_days"] for d in small["days"]) >= 3
    assert sum(d["calls_listed"] for d in small["days"]) <= sum(d["calls_listed"] for d in usual["days"])


def test_a_smaller_budget_binds_in_a_month_and_defers_steps(town: tuple[Path, Path]) -> None:
    usual, small = _plan(town), _plan(town, "budget_chf.monthly=20")
    assert usual["totals"]["first_budget_month"] is None
    assert small["totals"]["first_budget_month"] == "2026-03"
    march = next(m for m in small["months"] if m["month"] == "2026-03")
    assert march["cost_chf"] <= 20 and march["deferred_by_budget"] > 0
    assert all(m["cost_chf"] <= m["budget_chf"] for m in small["months"])


def test_rates_make_orders_with_an_interval_and_fewer_contacts(town: tuple[Path, Path], tmp_path: Path) -> None:
    rates = tmp_path / "rates.yaml"
    rates.write_text("upgrade: {email: {order: 0.2}, call: {order: 0.3}}\nprospect: {print: {order: 0.1, "
                     "opt_out: 0.1}}\nswitch: {sms: {order: 0.2}}\n", encoding="utf-8")
    nobody, some = _plan(town), _plan(town, rates=rates)
    assert all(o["expected"] == 0 for o in nobody["orders"])
    orders = {o["target_group"]: o for o in some["orders"]}
    assert all(o["low"] <= o["expected"] <= o["high"] for o in orders.values())
    assert orders["upgrade"]["expected"] > 0 and orders["prospect"]["opt_outs"] > 0
    assert some["totals"]["contacts"] < nobody["totals"]["contacts"]  # who reacted is not contacted again


def test_the_plan_json_keys_summary_and_page(town: tuple[Path, Path]) -> None:
    plan = _plan(town, "calls.per_day=1")
    assert {"weeks", "days", "months", "communes", "orders"} <= set(plan)
    assert set(plan["weeks"][0]) >= {"week_start", "channel", "kind", "contacts", "cost_chf"}
    assert set(plan["days"][0]) >= {"day", "calls_due", "calls_listed", "backlog", "oldest_waiting_days"}
    assert set(plan["months"][0]) >= {"month", "cost_chf", "budget_chf", "deferred_by_budget"}
    commune = plan["communes"][0]
    assert set(commune) >= {"commune", "canton", "weeks", "poster_week"}
    assert set(commune["weeks"][0]) >= {"week_start", "connected", "marketable"}
    assert set(plan["orders"][0]) >= {"target_group", "expected", "low", "high"}
    assert sum(c["households"] for c in plan["communes"]) == plan["campaign"]["households"]
    text = render_plan(plan, _plan(town))
    assert "compare: without | with calls.per_day=1" in text and "poster week" in text
    page = render_plan_html(plan)
    assert page.count("<svg") == 5 and "http" not in page.replace("http://www.w3.org", "")


def test_the_generated_rollout_plan_reads_completely_and_plans(tmp_path: Path) -> None:
    from infra.plan_bench import write_rollout_plan
    from shared.inputs import CustomerRow, FeedRow, Rejected, open_rows

    customers, feed = write_rollout_plan(tmp_path, 300)
    assert not [r for r in open_rows(feed, FeedRow, "feed") if isinstance(r, Rejected)]
    assert not [r for r in open_rows(customers, CustomerRow, "customers") if isinstance(r, Rejected) and r.row_rejected]
    plan = make_plan(PlanInputs(customers, feed, config_with(None, [])))
    assert plan["campaign"]["households"] == 300 and plan["totals"]["contacts"] > 300
    assert {c["canton"] for c in plan["communes"]} >= {"ZH", "VD", "TI"}


def test_the_plan_command_refuses_what_it_cannot_use(tmp_path: Path, town: tuple[Path, Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from infra.cli import main

    base = ["plan", "--customers", str(town[0]), "--feed", str(town[1]), "--out", str(tmp_path)]
    assert main(["plan", "--customers", str(tmp_path / "nope.csv"), "--feed", str(town[1])]) == 2
    assert "nope.csv:0: file not found" in capsys.readouterr().err
    assert main([*base, "--set", "calls.per_days=3"]) == 2
    assert "calls.per_days: unknown key" in capsys.readouterr().err
    (tmp_path / "rates.yaml").write_text("upgrade: {email: {order: 2}}\n", encoding="utf-8")
    assert main([*base, "--rates", str(tmp_path / "rates.yaml")]) == 2
    assert main([*base, "--days", "30"]) == 0
    assert "contacts per ISO week" in capsys.readouterr().out
    assert (tmp_path / "plan.json").is_file() and (tmp_path / "plan.html").is_file()


def test_the_preview_flags_copy_left_in_english() -> None:
    from shared.offers import load_offers
    from shared.preview import build_preview

    offer = load_offers()[0]
    english = offer.copy_text["en"]
    untranslated = offer.model_copy(update={"copy_text": {**offer.copy_text, "it": english}})
    _, problems = build_preview((untranslated,), config_with(None, []))
    assert problems and all(" it " in p and "not translated" in p for p in problems)
