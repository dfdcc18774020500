"""`dispatch plan`: a campaign forecast from the rollout plan, by the product's own rules, in process.

`make_plan` reads the inputs (`shared.plan.households`), runs the cohorts through their journeys
(`shared.plan.engine`) and returns the figures of `plan.json` (contract section 5): `weeks`, `days`,
`months`, `communes`, `orders`, with the campaign's totals beside them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shared.campaign import Campaign
from shared.config import DispatchConfig
from shared.domain.budget import chf_text, micro_chf
from shared.offers import load_offers
from shared.plan.engine import Planner, Tally
from shared.plan.households import Intake, read_intake
from shared.plan.rates import Rates
from shared.report.figures import commune_figures, week_start, wilson_interval

MARGIN_DAYS = 62  # after the last journey's last planned step: deferrals (windows, caps, two short months)


@dataclass(frozen=True)
class PlanInputs:
    customers: Path
    feed: Path
    config: DispatchConfig
    offers: Path | None = None
    rates: Rates = field(default_factory=Rates)
    days: int | None = None  # None: until every journey has ended
    start: datetime | None = None
    sets: tuple[str, ...] = ()


def make_plan(inputs: PlanInputs) -> dict[str, Any]:
    began = time.perf_counter()
    campaign = Campaign(config=inputs.config, offers=load_offers(inputs.offers))
    intake = read_intake(inputs.customers, inputs.feed, campaign)
    read = time.perf_counter() - began
    tz = campaign.tz
    first = intake.first_connected or datetime.now(tz)
    start = inputs.start or datetime.combine(first.astimezone(tz).date(), datetime.min.time(), tzinfo=tz)
    end = start + timedelta(days=inputs.days) if inputs.days is not None else _natural_end(campaign, intake, start)
    tally = Planner(campaign, intake.seeds, start, end, inputs.rates).run()
    plan = figures(campaign, intake, tally, inputs.rates, start, end)
    plan["campaign"] |= {"settings_changed": list(inputs.sets), "seconds": round(time.perf_counter() - began, 2),
                         "seconds_reading": round(read, 2), "cohorts": len(intake.seeds), "splits": tally.splits}
    return plan


def _natural_end(campaign: Campaign, intake: Intake, start: datetime) -> datetime:
    last = max((s.first_due for s in intake.seeds), default=start)
    longest = max(j.max_cycles * j.repeat_every_days for j in campaign.config.journeys.values())
    return max(last, start) + timedelta(days=longest + MARGIN_DAYS)


def figures(campaign: Campaign, intake: Intake, tally: Tally, rates: Rates, start: datetime,
            end: datetime) -> dict[str, Any]:
    config = campaign.config
    weeks = [{"week_start": w.isoformat(), "channel": ch, "kind": kind, "contacts": _n(tally.contacts[(w, ch, kind)]),
              "cost_chf": round(tally.cost[(w, ch, kind)], 2)}
             for (w, ch, kind) in sorted(tally.contacts, key=lambda k: (k[0], k[1], k[2] or ""))]
    budget = float(chf_text(micro_chf(config.budget_chf.monthly, round_up=False)))
    months = [{"month": m, "cost_chf": round(tally.month_cost.get(m, 0.0), 2), "budget_chf": budget,
               "share_of_budget": round(tally.month_cost.get(m, 0.0) / budget, 4) if budget else None,
               "deferred_by_budget": _n(tally.budget_deferred.get(m, 0.0))}
              for m in sorted(set(tally.month_cost) | set(tally.budget_deferred))]
    days = [{**d, "calls_due": _n(d["calls_due"]), "calls_listed": _n(d["calls_listed"]),
             "withdrawn": _n(d["withdrawn"]), "backlog": _n(d["backlog"])} for d in tally.days]
    by_channel: dict[str, float] = {}
    for (_, ch, _), n in tally.contacts.items():
        by_channel[ch] = by_channel.get(ch, 0.0) + n
    return {
        "campaign": {
            "campaign_id": config.campaign_id, "start": start.isoformat(), "end": end.isoformat(),
            "households": intake.households, "control_group": intake.control_group,
            "treated": dict(intake.by_group), "not_eligible": sum(intake.not_eligible.values()),
            "no_offer": sum(intake.no_offer.values()), "rejected_rows": intake.rejected,
            "rates": rates.source, "calls_per_day": config.calls.per_day, "budget_chf_monthly": budget,
        },
        "totals": {"contacts": _n(sum(tally.contacts.values())), "cost_chf": round(sum(tally.cost.values()), 2),
                   "by_channel": {ch: _n(n) for ch, n in sorted(by_channel.items())},
                   "deferred_by_budget": _n(sum(tally.budget_deferred.values())),
                   "first_budget_month": next((m["month"] for m in months if m["deferred_by_budget"]), None),
                   "peak_backlog": max((d["backlog"] for d in days), default=0)},
        "weeks": weeks,
        "days": days,
        "months": months,
        "communes": _communes(intake, start),
        "orders": _orders(intake, tally, rates),
        "skipped": [{"channel": ch, "reason": r, "steps": _n(n)} for (ch, r), n in sorted(tally.skipped.items())],
        "deferred": [{"reason": r, "steps": _n(n)} for r, n in sorted(tally.deferred.items())],
    }


def _n(value: float) -> float | int:
    """A count: whole when it is (no rates), else one decimal (shares of households)."""
    return round(value) if abs(value - round(value)) < 1e-6 else round(value, 1)


def _communes(intake: Intake, start: datetime) -> list[dict[str, Any]]:
    days = [d for c in intake.connected.values() for d in c] + [d for c in intake.marketable.values() for d in c]
    if not days:
        return []
    first, last = week_start(min(days)) - timedelta(days=7), max(days)
    weeks = []
    while first <= last:
        weeks.append(first)
        first += timedelta(days=7)
    found = [commune_figures(name, canton, intake.connected[(name, canton)], intake.marketable[(name, canton)],
                             weeks, sum(intake.connected[(name, canton)].values()))
             for name, canton in intake.connected]
    return sorted(found, key=lambda c: (-c["households"], c["commune"]))


def _orders(intake: Intake, tally: Tally, rates: Rates) -> list[dict[str, Any]]:
    """Expected orders per target group with a 95 % interval: of each measured rate (from a report), else of the
    share of the group's households expected to order."""
    found = []
    for group in sorted(intake.by_group):
        expected = sum(n for (g, _, outcome), n in tally.reacted.items() if g == group and outcome == "order")
        households = intake.by_group[group]
        measured = [(tally.by_group_channel[(g, ch)], rate) for (g, ch, outcome), rate in rates.shares.items()
                    if g == group and outcome == "order" and rate.sample]
        if measured:
            low = sum(n * wilson_interval(round(r.share * (r.sample or 0)), r.sample or 1)[0] for n, r in measured)
            high = sum(n * wilson_interval(round(r.share * (r.sample or 0)), r.sample or 1)[1] for n, r in measured)
        else:
            lo, hi = wilson_interval(min(households, round(expected)), households) if households else (0.0, 0.0)
            low, high = lo * households, hi * households
        found.append({"target_group": group, "households": households, "expected": round(expected, 1),
                      "low": round(min(low, expected), 1), "high": round(max(high, expected), 1),
                      "opt_outs": round(sum(n for (g, _, o), n in tally.reacted.items()
                                            if g == group and o == "opt_out"), 1)})
    return found


def write_plan(plan: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "plan.json"
    path.write_text(json.dumps(plan, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
