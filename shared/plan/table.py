"""The plan as a compact table for the terminal: weeks, the call list, months, communes and orders
(with `--compare`: the plan with the what-if settings beside the one without)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_WIDTH = 78
CHANNEL_COLUMNS = (("email", None), ("sms", None), ("print", "personalised"), ("print", "partially_addressed"),
                   ("call", None))
_HEADS = ("email", "sms", "letter", "pa-mail", "call")


def _int(value: float | None) -> str:
    return "-" if value is None else f"{round(value):,}".replace(",", "'")


def _chf(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}".replace(",", "'")


def render_plan(plan: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    campaign, totals = plan["campaign"], plan["totals"]
    lines = ["=" * _WIDTH, f"Plan {campaign['campaign_id']}  {campaign['start'][:10]} .. {campaign['end'][:10]}",
             "=" * _WIDTH,
             f"households {_int(campaign['households'])}: treated "
             + ", ".join(f"{g} {_int(n)}" for g, n in sorted(campaign["treated"].items()))
             + f"; control group {_int(campaign['control_group'])}, not eligible {_int(campaign['not_eligible'])}",
             f"responses: {campaign['rates']}",
             f"settings changed: {', '.join(campaign['settings_changed']) or 'none'}"]
    lines += _weeks(plan)
    lines += _calls(plan)
    lines += _months(plan)
    lines += _communes(plan)
    lines += _orders(plan)
    lines.append(f"contacts {_int(totals['contacts'])}, cost CHF {_chf(totals['cost_chf'])}, "
                 f"deferrals by the budget {_int(totals['deferred_by_budget'])} (a step each month it waits), "
                 f"peak call backlog {_int(totals['peak_backlog'])}")
    if baseline is not None:
        lines += compare_lines(baseline, plan)
    return "\n".join(lines)


def _weeks(plan: dict[str, Any]) -> list[str]:
    cells: dict[str, dict[tuple[str, str | None], float]] = defaultdict(lambda: defaultdict(float))
    cost: dict[str, float] = defaultdict(float)
    for row in plan["weeks"]:
        cells[row["week_start"]][(row["channel"], row["kind"])] += row["contacts"]
        cost[row["week_start"]] += row["cost_chf"]
    lines = ["", "contacts per ISO week".ljust(20) + "".join(h.rjust(9) for h in _HEADS) + "CHF".rjust(12)]
    for week in sorted(cells):
        lines.append(week.ljust(20) + "".join(_int(cells[week].get(c, 0)).rjust(9) for c in CHANNEL_COLUMNS)
                     + _chf(cost[week]).rjust(12))
    return lines


def _calls(plan: dict[str, Any]) -> list[str]:
    busy = [d for d in plan["days"] if d["calls_due"] or d["backlog"]]
    lines = ["", f"call list (capacity {plan['campaign']['calls_per_day']} a day): "
             f"{len(busy)} days with calls"]
    if not busy:
        return lines
    peak = max(busy, key=lambda d: d["backlog"])
    listed = sum(d["calls_listed"] for d in busy)
    lines.append(f"  listed {_int(listed)}; backlog peaks at {_int(peak['backlog'])} on {peak['day']} "
                 f"(oldest waiting {peak['oldest_waiting_days']} days); given up "
                 f"{_int(sum(d['withdrawn'] for d in busy))}")
    return lines


def _months(plan: dict[str, Any]) -> list[str]:
    lines = ["", "month".ljust(12) + "cost CHF".rjust(14) + "budget CHF".rjust(14) + "deferred by budget".rjust(22)]
    for m in plan["months"]:
        lines.append(m["month"].ljust(12) + _chf(m["cost_chf"]).rjust(14) + _chf(m["budget_chf"]).rjust(14)
                     + _int(m["deferred_by_budget"]).rjust(22))
    return lines


def _communes(plan: dict[str, Any], top: int = 8) -> list[str]:
    lines = ["", "commune".ljust(26) + "households".rjust(12) + "half marketable".rjust(18) + "poster week".rjust(14)]
    for c in plan["communes"][:top]:
        lines.append(f"{c['commune']} ({c['canton']})"[:25].ljust(26) + _int(c["households"]).rjust(12)
                     + (c["half_marketable_week"] or "-").rjust(18) + (c["poster_week"] or "-").rjust(14))
    if len(plan["communes"]) > top:
        lines.append(f"  … and {len(plan['communes']) - top} more communes (plan.json)")
    return lines


def _orders(plan: dict[str, Any]) -> list[str]:
    lines = ["", "expected orders".ljust(20) + "households".rjust(12) + "expected".rjust(12) + "95% interval".rjust(22)]
    for o in plan["orders"]:
        lines.append(o["target_group"].ljust(20) + _int(o["households"]).rjust(12) + f"{o['expected']:.1f}".rjust(12)
                     + f"{o['low']:.1f} .. {o['high']:.1f}".rjust(22))
    return lines


def compare_lines(without: dict[str, Any], with_sets: dict[str, Any]) -> list[str]:
    """The two plans side by side: totals, the call backlog and each month's spend."""
    sets = ", ".join(with_sets["campaign"]["settings_changed"]) or "(no change)"
    a, b = without["totals"], with_sets["totals"]
    lines = ["", "=" * _WIDTH, f"compare: without | with {sets}"[:_WIDTH], "=" * _WIDTH,
             "".ljust(30) + "without".rjust(16) + "with".rjust(16) + "change".rjust(16)]

    def row(label: str, x: float, y: float, fmt: Any = _int) -> None:
        lines.append(label.ljust(30) + fmt(x).rjust(16) + fmt(y).rjust(16) + fmt(y - x).rjust(16))

    row("contacts", a["contacts"], b["contacts"])
    for channel in sorted(set(a["by_channel"]) | set(b["by_channel"])):
        row(f"  {channel}", a["by_channel"].get(channel, 0), b["by_channel"].get(channel, 0))
    row("cost CHF", a["cost_chf"], b["cost_chf"], _chf)
    row("deferred by budget", a["deferred_by_budget"], b["deferred_by_budget"])
    row("peak call backlog", a["peak_backlog"], b["peak_backlog"])
    months = {m["month"]: m for m in without["months"]}
    for m in with_sets["months"]:
        before = months.get(m["month"], {"cost_chf": 0.0, "deferred_by_budget": 0})
        row(f"{m['month']} cost CHF", before["cost_chf"], m["cost_chf"], _chf)
        row(f"{m['month']} deferred by budget", before["deferred_by_budget"], m["deferred_by_budget"])
    first = (a.get("first_budget_month"), b.get("first_budget_month"))
    lines.append(f"budget first binds: without {first[0] or 'never'}, with {first[1] or 'never'}")
    return lines
