"""Campaign report: exact figures, attribution, uplift CI, budget, poster weeks, the HTML page."""

from __future__ import annotations

import json
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from shared.report import (
    build_report,
    load_run,
    render_html,
    render_table,
    write_report,
)
from shared.report.figures import newcombe_interval, wilson_interval

CHART_IDS = (
    "chart-funnel",
    "chart-contacts-per-week",
    "chart-orders-by-channel",
    "chart-cost-per-order",
    "chart-spend-budget",
    "chart-uplift",
    "chart-communes",
)

RUN = {
    "campaign_id": "fibre-test",
    "start": "2025-03-01T00:00:00+01:00",
    "end": "2025-05-01T00:00:00+02:00",
    "seed": 7,
    "config": {"timezone": "Europe/Zurich", "budget_chf": {"monthly": 8}},
}


def _household(
    hid: str, commune: str, group: str | None, control: bool, **kw: Any
) -> dict[str, Any]:
    return {
        "household_id": hid,
        "commune": commune,
        "canton": "ZH",
        "postcode": "8134",
        "connected_at": kw.get("connected_at", "2025-02-20T10:00:00+01:00"),
        "marketable_from": kw["marketable_from"],
        "target_group": group,
        "control_group": control,
        "offer_id": None,
        "journey_status": kw.get("status", "live"),
        "end_reason": kw.get("end_reason"),
        "extra_key": "ignored",
    }


HOUSEHOLDS = [
    _household(
        "H1",
        "Adliswil",
        "upgrade",
        False,
        marketable_from="2025-03-03",
        status="ended",
        end_reason="ordered",
    ),
    _household(
        "H2",
        "Adliswil",
        "switch",
        False,
        marketable_from="2025-03-10",
        connected_at="2025-03-03T08:00:00+01:00",
    ),
    _household(
        "H3", "Bonstetten", "upgrade", True, marketable_from="2025-03-03", status="none"
    ),
    _household("H4", "Bonstetten", "prospect", False, marketable_from="2025-03-20"),
    _household(
        "H5", "Bonstetten", None, False, marketable_from="2025-04-01", status="none"
    ),
    _household("H6", "Bonstetten", "upgrade", False, marketable_from="2025-04-15"),
]


def _contact(
    n: int,
    hid: str,
    group: str,
    channel: str,
    at: str,
    cost: float,
    cycle: int = 1,
    step: int = 1,
    kind: str | None = None,
) -> dict[str, Any]:
    return {
        "contact_id": f"C{n}",
        "household_id": hid,
        "customer_id": None if kind == "partially_addressed" else f"K{hid}",
        "target_group": group,
        "channel": channel,
        "kind": kind,
        "journey_id": f"J{hid}",
        "cycle": cycle,
        "step": step,
        "offer_id": "O1",
        "at": at,
        "cost_chf": cost,
    }


CONTACTS = [
    _contact(1, "H1", "upgrade", "email", "2025-03-03T09:00:00+01:00", 0.002),
    _contact(
        2,
        "H1",
        "upgrade",
        "print",
        "2025-03-10T17:00:00+01:00",
        1.10,
        step=2,
        kind="personalised",
    ),
    _contact(3, "H1", "upgrade", "call", "2025-03-17T06:00:00+01:00", 6.50, step=3),
    _contact(4, "H2", "switch", "sms", "2025-03-04T10:00:00+01:00", 0.06),
    _contact(5, "H2", "switch", "email", "2025-03-06T09:00:00+01:00", 0.002, step=2),
    _contact(6, "H2", "switch", "call", "2025-04-02T06:00:00+02:00", 6.50, step=4),
    _contact(
        7,
        "H4",
        "prospect",
        "print",
        "2025-03-05T17:00:00+01:00",
        0.45,
        kind="partially_addressed",
    ),
    _contact(
        8,
        "H4",
        "prospect",
        "print",
        "2025-04-20T17:00:00+02:00",
        0.45,
        cycle=2,
        kind="partially_addressed",
    ),
    _contact(9, "H6", "upgrade", "email", "2025-03-03T09:30:00+01:00", 0.002),
]


def _response(
    hid: str, at: str, type_: str, outcome: str | None = None
) -> dict[str, Any]:
    return {
        "at": at,
        "household_id": hid,
        "customer_id": None,
        "type": type_,
        "channel": "call" if type_ == "call_outcome" else None,
        "outcome": outcome,
    }


RESPONSES = [
    _response("H1", "2025-03-20T12:00:00+01:00", "order"),  # second order: ignored
    _response("H1", "2025-03-12T08:00:00+01:00", "order"),  # after print, before call
    _response("H1", "2025-03-17T10:00:00+01:00", "call_outcome", "declined"),
    _response(
        "H2", "2025-04-02T11:00:00+02:00", "call_outcome", "ordered"
    ),  # after the call
    _response("H3", "2025-03-15T12:00:00+01:00", "order"),  # control group
    _response("H4", "2025-03-02T12:00:00+01:00", "order"),  # before any contact
    _response("H6", "2025-03-04T12:00:00+01:00", "opt_out"),
]

DECISIONS = [
    {
        "household_id": "H3",
        "customer_id": "KH3",
        "channel": None,
        "at": "2025-03-03T00:00:00+01:00",
        "decision": "control_group",
        "reason": "held_out",
    },
    {
        "household_id": "H5",
        "customer_id": None,
        "channel": None,
        "at": "2025-03-03T00:00:00+01:00",
        "decision": "not_eligible",
        "reason": "already_fibre",
    },
    {
        "household_id": "H2",
        "customer_id": "KH2",
        "channel": "sms",
        "at": "2025-03-05T10:00:00+01:00",
        "decision": "deferred",
        "reason": "cap_all_channels",
        "journey_id": "JH2",
        "cycle": 1,
        "step": 2,
    },
    {
        "household_id": "H6",
        "customer_id": "KH6",
        "channel": "print",
        "at": "2025-03-10T17:00:00+01:00",
        "decision": "skipped",
        "reason": "opt_out",
    },
]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    (tmp_path / "run.json").write_text(json.dumps(RUN), encoding="utf-8")
    _write_jsonl(tmp_path / "households.jsonl", HOUSEHOLDS)
    _write_jsonl(tmp_path / "contact-history.jsonl", CONTACTS)
    _write_jsonl(tmp_path / "responses.jsonl", RESPONSES)
    _write_jsonl(tmp_path / "decisions.jsonl", DECISIONS)
    return tmp_path


@pytest.fixture
def report(out_dir: Path) -> dict[str, Any]:
    return build_report(load_run(out_dir))


def _money(values: list[float]) -> float:
    return float(round(sum(Decimal(str(v)) for v in values), 2))


def test_totals_equal_sums_of_the_contact_rows(report: dict[str, Any]) -> None:
    totals = report["totals"]
    assert totals["contacts"] == len(CONTACTS) == 9
    assert totals["cost_chf"] == _money([c["cost_chf"] for c in CONTACTS]) == 15.07
    assert totals["households"] == 6
    assert totals["control_group"] == 1
    assert totals["treated"] == 4
    assert totals["not_eligible"] == 1
    assert totals["households_contacted"] == 4
    assert (
        sum(r["contacts"] for r in report["by_group_channel_cycle"])
        == totals["contacts"]
    )
    json.dumps(report)  # JSON-ready: no Decimal, date or datetime left


def test_contacts_and_costs_per_channel_match_the_rows(report: dict[str, Any]) -> None:
    by_channel = {r["channel"]: r for r in report["by_channel"]}
    for channel in ("email", "sms", "print", "call"):
        rows = [c for c in CONTACTS if c["channel"] == channel]
        assert by_channel[channel]["contacts"] == len(rows)
        assert by_channel[channel]["cost_chf"] == _money([c["cost_chf"] for c in rows])
    assert by_channel["call"]["cost_chf"] == 13.0
    assert by_channel["print"]["cost_chf"] == 2.0
    week_total = sum(w["total"] for w in report["contacts_per_week"])
    assert week_total == len(CONTACTS)
    assert (
        report["contacts_per_week"][0]["week_start"] == "2025-02-24"
    )  # Monday before 1 March
    assert all(w["week_start"] >= "2025-02-24" for w in report["contacts_per_week"])


def test_orders_are_attributed_to_the_last_contact_before_them(
    report: dict[str, Any],
) -> None:
    totals = report["totals"]
    assert totals["orders"] == 4  # H1 once, H2, H3, H4
    assert totals["orders_attributed"] == 2
    assert totals["orders_unattributed"] == 2
    assert report["orders_by_last_channel"] == {
        "email": 0,
        "sms": 0,
        "print": 1,
        "call": 1,
        "unattributed": 2,
    }
    cells = {
        (r["target_group"], r["channel"], r["cycle"]): r
        for r in report["by_group_channel_cycle"]
    }
    assert cells[("upgrade", "print", 1)]["orders"] == 1  # H1 ordered after the print
    assert cells[("upgrade", "call", 1)]["orders"] == 0
    assert cells[("switch", "call", 1)]["orders"] == 1  # call_outcome ordered
    assert cells[("upgrade", "print", 1)]["cost_per_order_chf"] == 1.10
    assert cells[("upgrade", "print", 1)]["conversion_rate"] == 1.0
    assert cells[("upgrade", "email", 1)]["households"] == 2
    assert cells[("upgrade", "email", 1)]["conversion_rate"] == 0.0
    assert cells[("upgrade", "email", 1)]["cost_per_order_chf"] is None
    assert cells[("prospect", "print", 2)]["contacts"] == 1
    assert sum(r["orders"] for r in cells.values()) == totals["orders_attributed"]
    assert totals["cost_per_order_chf"] == 7.53  # 15.066 / 2


def test_control_orders_count_in_control_and_stay_unattributed(
    report: dict[str, Any],
) -> None:
    totals = report["totals"]
    assert totals["orders_control"] == 1
    assert totals["orders_treated"] == 3  # H1, H2 and H4 (ordered before any contact)
    funnel = {r["target_group"]: r for r in report["funnel"]}
    assert funnel["upgrade"] == {
        "target_group": "upgrade",
        "entered": 3,
        "control_group": 1,
        "treated": 2,
        "contacted": 2,
        "ordered": 1,
    }
    assert (
        funnel["prospect"]["ordered"] == 0
    )  # H4's order came before its first contact
    assert funnel["switch"]["ordered"] == 1


def test_control_order_is_unattributed_even_after_a_contact(out_dir: Path) -> None:
    extra = _contact(10, "H3", "upgrade", "email", "2025-03-10T09:00:00+01:00", 0.002)
    _write_jsonl(out_dir / "contact-history.jsonl", [*CONTACTS, extra])
    report = build_report(load_run(out_dir))
    assert report["orders_by_last_channel"]["unattributed"] == 2
    assert report["totals"]["orders_control"] == 1


def test_newcombe_interval_matches_the_worked_example() -> None:
    low, high = newcombe_interval(56, 70, 48, 80)
    assert low == pytest.approx(0.0524, abs=5e-5)
    assert high == pytest.approx(0.3339, abs=5e-5)
    w_low, w_high = wilson_interval(56, 70)
    assert (w_low, w_high) == pytest.approx((0.6918, 0.8770), abs=5e-5)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=5e-5)


def test_uplift_figures(report: dict[str, Any]) -> None:
    uplift = report["uplift"]
    assert uplift["treated"]["households"] == 4
    assert uplift["treated"]["orders"] == 3
    assert uplift["treated"]["conversion_rate"] == 0.75
    assert uplift["control"] == pytest.approx(
        {
            "households": 1,
            "orders": 1,
            "conversion_rate": 1.0,
            "ci_low": wilson_interval(1, 1)[0],
            "ci_high": 1.0,
        },
        abs=1e-6,
    )
    assert uplift["uplift_pp"] == -25.0
    low, high = newcombe_interval(3, 4, 1, 1)
    assert uplift["ci_low_pp"] == pytest.approx(low * 100, abs=1e-4)
    assert uplift["ci_high_pp"] == pytest.approx(high * 100, abs=1e-4)
    assert uplift["significant"] is False
    by_group = {u["target_group"]: u for u in report["uplift_by_group"]}
    assert by_group["switch"]["uplift_pp"] is None  # no control household: null-safe
    assert by_group["switch"]["control"]["conversion_rate"] is None


def test_spend_per_month_and_budget(report: dict[str, Any]) -> None:
    months = {m["month"]: m for m in report["spend_by_month"]}
    assert list(months) == [
        "2025-03",
        "2025-04",
    ]  # the end instant (1 May 00:00) is exclusive
    assert months["2025-03"]["cost_chf"] == 8.12  # 15.066 - 6.50 - 0.45
    assert months["2025-03"]["within_budget"] is False
    assert months["2025-04"]["cost_chf"] == 6.95
    assert months["2025-04"]["within_budget"] is True
    assert months["2025-03"]["budget_chf"] == 8.0
    assert report["totals"]["budget_chf"] == 16.0
    assert report["totals"]["budget_monthly_chf"] == 8.0
    assert sum(m["contacts"] for m in months.values()) == 9


def test_month_follows_the_campaign_time_zone(out_dir: Path) -> None:
    late = _contact(
        10, "H6", "upgrade", "email", "2025-03-31T22:30:00+00:00", 0.002
    )  # 1 April
    _write_jsonl(out_dir / "contact-history.jsonl", [late])
    months = {
        m["month"]: m["contacts"]
        for m in build_report(load_run(out_dir))["spend_by_month"]
    }
    assert months == {"2025-03": 0, "2025-04": 1}


def test_poster_week_per_commune(report: dict[str, Any]) -> None:
    communes = {c["commune"]: c for c in report["communes"]}
    assert [c["commune"] for c in report["communes"]] == ["Bonstetten", "Adliswil"]
    adliswil, bonstetten = communes["Adliswil"], communes["Bonstetten"]
    assert adliswil["households"] == 2
    assert (
        adliswil["half_marketable_week"] == "2025-03-03"
    )  # H1 marketable on Monday 3 March
    assert adliswil["poster_week"] == "2025-02-24"
    assert bonstetten["households"] == 4
    assert (
        bonstetten["half_marketable_week"] == "2025-03-17"
    )  # 2 of 4 by Sunday 23 March
    assert bonstetten["poster_week"] == "2025-03-10"
    weeks = {w["week_start"]: w for w in bonstetten["weeks"]}
    assert weeks["2025-03-10"]["share_marketable"] == 0.25
    assert weeks["2025-03-17"]["share_marketable"] == 0.5
    assert weeks["2025-02-17"]["share_connected"] == 1.0
    assert weeks["2025-02-10"]["share_connected"] == 0.0
    assert adliswil["weeks"][-1]["share_connected"] == 1.0


def test_decisions_and_journeys(report: dict[str, Any]) -> None:
    decisions = report["decisions"]
    assert decisions["total"] == 4
    assert decisions["by_decision"] == {
        "control_group": 1,
        "deferred": 1,
        "not_eligible": 1,
        "skipped": 1,
    }
    assert {
        "decision": "deferred",
        "reason": "cap_all_channels",
        "count": 1,
    } in decisions["by_reason"]
    assert report["journeys"]["by_status"] == {"ended": 1, "live": 3, "none": 2}


def test_missing_files_are_tolerated(tmp_path: Path) -> None:
    (tmp_path / "contact-history.jsonl").write_text("", encoding="utf-8")
    report = write_report(tmp_path)
    totals = report["totals"]
    assert totals["contacts"] == 0
    assert totals["cost_chf"] == 0.0
    assert totals["orders"] == 0
    assert totals["budget_chf"] == 0.0
    assert totals["cost_per_order_chf"] is None
    assert report["uplift"]["uplift_pp"] is None
    assert report["communes"] == []
    assert (tmp_path / "report.json").is_file()
    _assert_page(render_html(report))
    assert "Campaign" in render_table(report)


def test_missing_cost_falls_back_to_unit_costs(out_dir: Path) -> None:
    rows = [{k: v for k, v in c.items() if k != "cost_chf"} for c in CONTACTS]
    _write_jsonl(out_dir / "contact-history.jsonl", rows)
    assert build_report(load_run(out_dir))["totals"]["cost_chf"] == 15.07


def test_a_broken_line_names_file_and_line(out_dir: Path) -> None:
    (out_dir / "responses.jsonl").write_text(
        '{"at": "2025-03-01T00:00:00+01:00"}\n{oops\n'
    )
    with pytest.raises(ValueError, match=r"responses.jsonl line 1"):
        load_run(out_dir)


VOID = frozenset(
    {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr"}
)


class _Checker(HTMLParser):
    """Records start/end tag balance, figure ids and the svgs inside each figure."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.svgs: dict[str, int] = {}
        self.figure: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "figure":
            self.figure = dict(attrs).get("id") or ""
            self.svgs[self.figure] = 0
        if tag == "svg" and self.figure is not None:
            self.svgs[self.figure] += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()
        if tag == "figure":
            self.figure = None


def _assert_page(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    for chart_id in CHART_IDS:
        assert checker.svgs.get(chart_id) == 1, chart_id
    lowered = page.lower()
    assert "<script" not in lowered
    assert "http://" not in lowered and "https://" not in lowered
    assert "<link" not in lowered and "@import" not in lowered and "url(" not in lowered
    assert '<meta charset="utf-8">' in page and "<title>" in page
    return checker


def test_html_is_one_self_contained_page(out_dir: Path) -> None:
    report = write_report(out_dir)
    page = (out_dir / "report.html").read_text(encoding="utf-8")
    assert page == render_html(report)
    _assert_page(page)
    assert page.count("<svg") == len(CHART_IDS)
    assert page.count("<title") > len(CHART_IDS)  # chart titles and per-mark tooltips
    assert "poster" in page.lower()
    assert json.loads(
        (out_dir / "report.json").read_text(encoding="utf-8")
    ) == json.loads(json.dumps(report))


def test_html_escapes_text(out_dir: Path) -> None:
    run = {**RUN, "campaign_id": "<script>alert(1)</script>"}
    (out_dir / "run.json").write_text(json.dumps(run), encoding="utf-8")
    rows = [{**h, "commune": "Au & <b>Zell</b>"} for h in HOUSEHOLDS]
    _write_jsonl(out_dir / "households.jsonl", rows)
    page = render_html(build_report(load_run(out_dir)))
    assert "<script>" not in page and "<b>Zell</b>" not in page
    assert "&lt;script&gt;" in page and "Au &amp; &lt;b&gt;Zell&lt;/b&gt;" in page
    _assert_page(page)


def test_terminal_table(report: dict[str, Any]) -> None:
    table = render_table(report)
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.startswith("call") and "13.00" in line for line in lines)
    assert "-25.0 pp" in table
    assert "15.07" in table


def test_a_marketable_instant_counts_on_the_campaigns_local_day(out_dir: Path) -> None:
    """Given a household whose marketable_from is an instant late on Sunday 9 March in UTC (Monday in Zurich),
    When the report's commune figures are built,
    Then the household counts as marketable from Monday 10 March (the week of the 10th), not the 9th."""
    late = _household("H9", "Winterthur", "upgrade", False, marketable_from="2025-03-09T23:30:00Z")
    _write_jsonl(out_dir / "households.jsonl", [late])
    [winterthur] = build_report(load_run(out_dir))["communes"]
    weeks = {w["week_start"]: w["share_marketable"] for w in winterthur["weeks"]}
    assert weeks["2025-03-03"] == 0.0 and weeks["2025-03-10"] == 1.0
