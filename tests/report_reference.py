"""The report's figures computed in memory from RunData: the reference the SQL path is checked against.

This was shared/report/figures.py before the report moved to SQL (shared/report/queries.py). Two choices it
left to chance are now fixed, the same in both: among contacts at the same instant the one with the greatest
contact_id (then the later row) takes the order, and a commune's canton is its most frequent one, the
smallest name among equals.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.report.figures import (
    CHANNELS,
    DEFINITIONS,
    TARGET_GROUPS,
    UNATTRIBUTED,
    _cost_per_order,
    _ratio,
    _weeks,
    commune_figures,
    money,
    uplift,
    week_start,
)
from shared.report.model import Contact, Household, RunData


@dataclass(frozen=True)
class Order:
    """A household's first order and the contact it is attributed to (None: unattributed)."""

    household_id: str
    at: datetime
    contact: Contact | None


def reference_report(run: RunData) -> dict[str, Any]:
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
    for row in sorted(run.contacts, key=lambda c: (c.at, c.contact_id)):
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
    return commune_figures(name, min(cantons, key=lambda c: (-cantons[c], c)) if cantons else None,
                           Counter(connected), Counter(marketable), weeks, len(members))


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
