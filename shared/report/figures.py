"""The campaign report's figures from the lake's SQL results: totals, breakdowns, attribution, uplift, budget,
posters. The SQL (shared.report.queries) counts and sums; this module only arranges its small tables into the
report and computes what is arithmetic on them (rates, intervals, weeks, months, poster weeks)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist
from typing import Any, Protocol

from shared.report.model import RunData, RunMeta

CHANNELS: tuple[str, ...] = ("email", "sms", "print", "call")
TARGET_GROUPS: tuple[str, ...] = ("upgrade", "switch", "prospect")
UNATTRIBUTED = "unattributed"
POSTER_THRESHOLD = 0.5
CONFIDENCE = 0.95
_CENT = Decimal("0.01")

DEFINITIONS: dict[str, str] = {
    "order": "A response of type 'order', or a call outcome 'ordered'; at most one per household "
    "(the first).",
    "attribution": "An order is attributed to the household's last contact strictly before the "
    "order (its channel, cycle and target group). Orders with no earlier contact, and every "
    "order of a control-group household, are unattributed.",
    "conversion_rate": "In the group/channel/cycle table: attributed orders divided by the "
    "distinct households contacted in that cell.",
    "cost_per_order_chf": "Cost divided by attributed orders (null when there are none).",
    "budget_chf": "The monthly budget times the calendar months (campaign time zone) the run "
    "touched.",
    "uplift": "Order rate of treated households (eligible, not held out) minus order rate of the "
    "control group (eligible, held out), counting any order of the household during the run; "
    "95% interval: Newcombe's hybrid score interval from Wilson intervals.",
    "poster_week": "The ISO week (Monday) before the first week by whose end at least half of the "
    "commune's households are marketable: posters go up one week before most people can order.",
}



# ---------------------------------------------------------------- helpers


def money(value: Decimal) -> float:
    """CHF rounded half-up to the cent, as a JSON number."""
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _ratio(
    numerator: float | Decimal, denominator: float | Decimal, digits: int = 6
) -> float | None:
    if not denominator:
        return None
    return round(float(numerator) / float(denominator), digits)


def _cost_per_order(cost: Decimal, orders: int) -> float | None:
    return money(cost / orders) if orders else None


def week_start(day: date) -> date:
    """The Monday of the ISO week holding `day`."""
    return day - timedelta(days=day.weekday())


def _weeks(first: date, last: date) -> list[date]:
    monday, weeks = week_start(first), []
    while monday <= last:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(
    successes: int, trials: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Wilson score interval for a proportion (no continuity correction)."""
    if trials <= 0:
        raise ValueError("trials must be positive")
    z = _z(confidence)
    centre = 2 * successes + z * z
    spread = z * math.sqrt(z * z + 4 * successes * (trials - successes) / trials)
    denominator = 2 * (trials + z * z)
    return max(0.0, (centre - spread) / denominator), min(
        1.0, (centre + spread) / denominator
    )


def newcombe_interval(
    x1: int, n1: int, x2: int, n2: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for p1 - p2, built from Wilson intervals."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    difference = p1 - p2
    lower = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return lower, upper


def _arm(households: int, orders: int) -> dict[str, Any]:
    interval = wilson_interval(orders, households) if households else None
    return {
        "households": households,
        "orders": orders,
        "conversion_rate": _ratio(orders, households),
        "ci_low": round(interval[0], 6) if interval else None,
        "ci_high": round(interval[1], 6) if interval else None,
    }


def uplift(
    treated_n: int, treated_x: int, control_n: int, control_x: int
) -> dict[str, Any]:
    """Treated vs control order rates, the difference in points and its 95% Newcombe interval."""
    result: dict[str, Any] = {
        "treated": _arm(treated_n, treated_x),
        "control": _arm(control_n, control_x),
        "confidence": CONFIDENCE,
        "method": "Newcombe hybrid score interval (Wilson)",
        "difference": None,
        "uplift_pp": None,
        "ci_low_pp": None,
        "ci_high_pp": None,
        "significant": None,
        "incremental_orders": None,
    }
    if treated_n and control_n:
        difference = treated_x / treated_n - control_x / control_n
        low, high = newcombe_interval(treated_x, treated_n, control_x, control_n)
        result.update(
            difference=round(difference, 6),
            uplift_pp=round(difference * 100, 4),
            ci_low_pp=round(low * 100, 4),
            ci_high_pp=round(high * 100, 4),
            significant=low > 0 or high < 0,
            incremental_orders=round(difference * treated_n, 2),
        )
    return result


def commune_figures(name: str, canton: str | None, connected: Counter[date], marketable: Counter[date],
                    weeks: list[date], total: int) -> dict[str, Any]:
    """A commune's households connected and marketable by the end of each week, and the poster week: the
    week before the one in which half of them are marketable (the report's and the plan's one rule)."""
    connected_days, marketable_days = sorted(connected), sorted(marketable)
    series: list[dict[str, Any]] = []
    n_connected = n_marketable = 0
    ci = mi = 0
    for monday in weeks:
        sunday = monday + timedelta(days=6)
        while ci < len(connected_days) and connected_days[ci] <= sunday:
            n_connected += connected[connected_days[ci]]
            ci += 1
        while mi < len(marketable_days) and marketable_days[mi] <= sunday:
            n_marketable += marketable[marketable_days[mi]]
            mi += 1
        series.append(
            {
                "week_start": monday.isoformat(),
                "connected": n_connected,
                "marketable": n_marketable,
                "share_connected": round(n_connected / total, 4),
                "share_marketable": round(n_marketable / total, 4),
            }
        )
    half = next(
        (w for w in series if w["marketable"] >= POSTER_THRESHOLD * total), None
    )
    poster = (
        date.fromisoformat(half["week_start"]) - timedelta(days=7) if half else None
    )
    return {
        "commune": name,
        "canton": canton,
        "households": total,
        "first_connected": connected_days[0].isoformat() if connected_days else None,
        "first_marketable": marketable_days[0].isoformat() if marketable_days else None,
        "half_marketable_week": half["week_start"] if half else None,
        "poster_week": poster.isoformat() if poster else None,
        "weeks": series,
    }



# ---------------------------------------------------------------- the report from the lake

Row = dict[str, Any]
Cell = tuple[str, str, int]
_CELL, _GROUP, _CHANNEL, _ALL = 0, 3, 5, 7  # grouping(target_group, channel, cycle) of contact_cells


class Lake(Protocol):
    """An engine over the lake's `history` table: DuckDB (shared.report.duck) or Athena (shared.report.athena)."""

    def rows(self, name: str) -> list[Row]:
        """The result of the figure query `name` (shared.report.queries.FIGURES), typed."""
        ...


def build_report(run: RunData) -> dict[str, Any]:
    """All figures of the campaign report of a run's rows, JSON-ready (money rounded to 2 decimals)."""
    from shared.report.duck import DuckDBLake

    lake = DuckDBLake.of_run(run)
    try:
        return report_from_lake(lake, run)
    finally:
        lake.close()


def report_from_lake(lake: Lake, meta: RunMeta) -> dict[str, Any]:
    """All figures of the campaign report from the lake's SQL, for the campaign `meta` describes."""
    f = _Results(lake)
    return {
        "campaign": _campaign(meta),
        "definitions": dict(DEFINITIONS),
        "totals": _totals(meta, f),
        "by_group_channel_cycle": _by_group_channel_cycle(f),
        "by_channel": [{"channel": ch, **_cell_figures(f.by_channel.get(ch), f.orders_where(1, ch))}
                       for ch in f.channels],
        "by_group": [{"target_group": g, **_cell_figures(f.by_group.get(g), f.orders_where(0, g))}
                     for g in f.groups],
        "funnel": _funnel(f),
        "contacts_per_week": _contacts_per_week(meta, f),
        "orders_by_last_channel": _orders_by_last_channel(f),
        "spend_by_month": _spend_by_month(meta, f),
        "uplift": _uplift(f, lambda g: g is not None),
        "uplift_by_group": [{"target_group": g, **_uplift(f, lambda tg, g=g: tg == g)} for g in TARGET_GROUPS],
        "communes": _communes(meta, f),
        "decisions": _decisions(f),
        "journeys": _journeys(f),
    }


class _Results:
    """The figure queries' results, read once, indexed the way the report needs them."""

    def __init__(self, lake: Lake) -> None:
        cells = lake.rows("contact_cells")
        self.cells: dict[Cell, Row] = {
            (r["target_group"], r["channel"], int(r["cycle"])): r for r in cells if r["level"] == _CELL}
        self.by_channel: dict[str, Row] = {r["channel"]: r for r in cells if r["level"] == _CHANNEL}
        self.by_group: dict[str, Row] = {r["target_group"]: r for r in cells if r["level"] == _GROUP}
        self.all: Row | None = next((r for r in cells if r["level"] == _ALL), None)
        self.cell_orders: dict[Cell, int] = {
            (r["target_group"], r["channel"], int(r["cycle"])): int(r["orders"]) for r in lake.rows("order_cells")}
        self.orders_by_channel: dict[str | None, int] = {
            r["channel"]: int(r["orders"]) for r in lake.rows("orders_by_channel")}
        self.households = lake.rows("household_cells")
        self.days = lake.rows("contact_days")
        self.cantons = lake.rows("commune_cantons")
        self.connected = lake.rows("commune_connected")
        self.marketable = lake.rows("commune_marketable")
        self.decisions = lake.rows("decision_reasons")
        self.journeys = lake.rows("journey_states")
        self.channels = _ordered(self.by_channel, CHANNELS)
        self.groups = _ordered(self.by_group, TARGET_GROUPS)

    def orders_where(self, position: int, value: str) -> int:
        """Attributed orders of the cells whose group (position 0) or channel (1) is `value`."""
        return sum(n for cell, n in self.cell_orders.items() if cell[position] == value)

    def household_sum(self, column: str, *, group: Any = None, control: bool | None = None) -> int:
        """Sum of a household_cells column over the rows whose target group passes `group` (a predicate; None:
        every row) and whose hold-out is `control` (None: either)."""
        return sum(int(r[column]) for r in self.households
                   if (group is None or group(r["target_group"]))
                   and (control is None or bool(r["control_group"]) == control))


def _ordered(seen: Iterable[str], preferred: tuple[str, ...]) -> list[str]:
    extra = sorted(set(seen) - set(preferred))
    return [*preferred, *extra]


def _eligible(group: str | None) -> bool:
    return group is not None


def _decimal(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def _run_dates(meta: RunMeta) -> tuple[date, date] | None:
    """First and last local date of the run (the end instant is exclusive)."""
    if meta.start is None or meta.end is None:
        return None
    first = meta.start.astimezone(meta.timezone).date()
    last = max(meta.start, meta.end - timedelta(microseconds=1)).astimezone(meta.timezone).date()
    return first, last


def _campaign(meta: RunMeta) -> dict[str, Any]:
    return {
        "campaign_id": meta.campaign_id,
        "start": meta.start.isoformat() if meta.start else None,
        "end": meta.end.isoformat() if meta.end else None,
        "seed": meta.seed,
        "timezone": str(meta.timezone.key),
    }


def _totals(meta: RunMeta, f: _Results) -> dict[str, Any]:
    cost = _decimal(f.all["cost_chf"]) if f.all else Decimal(0)
    orders = sum(f.orders_by_channel.values())
    attributed = orders - f.orders_by_channel.get(None, 0)
    months = len(_months(meta, f))
    budget = meta.budget_monthly_chf * months
    return {
        "households": f.household_sum("households"),
        "eligible": f.household_sum("households", group=_eligible),
        "not_eligible": f.household_sum("households", group=lambda g: g is None),
        "control_group": f.household_sum("households", control=True),
        "treated": f.household_sum("households", group=_eligible, control=False),
        "contacts": int(f.all["contacts"]) if f.all else 0,
        "households_contacted": int(f.all["households"]) if f.all else 0,
        "cost_chf": money(cost),
        "orders": orders,
        "orders_control": f.household_sum("ordered", control=True),
        "orders_treated": f.household_sum("ordered", group=_eligible, control=False),
        "orders_attributed": attributed,
        "orders_unattributed": orders - attributed,
        "months": months,
        "budget_monthly_chf": money(meta.budget_monthly_chf),
        "budget_chf": money(budget),
        "budget_used": _ratio(cost, budget, 4),
        "cost_per_order_chf": _cost_per_order(cost, attributed),
    }


def _cell_figures(row: Row | None, orders: int) -> dict[str, Any]:
    contacts = int(row["contacts"]) if row else 0
    households = int(row["households"]) if row else 0
    cost = _decimal(row["cost_chf"]) if row else Decimal(0)
    return {
        "contacts": contacts,
        "households": households,
        "cost_chf": money(cost),
        "orders": orders,
        "conversion_rate": _ratio(orders, households),
        "cost_per_order_chf": _cost_per_order(cost, orders),
    }


def _by_group_channel_cycle(f: _Results) -> list[dict[str, Any]]:
    def order(key: Cell) -> tuple[int, int, int]:
        return f.groups.index(key[0]), f.channels.index(key[1]), key[2]

    return [
        {"target_group": g, "channel": ch, "cycle": cy,
         **_cell_figures(f.cells[(g, ch, cy)], f.cell_orders.get((g, ch, cy), 0))}
        for g, ch, cy in sorted(f.cells, key=order)
    ]


def _orders_by_last_channel(f: _Results) -> dict[str, int]:
    counts = {UNATTRIBUTED if ch is None else ch: n for ch, n in f.orders_by_channel.items()}
    return {k: counts.get(k, 0) for k in [*f.channels, UNATTRIBUTED]}


def _funnel(f: _Results) -> list[dict[str, Any]]:
    rows = []
    for group in TARGET_GROUPS:
        def member(g: str | None, group: str = group) -> bool:
            return g == group

        entered = f.household_sum("households", group=member)
        treated = f.household_sum("households", group=member, control=False)
        rows.append({
            "target_group": group,
            "entered": entered,
            "control_group": entered - treated,
            "treated": treated,
            "contacted": f.household_sum("contacted", group=member, control=False),
            "ordered": f.household_sum("ordered_attributed", group=member, control=False),
        })
    return rows


def _contacts_per_week(meta: RunMeta, f: _Results) -> list[dict[str, Any]]:
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for row in f.days:
        counts[week_start(row["local_day"])][row["channel"]] += int(row["contacts"])
    days = list(counts)
    if (dates := _run_dates(meta)) is not None:
        days.extend(dates)
    if not days:
        return []
    return [
        {
            "week_start": monday.isoformat(),
            "by_channel": {ch: counts[monday][ch] for ch in f.channels},
            "total": sum(counts[monday].values()),
        }
        for monday in _weeks(min(days), max(days))
    ]


def _months(meta: RunMeta, f: _Results) -> list[tuple[int, int]]:
    """Calendar months (local time) the run touched, plus any month holding a contact."""
    months = {(row["local_day"].year, row["local_day"].month) for row in f.days}
    if (dates := _run_dates(meta)) is not None:
        year, month = dates[0].year, dates[0].month
        while (year, month) <= (dates[1].year, dates[1].month):
            months.add((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(months)


def _spend_by_month(meta: RunMeta, f: _Results) -> list[dict[str, Any]]:
    spend: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    contacts: Counter[tuple[int, int]] = Counter()
    for row in f.days:
        month = (row["local_day"].year, row["local_day"].month)
        spend[month] += _decimal(row["cost_chf"])
        contacts[month] += int(row["contacts"])
    budget = meta.budget_monthly_chf
    return [
        {
            "month": f"{year:04d}-{month:02d}",
            "contacts": contacts[(year, month)],
            "cost_chf": money(spend[(year, month)]),
            "budget_chf": money(budget),
            "budget_used": _ratio(spend[(year, month)], budget, 4),
            "within_budget": spend[(year, month)] <= budget,
        }
        for year, month in _months(meta, f)
    ]


def _uplift(f: _Results, among: Any) -> dict[str, Any]:
    """Uplift among the households whose target group passes `among` (orders: any order of the household)."""
    return uplift(
        f.household_sum("households", group=among, control=False),
        f.household_sum("ordered", group=among, control=False),
        f.household_sum("households", group=among, control=True),
        f.household_sum("ordered", group=among, control=True),
    )


def _communes(meta: RunMeta, f: _Results) -> list[dict[str, Any]]:
    totals: Counter[str] = Counter()
    cantons: dict[str, Counter[str]] = defaultdict(Counter)
    for row in f.cantons:
        totals[row["commune"]] += int(row["households"])
        if row["canton"]:
            cantons[row["commune"]][row["canton"]] += int(row["households"])
    connected: dict[str, Counter[date]] = defaultdict(Counter)
    marketable: dict[str, Counter[date]] = defaultdict(Counter)
    for rows, counters in ((f.connected, connected), (f.marketable, marketable)):
        for row in rows:
            counters[row["commune"]][row["on_day"]] += int(row["households"])
    weeks = _commune_span(meta, [*(r["on_day"] for r in f.connected), *(r["on_day"] for r in f.marketable)])
    names = sorted(totals, key=lambda n: (-totals[n], n))
    return [
        commune_figures(name, _most_frequent(cantons[name]), connected[name], marketable[name], weeks, totals[name])
        for name in names
    ]


def _most_frequent(counts: Counter[str]) -> str | None:
    """The most frequent value; the smallest among equals (so the answer never depends on row order)."""
    return min(counts, key=lambda value: (-counts[value], value)) if counts else None


def _commune_span(meta: RunMeta, days: list[date]) -> list[date]:
    if (dates := _run_dates(meta)) is not None:
        days = [*days, *dates]
    if not days:
        return []
    return _weeks(min(days) - timedelta(days=7), max(days))


def _decisions(f: _Results) -> dict[str, Any]:
    by_reason = Counter({(r["decision"], r["reason"]): int(r["decisions"]) for r in f.decisions})
    by_decision: Counter[str] = Counter()
    for (decision, _), count in by_reason.items():
        by_decision[decision] += count
    return {
        "total": sum(by_reason.values()),
        "by_decision": dict(sorted(by_decision.items())),
        "by_reason": [
            {"decision": decision, "reason": reason, "count": count}
            for (decision, reason), count in sorted(by_reason.items(), key=lambda i: (-i[1], i[0]))
        ],
    }


def _journeys(f: _Results) -> dict[str, Any]:
    status: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for row in f.journeys:
        status[row["journey_status"]] += int(row["households"])
        if row["end_reason"]:
            reasons[row["end_reason"]] += int(row["households"])
    return {"by_status": dict(sorted(status.items())), "by_end_reason": dict(sorted(reasons.items()))}
