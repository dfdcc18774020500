"""Campaign figures of a run: exact counts and costs, attribution, uplift, budget, posters."""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist
from typing import Any

from shared.report.model import Contact, Household, RunData

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


@dataclass(frozen=True)
class Order:
    """A household's first order and the contact it is attributed to (None: unattributed)."""

    household_id: str
    at: datetime
    contact: Contact | None


def build_report(run: RunData) -> dict[str, Any]:
    """All figures of the campaign report, JSON-ready (money rounded to 2 decimals)."""
    orders = find_orders(run)
    return {
        "campaign": _campaign(run),
        "definitions": dict(DEFINITIONS),
        "totals": _totals(run, orders),
        "by_group_channel_cycle": _by_group_channel_cycle(run, orders),
        "by_channel": _by_key(
            run.contacts, orders, lambda c: c.channel, "channel", _channels(run)
        ),
        "by_group": _by_key(
            run.contacts, orders, _group_of, "target_group", _groups(run)
        ),
        "funnel": _funnel(run, orders),
        "contacts_per_week": _contacts_per_week(run),
        "orders_by_last_channel": _orders_by_last_channel(run, orders),
        "spend_by_month": _spend_by_month(run),
        "uplift": _uplift_overall(run, orders),
        "uplift_by_group": [_uplift_for_group(run, orders, g) for g in TARGET_GROUPS],
        "communes": _communes(run),
        "decisions": _decisions(run),
        "journeys": _journeys(run),
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


def _group_of(contact: Contact) -> str:
    return contact.target_group or "none"


def _ordered(seen: Iterable[str], preferred: tuple[str, ...]) -> list[str]:
    extra = sorted(set(seen) - set(preferred))
    return [*preferred, *extra]


def _channels(run: RunData) -> list[str]:
    return _ordered((c.channel for c in run.contacts), CHANNELS)


def _groups(run: RunData) -> list[str]:
    return _ordered((_group_of(c) for c in run.contacts), TARGET_GROUPS)


def _local_date(run: RunData, at: datetime) -> date:
    return at.astimezone(run.timezone).date()


def week_start(day: date) -> date:
    """The Monday of the ISO week holding `day`."""
    return day - timedelta(days=day.weekday())


def _weeks(first: date, last: date) -> list[date]:
    monday, weeks = week_start(first), []
    while monday <= last:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _run_dates(run: RunData) -> tuple[date, date] | None:
    """First and last local date of the run (the end instant is exclusive)."""
    if run.start is None or run.end is None:
        return None
    first = _local_date(run, run.start)
    last = _local_date(run, max(run.start, run.end - timedelta(microseconds=1)))
    return first, last


def _households_by_id(run: RunData) -> dict[str, Household]:
    return {h.household_id: h for h in run.households}


def _control_ids(run: RunData) -> set[str]:
    return {h.household_id for h in run.households if h.control_group}


def _treated_ids(run: RunData) -> set[str]:
    return {
        h.household_id for h in run.households if h.target_group and not h.control_group
    }


# ---------------------------------------------------------------- orders and attribution


def find_orders(run: RunData) -> list[Order]:
    """Each household's first order, attributed to its last contact strictly before the order."""
    first: dict[str, datetime] = {}
    for response in sorted(
        (r for r in run.responses if r.is_order), key=lambda r: r.at
    ):
        first.setdefault(response.household_id, response.at)
    contacts: dict[str, list[Contact]] = defaultdict(list)
    for row in sorted(run.contacts, key=lambda c: c.at):
        contacts[row.household_id].append(row)
    control = _control_ids(run)
    orders = []
    for household_id, at in sorted(first.items(), key=lambda item: (item[1], item[0])):
        history = contacts.get(household_id, [])
        index = bisect.bisect_left([c.at for c in history], at)
        contact = history[index - 1] if index and household_id not in control else None
        orders.append(Order(household_id, at, contact))
    return orders


def _orders_by_contact(orders: list[Order]) -> dict[int, Order]:
    """Attributed orders keyed by the identity of their contact row (ids may repeat or be empty)."""
    return {id(o.contact): o for o in orders if o.contact is not None}


# ---------------------------------------------------------------- totals


def _campaign(run: RunData) -> dict[str, Any]:
    return {
        "campaign_id": run.campaign_id,
        "start": run.start.isoformat() if run.start else None,
        "end": run.end.isoformat() if run.end else None,
        "seed": run.seed,
        "timezone": str(run.timezone.key),
    }


def _totals(run: RunData, orders: list[Order]) -> dict[str, Any]:
    control, treated = _control_ids(run), _treated_ids(run)
    cost = sum((c.cost_chf for c in run.contacts), Decimal(0))
    attributed = sum(1 for o in orders if o.contact is not None)
    months = len(_months(run))
    budget = run.budget_monthly_chf * months
    return {
        "households": len(run.households),
        "eligible": sum(1 for h in run.households if h.target_group),
        "not_eligible": sum(1 for h in run.households if not h.target_group),
        "control_group": len(control),
        "treated": len(treated),
        "contacts": len(run.contacts),
        "households_contacted": len({c.household_id for c in run.contacts}),
        "cost_chf": money(cost),
        "orders": len(orders),
        "orders_control": sum(1 for o in orders if o.household_id in control),
        "orders_treated": sum(1 for o in orders if o.household_id in treated),
        "orders_attributed": attributed,
        "orders_unattributed": len(orders) - attributed,
        "months": months,
        "budget_monthly_chf": money(run.budget_monthly_chf),
        "budget_chf": money(budget),
        "budget_used": _ratio(cost, budget, 4),
        "cost_per_order_chf": _cost_per_order(cost, attributed),
    }


# ---------------------------------------------------------------- breakdowns


def _cell(contacts: list[Contact], by_contact: dict[int, Order]) -> dict[str, Any]:
    cost = sum((c.cost_chf for c in contacts), Decimal(0))
    households = {c.household_id for c in contacts}
    orders = sum(1 for c in contacts if id(c) in by_contact)
    return {
        "contacts": len(contacts),
        "households": len(households),
        "cost_chf": money(cost),
        "orders": orders,
        "conversion_rate": _ratio(orders, len(households)),
        "cost_per_order_chf": _cost_per_order(cost, orders),
    }


def _by_group_channel_cycle(run: RunData, orders: list[Order]) -> list[dict[str, Any]]:
    cells: dict[tuple[str, str, int], list[Contact]] = defaultdict(list)
    for contact in run.contacts:
        cells[(_group_of(contact), contact.channel, contact.cycle)].append(contact)
    groups, channels = _groups(run), _channels(run)
    by_contact = _orders_by_contact(orders)

    def order(key: tuple[str, str, int]) -> tuple[int, int, int]:
        return groups.index(key[0]), channels.index(key[1]), key[2]

    return [
        {
            "target_group": g,
            "channel": ch,
            "cycle": cy,
            **_cell(cells[(g, ch, cy)], by_contact),
        }
        for g, ch, cy in sorted(cells, key=order)
    ]


def _by_key(
    contacts: Iterable[Contact],
    orders: list[Order],
    key: Callable[[Contact], str],
    name: str,
    keys: list[str],
) -> list[dict[str, Any]]:
    cells: dict[str, list[Contact]] = {k: [] for k in keys}
    for contact in contacts:
        cells[key(contact)].append(contact)
    by_contact = _orders_by_contact(orders)
    return [{name: k, **_cell(cells[k], by_contact)} for k in keys]


def _orders_by_last_channel(run: RunData, orders: list[Order]) -> dict[str, int]:
    counts = Counter(o.contact.channel if o.contact else UNATTRIBUTED for o in orders)
    return {k: counts.get(k, 0) for k in [*_channels(run), UNATTRIBUTED]}


def _funnel(run: RunData, orders: list[Order]) -> list[dict[str, Any]]:
    contacted = {c.household_id for c in run.contacts}
    ordered = {o.household_id for o in orders if o.contact is not None}
    rows = []
    for group in TARGET_GROUPS:
        members = [h for h in run.households if h.target_group == group]
        treated = {h.household_id for h in members if not h.control_group}
        rows.append(
            {
                "target_group": group,
                "entered": len(members),
                "control_group": len(members) - len(treated),
                "treated": len(treated),
                "contacted": len(treated & contacted),
                "ordered": len(treated & contacted & ordered),
            }
        )
    return rows


def _contacts_per_week(run: RunData) -> list[dict[str, Any]]:
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for contact in run.contacts:
        counts[week_start(_local_date(run, contact.at))][contact.channel] += 1
    days = list(counts)
    if (dates := _run_dates(run)) is not None:
        days.extend(dates)
    if not days:
        return []
    channels = _channels(run)
    return [
        {
            "week_start": monday.isoformat(),
            "by_channel": {ch: counts[monday][ch] for ch in channels},
            "total": sum(counts[monday].values()),
        }
        for monday in _weeks(min(days), max(days))
    ]


# ---------------------------------------------------------------- spend against budget


def _months(run: RunData) -> list[tuple[int, int]]:
    """Calendar months (local time) the run touched, plus any month holding a contact."""
    months = {(d.year, d.month) for d in (_local_date(run, c.at) for c in run.contacts)}
    if (dates := _run_dates(run)) is not None:
        year, month = dates[0].year, dates[0].month
        while (year, month) <= (dates[1].year, dates[1].month):
            months.add((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(months)


def _spend_by_month(run: RunData) -> list[dict[str, Any]]:
    spend: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    contacts: Counter[tuple[int, int]] = Counter()
    for contact in run.contacts:
        day = _local_date(run, contact.at)
        spend[(day.year, day.month)] += contact.cost_chf
        contacts[(day.year, day.month)] += 1
    budget = run.budget_monthly_chf
    return [
        {
            "month": f"{year:04d}-{month:02d}",
            "contacts": contacts[(year, month)],
            "cost_chf": money(spend[(year, month)]),
            "budget_chf": money(budget),
            "budget_used": _ratio(spend[(year, month)], budget, 4),
            "within_budget": spend[(year, month)] <= budget,
        }
        for year, month in _months(run)
    ]


# ---------------------------------------------------------------- uplift


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


def _uplift_among(
    ids_treated: set[str], ids_control: set[str], orders: list[Order]
) -> dict[str, Any]:
    ordered = {o.household_id for o in orders}
    return uplift(
        len(ids_treated),
        len(ids_treated & ordered),
        len(ids_control),
        len(ids_control & ordered),
    )


def _uplift_overall(run: RunData, orders: list[Order]) -> dict[str, Any]:
    control = {
        h.household_id for h in run.households if h.target_group and h.control_group
    }
    return _uplift_among(_treated_ids(run), control, orders)


def _uplift_for_group(run: RunData, orders: list[Order], group: str) -> dict[str, Any]:
    members = [h for h in run.households if h.target_group == group]
    treated = {h.household_id for h in members if not h.control_group}
    control = {h.household_id for h in members if h.control_group}
    return {"target_group": group, **_uplift_among(treated, control, orders)}


# ---------------------------------------------------------------- communes and poster timing


def _commune_span(run: RunData) -> list[date]:
    days = [_local_date(run, h.connected_at) for h in run.households if h.connected_at]
    days += [h.marketable_from for h in run.households if h.marketable_from]
    if (dates := _run_dates(run)) is not None:
        days.extend(dates)
    if not days:
        return []
    return _weeks(min(days) - timedelta(days=7), max(days))


def _commune(
    run: RunData, name: str, members: list[Household], weeks: list[date]
) -> dict[str, Any]:
    connected = sorted(
        _local_date(run, h.connected_at) for h in members if h.connected_at
    )
    marketable = sorted(h.marketable_from for h in members if h.marketable_from)
    cantons = Counter(h.canton for h in members if h.canton)
    return commune_figures(name, cantons.most_common(1)[0][0] if cantons else None,
                           Counter(connected), Counter(marketable), weeks, len(members))


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


def _communes(run: RunData) -> list[dict[str, Any]]:
    by_commune: dict[str, list[Household]] = defaultdict(list)
    for household in run.households:
        by_commune[household.commune].append(household)
    weeks = _commune_span(run)
    names = sorted(by_commune, key=lambda n: (-len(by_commune[n]), n))
    return [_commune(run, name, by_commune[name], weeks) for name in names]


# ---------------------------------------------------------------- decisions and journeys


def _decisions(run: RunData) -> dict[str, Any]:
    by_reason = Counter((d.decision, d.reason) for d in run.decisions)
    return {
        "total": len(run.decisions),
        "by_decision": dict(sorted(Counter(d.decision for d in run.decisions).items())),
        "by_reason": [
            {"decision": decision, "reason": reason, "count": count}
            for (decision, reason), count in sorted(
                by_reason.items(), key=lambda i: (-i[1], i[0])
            )
        ],
    }


def _journeys(run: RunData) -> dict[str, Any]:
    status = Counter(h.journey_status or "none" for h in run.households)
    reasons = Counter(h.end_reason for h in run.households if h.end_reason)
    return {
        "by_status": dict(sorted(status.items())),
        "by_end_reason": dict(sorted(reasons.items())),
    }
