"""The campaign report as a compact fixed-width table for the terminal."""

from __future__ import annotations

from typing import Any

_WIDTH = 78


def _int(value: float | None) -> str:
    return "-" if value is None else f"{round(value):,}".replace(",", "'")


def _chf(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}".replace(",", "'")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _pp(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} pp"


def _rule(char: str = "-") -> str:
    return char * _WIDTH


def _header(report: dict[str, Any]) -> list[str]:
    campaign = report["campaign"]
    start, end = campaign.get("start") or "?", campaign.get("end") or "?"
    period = f"{start[:10]} .. {end[:10]} ({campaign['timezone']})"
    title = f"Campaign {campaign['campaign_id']}  {period}"
    return [_rule("="), title[:_WIDTH], _rule("=")]


def _totals(report: dict[str, Any]) -> list[str]:
    t = report["totals"]
    return [
        (
            f"{'Households':<14}{_int(t['households']):>10}   treated {_int(t['treated'])}, "
            f"control {_int(t['control_group'])}, not eligible {_int(t['not_eligible'])}"
        ),
        (
            f"{'Contacts':<14}{_int(t['contacts']):>10}   households contacted "
            f"{_int(t['households_contacted'])}"
        ),
        (
            f"{'Cost CHF':<14}{_chf(t['cost_chf']):>10}   budget {_chf(t['budget_chf'])} "
            f"({_pct(t['budget_used'])} used, {t['months']} months)"
        ),
        (
            f"{'Orders':<14}{_int(t['orders']):>10}   treated {_int(t['orders_treated'])}, "
            f"control {_int(t['orders_control'])}, attributed {_int(t['orders_attributed'])}"
        ),
        f"{'CHF per order':<14}{_chf(t['cost_per_order_chf']):>10}   (cost / attributed orders)",
    ]


def _breakdown(rows: list[dict[str, Any]], key: str, title: str) -> list[str]:
    head = (
        f"{title:<12}{'contacts':>10}{'households':>12}{'cost CHF':>13}"
        f"{'orders':>8}{'conv.':>8}{'CHF/order':>12}"
    )
    lines = [_rule(), head, _rule()]
    for row in rows:
        lines.append(
            f"{str(row[key])[:12]:<12}{_int(row['contacts']):>10}{_int(row['households']):>12}"
            f"{_chf(row['cost_chf']):>13}{_int(row['orders']):>8}"
            f"{_pct(row['conversion_rate']):>8}{_chf(row['cost_per_order_chf']):>12}"
        )
    return lines


def _uplift(report: dict[str, Any]) -> list[str]:
    u = report["uplift"]
    treated, control = u["treated"], u["control"]
    return [
        _rule(),
        (
            f"Uplift  treated {_pct(treated['conversion_rate'])} "
            f"({_int(treated['orders'])}/{_int(treated['households'])})  "
            f"control {_pct(control['conversion_rate'])} "
            f"({_int(control['orders'])}/{_int(control['households'])})"
        ),
        (
            f"        difference {_pp(u['uplift_pp'])}  "
            f"95% CI {_pp(u['ci_low_pp'])} to {_pp(u['ci_high_pp'])}"
        ),
    ]


def _spend(report: dict[str, Any]) -> list[str]:
    lines = [_rule(), f"{'month':<12}{'cost CHF':>13}{'budget CHF':>14}  within budget"]
    for month in report["spend_by_month"]:
        flag = "yes" if month["within_budget"] else "NO"
        lines.append(
            f"{month['month']:<12}{_chf(month['cost_chf']):>13}"
            f"{_chf(month['budget_chf']):>14}  {flag}"
        )
    return lines


def render_table(report: dict[str, Any]) -> str:
    """Totals, per channel, per target group, spend per month and uplift, fixed width."""
    lines = [
        *_header(report),
        *_totals(report),
        *_breakdown(report["by_channel"], "channel", "channel"),
        *_breakdown(report["by_group"], "target_group", "group"),
        *_spend(report),
        *_uplift(report),
        _rule("="),
    ]
    return "\n".join(lines) + "\n"
