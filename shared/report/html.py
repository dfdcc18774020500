"""The campaign report as one self-contained HTML page with inline SVG charts."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup, escape

GROUP_COLOURS = {"upgrade": "#0072B2", "switch": "#D55E00", "prospect": "#009E73"}
CHANNEL_COLOURS = {
    "email": "#0072B2",
    "sms": "#E69F00",
    "print": "#009E73",
    "call": "#CC79A7",
    "unattributed": "#8C8C8C",
}
FUNNEL_STAGES = (
    ("entered", "Entered", "#C6DBEF"),
    ("treated", "Treated (not held out)", "#6BAED6"),
    ("contacted", "Contacted", "#2171B5"),
    ("ordered", "Ordered after a contact", "#08306B"),
)
_FALLBACK_COLOURS = ("#56B4E9", "#F0E442", "#000000", "#999999")
_MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_WIDTH, _HEIGHT = 720, 320
MAX_COMMUNE_PANELS = 24
DEFINITION_POSTER = (
    "Poster week: the week (starting Monday) before the first week in which at least half of "
    "the commune's households are marketable, so posters are up when people can order, not "
    "weeks before."
)

Fmt = Callable[[float], str]
Rows = list[list[tuple[str, bool]]]


# ---------------------------------------------------------------- number formats


def fmt_int(value: float | None) -> str:
    """1’234 (Swiss thousands separator); an en dash for missing values."""
    return "–" if value is None else f"{round(value):,}".replace(",", "’")


NBSP = "\u00a0"  # between a number and its unit, so a line never breaks between them


def fmt_chf(value: float | None) -> str:
    """CHF 1’234.50."""
    return "–" if value is None else f"CHF{NBSP}" + f"{value:,.2f}".replace(",", "’")


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage: 0.1234 -> 12.3 %."""
    return "–" if value is None else f"{value * 100:.{digits}f}{NBSP}%"


def fmt_tick(value: float) -> str:
    """An axis tick: 1’500, 2.5 or 0."""
    if value == round(value):
        return fmt_int(value)
    return f"{value:,.2f}".rstrip("0").replace(",", "’")


def _pp_tick(value: float) -> str:
    return "0 pp" if value == 0 else f"{value:+g} pp"


def fmt_pp(value: float | None) -> str:
    """Percentage points with a sign: +1.2 pp."""
    return "–" if value is None else f"{value:+.1f}{NBSP}pp"


def _short_date(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {_MONTHS[day.month - 1]}"


def _colour(name: str, palette: dict[str, str], index: int) -> str:
    return palette.get(name, _FALLBACK_COLOURS[index % len(_FALLBACK_COLOURS)])


# ---------------------------------------------------------------- SVG primitives


@dataclass(frozen=True)
class _Frame:
    """The plot area of a chart and its vertical scale."""

    left: float
    top: float
    width: float
    height: float
    vmin: float = 0.0
    vmax: float = 1.0

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def y(self, value: float) -> float:
        share = (value - self.vmin) / ((self.vmax - self.vmin) or 1.0)
        return self.top + self.height * (1 - share)


def nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if value <= m * power + 1e-12)


def _text(x: float, y: float, text: str, anchor: str = "middle", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def _line(x1: float, x2: float, y1: float, y2: float, cls: str) -> str:
    return (
        f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" class="{cls}"/>'
    )


def _svg(
    chart_id: str, title: str, desc: str, size: tuple[int, int], body: list[str]
) -> Markup:
    width, height = size
    head = (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def tick_count(vmax: float, whole: bool) -> int:
    """Intervals on a 0..vmax axis: the first of 4, 5, 2 whose step is 1, 2, 2.5 or 5 times a
    power of ten (and a whole number, for counts); else 1."""

    def fits(step: float) -> bool:
        mantissa = step / 10.0 ** math.floor(math.log10(step))
        nice = any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5, 10))
        return nice and (not whole or math.isclose(step, round(step)))

    return next((n for n in (4, 5, 2) if vmax > 0 and fits(vmax / n)), 1)


def _y_axis(frame: _Frame, label: str, fmt: Fmt, ticks: int = 4) -> list[str]:
    parts = []
    for i in range(ticks + 1):
        value = frame.vmin + (frame.vmax - frame.vmin) * i / ticks
        y = frame.y(value)
        right = frame.left + frame.width
        parts.append(
            f'<line x1="{frame.left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(_text(frame.left - 6, y + 4, fmt(value), "end", "tick"))
    mid, x = frame.top + frame.height / 2, frame.left - 60
    parts.append(
        f'<text transform="translate({x:.1f} {mid:.1f}) rotate(-90)" text-anchor="middle" '
        f'class="axis-label">{escape(label)}</text>'
    )
    return parts


def _x_axis(frame: _Frame, label: str, total_height: int) -> list[str]:
    right = frame.left + frame.width
    return [
        (
            f'<line x1="{frame.left}" x2="{right}" y1="{frame.bottom:.1f}" '
            f'y2="{frame.bottom:.1f}" class="axis"/>'
        ),
        _text(
            frame.left + frame.width / 2,
            total_height - 8,
            label,
            "middle",
            "axis-label",
        ),
    ]


def _legend(
    items: Sequence[tuple[str, str]], x: float, y: float, dashed: str = ""
) -> list[str]:
    parts = []
    for name, colour in items:
        if name == dashed:
            parts.append(
                f'<line x1="{x:.1f}" x2="{x + 14:.1f}" y1="{y - 4:.1f}" y2="{y - 4:.1f}" '
                f'stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"/>'
            )
        else:
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>'
            )
        parts.append(_text(x + 18, y, name, "start", "legend"))
        x += 30 + 7 * len(name)
    return parts


def _empty(chart_id: str, title: str, message: str) -> Markup:
    body = [_text(_WIDTH / 2, 60, message, "middle", "empty")]
    return _svg(chart_id, title, message, (_WIDTH, 100), body)


# ---------------------------------------------------------------- bar charts


@dataclass(frozen=True)
class _Bars:
    """What a bar chart shows: categories along x, one or more series (grouped or stacked)."""

    chart_id: str
    title: str
    desc: str
    categories: list[str]
    series: list[tuple[str, str, list[float | None]]]
    y_label: str
    x_label: str
    fmt: Fmt = fmt_int
    tick_fmt: Fmt = fmt_int
    stacked: bool = False
    reference: float | None = None
    reference_label: str = ""


REFERENCE_ZOOM = 4.0  # a reference line above this many times the tallest bar is left off scale


def _data_max(spec: _Bars) -> float:
    columns = zip(*(values for _, _, values in spec.series), strict=True)
    if spec.stacked:
        heights = [sum(v or 0.0 for v in column) for column in columns]
    else:
        heights = [v or 0.0 for _, _, values in spec.series for v in values]
    return max(heights, default=0.0)


def _reference_off_scale(spec: _Bars) -> bool:
    top = _data_max(spec)
    return spec.reference is not None and top > 0 and spec.reference > REFERENCE_ZOOM * top


def _bars_max(spec: _Bars) -> float:
    reference = 0.0 if _reference_off_scale(spec) else spec.reference or 0.0
    return nice_max(max(_data_max(spec), reference))


def _bar_rects(spec: _Bars, frame: _Frame) -> list[str]:
    parts: list[str] = []
    slot = frame.width / max(1, len(spec.categories))
    lanes = 1 if spec.stacked else len(spec.series)
    bar = slot * 0.75 / lanes
    show_values = not spec.stacked and len(spec.categories) * lanes <= 24
    for i, category in enumerate(spec.categories):
        base = 0.0
        for j, (name, colour, values) in enumerate(spec.series):
            value = values[i]
            x = frame.left + slot * i + slot * 0.125 + (0 if spec.stacked else bar * j)
            top, bottom = frame.y(base + (value or 0.0)), frame.y(base)
            tip = f"{name} – {category}: {'n/a' if value is None else spec.fmt(value)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" '
                f'height="{bottom - top:.1f}" fill="{colour}"><title>{escape(tip)}</title></rect>'
            )
            if show_values:
                label = "n/a" if value is None else spec.fmt(value)
                parts.append(_text(x + bar / 2, top - 4, label, "middle", "value"))
            if spec.stacked:
                base += value or 0.0
    return parts


def _category_labels(spec: _Bars, frame: _Frame) -> list[str]:
    slot = frame.width / max(1, len(spec.categories))
    every = max(1, math.ceil(70 / slot))
    return [
        _text(
            frame.left + slot * (i + 0.5), frame.bottom + 18, category, "middle", "tick"
        )
        for i, category in enumerate(spec.categories)
        if i % every == 0
    ]


def _reference_line(spec: _Bars, frame: _Frame) -> list[str]:
    if spec.reference is None:
        return []
    if _reference_off_scale(spec):
        share = fmt_pct(_data_max(spec) / spec.reference)
        note = f"▲ {spec.reference_label}: far above this scale (the highest bar is {share} of it)"
        return [_text(frame.left + frame.width, 18, note, "end", "ref")]
    y = frame.y(spec.reference)
    right = frame.left + frame.width
    return [
        (
            f'<line x1="{frame.left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'class="reference"><title>{escape(spec.reference_label)}</title></line>'
        )
    ]


def _bar_chart(spec: _Bars) -> Markup:
    if not spec.categories:
        return _empty(spec.chart_id, spec.title, "No data for this chart in this run.")
    frame = _Frame(76, 40, _WIDTH - 76 - 16, _HEIGHT - 40 - 64, 0.0, _bars_max(spec))
    legend = [(name, colour) for name, colour, _ in spec.series]
    if spec.reference is not None and not _reference_off_scale(spec):
        legend.append((spec.reference_label, "#222222"))
    ticks = tick_count(frame.vmax, spec.tick_fmt is fmt_int)
    body = [
        *_y_axis(frame, spec.y_label, spec.tick_fmt, ticks),
        *_bar_rects(spec, frame),
        *_reference_line(spec, frame),
        *_x_axis(frame, spec.x_label, _HEIGHT),
        *_category_labels(spec, frame),
    ]
    if len(legend) > 1 or spec.reference is not None:
        body += _legend(legend, frame.left, 18, dashed=spec.reference_label)
    return _svg(spec.chart_id, spec.title, spec.desc, (_WIDTH, _HEIGHT), body)


# ---------------------------------------------------------------- the charts


def funnel_chart(report: dict[str, Any]) -> Markup:
    """Households entered, treated, contacted and ordered, per target group."""
    rows = report["funnel"]
    series: list[tuple[str, str, list[float | None]]] = [
        (label, colour, [float(row[key]) for row in rows])
        for key, label, colour in FUNNEL_STAGES
    ]
    return _bar_chart(
        _Bars(
            chart_id="chart-funnel-svg",
            title="Funnel per target group",
            desc="Households entered, treated, contacted and ordered, per target group.",
            categories=[row["target_group"] for row in rows],
            series=series,
            y_label="households",
            x_label="target group",
        )
    )


def contacts_week_chart(report: dict[str, Any]) -> Markup:
    """Contacts per ISO week, stacked by channel."""
    weeks = report["contacts_per_week"]
    channels = list(weeks[0]["by_channel"]) if weeks else []
    series: list[tuple[str, str, list[float | None]]] = [
        (
            ch,
            _colour(ch, CHANNEL_COLOURS, i),
            [float(w["by_channel"][ch]) for w in weeks],
        )
        for i, ch in enumerate(channels)
    ]
    return _bar_chart(
        _Bars(
            chart_id="chart-contacts-per-week-svg",
            title="Contacts per week and channel",
            desc="Contacts made per week (weeks start on Monday), stacked by channel.",
            categories=[_short_date(w["week_start"]) for w in weeks],
            series=series,
            y_label="contacts",
            x_label="week starting (Monday)",
            stacked=True,
        )
    )


def orders_channel_chart(report: dict[str, Any]) -> Markup:
    """Orders by the channel of the last contact before the order."""
    counts: dict[str, int] = report["orders_by_last_channel"]
    return _bar_chart(
        _Bars(
            chart_id="chart-orders-by-channel-svg",
            title="Orders by last channel",
            desc="Orders by the channel of the household's last contact before ordering.",
            categories=list(counts),
            series=[
                (
                    "orders",
                    CHANNEL_COLOURS["email"],
                    [float(v) for v in counts.values()],
                )
            ],
            y_label="orders",
            x_label="last channel before the order",
        )
    )


def cost_per_order_chart(report: dict[str, Any]) -> Markup:
    """Cost per attributed order, per target group."""
    rows = [
        r
        for r in report["by_group"]
        if r["contacts"] or r["target_group"] in GROUP_COLOURS
    ]
    return _bar_chart(
        _Bars(
            chart_id="chart-cost-per-order-svg",
            title="Cost per order per target group",
            desc="Contact cost divided by attributed orders, per target group (n/a: no orders).",
            categories=[r["target_group"] for r in rows],
            series=[
                ("cost per order", "#D55E00", [r["cost_per_order_chf"] for r in rows])
            ],
            y_label="CHF per order",
            x_label="target group",
            fmt=fmt_chf,
            tick_fmt=fmt_tick,
        )
    )


def spend_chart(report: dict[str, Any]) -> Markup:
    """Spend per calendar month against the monthly budget."""
    months = report["spend_by_month"]
    budget = report["totals"]["budget_monthly_chf"]
    return _bar_chart(
        _Bars(
            chart_id="chart-spend-budget-svg",
            title="Spend against budget per month",
            desc="Contact cost per calendar month against the monthly budget.",
            categories=[m["month"] for m in months],
            series=[("spend", "#0072B2", [m["cost_chf"] for m in months])],
            y_label="CHF",
            x_label="month",
            fmt=fmt_chf,
            tick_fmt=fmt_tick,
            reference=budget,
            reference_label=f"monthly budget ({fmt_chf(budget)})",
        )
    )


def _uplift_rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = [("all eligible households", report["uplift"])]
    rows += [(u["target_group"], u) for u in report.get("uplift_by_group", [])]
    return rows


def _uplift_scale(rows: list[tuple[str, dict[str, Any]]]) -> float:
    ends = [
        abs(u[k])
        for _, u in rows
        for k in ("ci_low_pp", "ci_high_pp")
        if u[k] is not None
    ]
    return nice_max(max([*ends, 1.0]))


def _uplift_row(
    label: str, uplift: dict[str, Any], y: float, x: Callable[[float], float]
) -> list[str]:
    parts = [_text(172, y + 4, label, "end", "tick")]
    if uplift["uplift_pp"] is None:
        return [
            *parts,
            _text(x(0) + 8, y + 4, "not enough households to compare", "start", "tick"),
        ]
    low, mid, high = uplift["ci_low_pp"], uplift["uplift_pp"], uplift["ci_high_pp"]
    tip = f"{label}: {fmt_pp(mid)} (95% CI {fmt_pp(low)} to {fmt_pp(high)})"
    return [
        *parts,
        _line(x(low), x(high), y, y, "whisker"),
        _line(x(low), x(low), y - 6, y + 6, "whisker"),
        _line(x(high), x(high), y - 6, y + 6, "whisker"),
        (
            f'<circle cx="{x(mid):.1f}" cy="{y:.1f}" r="5" class="dot">'
            f"<title>{escape(tip)}</title></circle>"
        ),
        _text(x(mid), y - 10, fmt_pp(mid), "middle", "value"),
    ]


def uplift_chart(report: dict[str, Any]) -> Markup:
    """Uplift in percentage points with its 95% interval: a dot and a whisker per row."""
    rows = _uplift_rows(report)
    scale = _uplift_scale(rows)
    left, width, top, step = 180.0, _WIDTH - 180.0 - 48, 36.0, 40.0
    height = int(top + step * len(rows) + 48)

    def x(value: float) -> float:
        return left + width * (value + scale) / (2 * scale)

    body = []
    for i in range(5):
        value = -scale + scale * i / 2
        body.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top - 12}" '
            f'y2="{top + step * len(rows) - 12:.1f}" class="{"zero" if i == 2 else "grid"}"/>'
        )
        body.append(
            _text(
                x(value), top + step * len(rows) + 6, _pp_tick(value), "middle", "tick"
            )
        )
    for i, (label, uplift) in enumerate(rows):
        body += _uplift_row(label, uplift, top + step * i + 8, x)
    axis = "uplift: treated minus control order rate, percentage points (95% CI)"
    body.append(_text(left + width / 2, height - 8, axis, "middle", "axis-label"))
    desc = "Difference in order rate between treated and control households, with 95% intervals."
    return _svg(
        "chart-uplift-svg",
        "Uplift with 95% confidence interval",
        desc,
        (_WIDTH, height),
        body,
    )


# ---------------------------------------------------------------- communes: small multiples


def _week_x(frame: _Frame, weeks: list[dict[str, Any]]) -> Callable[[float], float]:
    steps = max(1, len(weeks) - 1)
    return lambda index: frame.left + frame.width * index / steps


def _panel_lines(weeks: list[dict[str, Any]], frame: _Frame) -> list[str]:
    x = _week_x(frame, weeks)
    right = frame.left + frame.width
    parts = [
        (
            f'<line x1="{frame.left}" x2="{right}" y1="{frame.y(0.5):.1f}" '
            f'y2="{frame.y(0.5):.1f}" class="half"/>'
        )
    ]
    for key, colour in (
        ("share_connected", "#0072B2"),
        ("share_marketable", "#E69F00"),
    ):
        points = " ".join(
            f"{x(i):.1f},{frame.y(w[key]):.1f}" for i, w in enumerate(weeks)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
    if weeks:
        below = frame.bottom + 16
        parts.append(
            _text(
                frame.left, below, _short_date(weeks[0]["week_start"]), "start", "tick"
            )
        )
        parts.append(
            _text(right, below, _short_date(weeks[-1]["week_start"]), "end", "tick")
        )
        parts.append(_text(frame.left + frame.width / 2, below, "week", "middle", "axis-label"))
    return parts


def _commune_panel(commune: dict[str, Any], origin: tuple[float, float]) -> list[str]:
    ox, oy = origin
    frame = _Frame(ox + 70, oy + 30, 270, 110)
    title = f"{commune['commune']} ({fmt_int(commune['households'])} households)"
    return [
        _text(frame.left, oy + 16, title, "start", "panel-title"),
        *_y_axis(frame, "% of households", lambda v: fmt_pct(v, 0), ticks=2),
        *_panel_lines(commune["weeks"], frame),
        *_poster_marker(commune, frame, _week_x(frame, commune["weeks"])),
    ]


def _poster_marker(
    commune: dict[str, Any], frame: _Frame, x: Callable[[float], float]
) -> list[str]:
    poster, weeks = commune["poster_week"], commune["weeks"]
    if poster is None or not weeks:
        return []
    index = (
        date.fromisoformat(poster) - date.fromisoformat(weeks[0]["week_start"])
    ).days / 7
    px = x(index)
    tip = f"Posters up in the week of {poster}"
    left = px < frame.left + frame.width * 0.6
    label = f"▲ posters week of {_short_date(poster)}" if left else f"posters week of {_short_date(poster)} ▲"
    return [
        (
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{frame.top:.1f}" y2="{frame.bottom:.1f}" '
            f'class="poster"><title>{escape(tip)}</title></line>'
        ),
        _text(px + (-5 if left else 5), frame.bottom + 31, label, "start" if left else "end", "poster-label"),
    ]


def communes_chart(report: dict[str, Any]) -> Markup:
    """Per commune: cumulative share connected and marketable per week, poster week marked."""
    communes = report["communes"][:MAX_COMMUNE_PANELS]
    title = "Households connected and marketable per commune"
    if not communes:
        return _empty("chart-communes-svg", title, "No households in this run.")
    columns, panel_w, panel_h, top = 2, 360, 190, 34
    rows = math.ceil(len(communes) / columns)
    body = _legend(
        [
            ("connected", "#0072B2"),
            ("marketable", "#E69F00"),
            ("poster week", "#009E73"),
        ],
        52,
        20,
        dashed="poster week",
    )
    for i, commune in enumerate(communes):
        origin = (float(panel_w * (i % columns)), float(top + panel_h * (i // columns)))
        body += _commune_panel(commune, origin)
    desc = (
        "Cumulative share of each commune's households connected and marketable by the end "
        "of each week; the vertical line marks the week posters should go up."
    )
    return _svg(
        "chart-communes-svg",
        title,
        desc,
        (panel_w * columns, top + panel_h * rows),
        body,
    )


# ---------------------------------------------------------------- the page

CHARTS: tuple[tuple[str, str, Callable[[dict[str, Any]], Markup], str], ...] = (
    (
        "chart-funnel",
        "Funnel per target group",
        funnel_chart,
        (
            "How many households entered each target group, how many were treated (not held out "
            "in the control group), how many were contacted and how many ordered after a contact."
        ),
    ),
    (
        "chart-contacts-per-week",
        "Contacts per week",
        contacts_week_chart,
        "Contacts made per week (Monday to Sunday, campaign time zone), stacked by channel.",
    ),
    (
        "chart-orders-by-channel",
        "Orders by last channel",
        orders_channel_chart,
        (
            "Each order counted once, for the channel of the household's last contact before it. "
            "Unattributed: no contact before the order, or a control-group household."
        ),
    ),
    (
        "chart-cost-per-order",
        "Cost per order",
        cost_per_order_chart,
        "Contact cost of a target group divided by the orders attributed to it.",
    ),
    (
        "chart-spend-budget",
        "Spend against budget",
        spend_chart,
        (
            "Contact cost per calendar month; the dashed line is the monthly budget. When the "
            "budget is far above the spend, the scale fits the spend and the budget is named "
            "above the chart instead."
        ),
    ),
    (
        "chart-uplift",
        "Uplift",
        uplift_chart,
        (
            "Order rate of treated households minus order rate of the control group, in percentage "
            "points. The whisker is the 95% confidence interval (Newcombe); when it crosses zero "
            "the campaign effect is not yet distinguishable from chance."
        ),
    ),
    (
        "chart-communes",
        "Communes: connected and marketable",
        communes_chart,
        (
            "Per commune, the cumulative share of households connected (blue) and marketable "
            "(orange) by the end of each week. Poster week (green): the week before the first week "
            "in which at least half of the commune's households are marketable, so posters are up "
            "when people can order, not weeks before."
        ),
    ),
)

PAGE_STYLE = """body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  margin: 0 auto; max-width: 1100px; padding: 1rem 1.5rem 3rem; color: #1b1b1b; }
h1 { margin-bottom: .2rem; } .sub { color: #555; margin-top: 0; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: .8rem;
  margin: 1.2rem 0; }
.kpi { border: 1px solid #ddd; border-radius: 8px; padding: .7rem .9rem; background: #fafafa; }
.kpi .v { font-size: 1.5rem; font-weight: 600; } .kpi .l { color: #555; font-size: .85rem; }
.kpi .n { color: #555; font-size: .8rem; }
.bad { color: #b00020; } .good { color: #1b7f3b; }
figure { margin: 2.5rem 0; } figcaption { color: #333; max-width: 75ch; margin-bottom: .6rem; }
figcaption strong { display: block; font-size: 1.1rem; color: #1b1b1b; }
svg { max-width: 100%; height: auto; font-size: 12px; }
svg .grid { stroke: #e3e3e3; } svg .axis { stroke: #555; } svg .zero { stroke: #555; }
svg .tick { fill: #444; } svg .axis-label { fill: #222; font-weight: 600; }
svg .value { fill: #222; font-size: 11px; } svg .legend { fill: #222; }
svg .reference { stroke: #222; stroke-width: 2; stroke-dasharray: 6 4; } svg .ref { fill: #222; }
svg .whisker { stroke: #0072B2; stroke-width: 2; } svg .dot { fill: #0072B2; }
svg .half { stroke: #bbb; stroke-dasharray: 3 3; } svg .empty { fill: #777; }
svg .poster { stroke: #009E73; stroke-width: 2; stroke-dasharray: 5 3; }
svg .poster-label { fill: #006e50; font-size: 11px; }
svg .poster-label, svg .value { paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg .panel-title { font-weight: 600; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }
th, td { border-bottom: 1px solid #e3e3e3; padding: .3rem .6rem; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
dt { font-weight: 600; margin-top: .5rem; } dd { margin-left: 1rem; color: #333; }
"""  # the report's look, also the plan's and the preview's


def page_head(title: str, extra_style: str = "") -> str:
    """The start of one self-contained page (the report, the plan, the preview) up to <body>: `title` may hold
    Jinja expressions; the look is PAGE_STYLE and what the page adds."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{title}</title>\n<style>\n{PAGE_STYLE}{extra_style}</style>\n</head>")


_TEMPLATE = page_head("Campaign report – {{ campaign.campaign_id }}") + """
<body>
<header>
<h1>Campaign report: {{ campaign.campaign_id }}</h1>
<p class="sub">{{ period }} · time zone {{ campaign.timezone }}
{%- if campaign.seed is not none %} · seed {{ campaign.seed }}{% endif %}</p>
</header>
<main>
<section aria-label="Key figures" class="kpis">
{% for kpi in kpis %}<div class="kpi">
<div class="l">{{ kpi.label }}</div>
<div class="v{% if kpi.tone %} {{ kpi.tone }}{% endif %}">{{ kpi.value }}</div>
<div class="n">{{ kpi.note }}</div>
</div>
{% endfor %}</section>
{% for chart in charts %}
<figure id="{{ chart.id }}" aria-labelledby="{{ chart.id }}-caption">
<figcaption id="{{ chart.id }}-caption">
<strong>{{ chart.title }}</strong>{{ chart.caption }}</figcaption>
{{ chart.svg }}
</figure>
{% endfor %}
{% for table in tables %}
<section>
<h2>{{ table.title }}</h2>
<table id="{{ table.id }}">
<thead><tr>{% for label, num in table.head %}
<th scope="col"{% if num %} class="num"{% endif %}>{{ label }}</th>{% endfor %}
</tr></thead>
<tbody>
{% for row in table.rows %}<tr>{% for text, num in row %}
<td{% if num %} class="num"{% endif %}>{{ text }}</td>{% endfor %}
</tr>
{% else %}<tr><td colspan="{{ table.head|length }}">{{ table.empty }}</td></tr>
{% endfor %}</tbody>
</table>
{% if table.note %}<p>{{ table.note }}</p>{% endif %}
</section>
{% endfor %}
<section>
<h2>How the figures are defined</h2>
<dl>
{% for name, text in definitions.items() %}<dt>{{ name }}</dt><dd>{{ text }}</dd>
{% endfor %}</dl>
</section>
</main>
</body>
</html>
"""


def _environment() -> Environment:
    env = Environment(
        autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True
    )
    env.filters["int_"] = fmt_int
    env.filters["chf"] = fmt_chf
    env.filters["pct"] = fmt_pct
    return env


def _period(campaign: dict[str, Any]) -> str:
    start, end = campaign.get("start"), campaign.get("end")
    if not start or not end:
        return "period unknown"
    return f"{start[:10]} to {end[:10]}"


def _kpi(label: str, value: str, note: str, tone: str = "") -> dict[str, str]:
    return {"label": label, "value": value, "note": note, "tone": tone}


def _kpis(report: dict[str, Any]) -> list[dict[str, str]]:
    t, u = report["totals"], report["uplift"]
    over = t["budget_used"] is not None and t["budget_used"] > 1
    good = bool(u["significant"]) and (u["uplift_pp"] or 0) > 0
    treated, control = u["treated"]["conversion_rate"], u["control"]["conversion_rate"]
    ci = f"95% CI {fmt_pp(u['ci_low_pp'])} to {fmt_pp(u['ci_high_pp'])}"
    return [
        _kpi(
            "Households entered",
            fmt_int(t["households"]),
            f"{fmt_int(t['treated'])} treated, {fmt_int(t['control_group'])} control group",
        ),
        _kpi(
            "Contacts",
            fmt_int(t["contacts"]),
            f"{fmt_int(t['households_contacted'])} households contacted",
        ),
        _kpi(
            "Spend",
            fmt_chf(t["cost_chf"]),
            f"of {fmt_chf(t['budget_chf'])} budget ({fmt_pct(t['budget_used'])})",
            "bad" if over else "",
        ),
        _kpi(
            "Orders",
            fmt_int(t["orders"]),
            f"{fmt_int(t['orders_treated'])} treated, {fmt_int(t['orders_control'])} control",
        ),
        _kpi(
            "Cost per order",
            fmt_chf(t["cost_per_order_chf"]),
            f"over {fmt_int(t['orders_attributed'])} attributed orders",
        ),
        _kpi(
            "Uplift",
            fmt_pp(u["uplift_pp"]),
            f"treated {fmt_pct(treated)} vs control {fmt_pct(control)}; {ci}",
            "good" if good else "",
        ),
    ]


def _cell_rows(report: dict[str, Any]) -> Rows:
    rows = [
        [
            (r["target_group"], False),
            (r["channel"], False),
            (str(r["cycle"]), True),
            (fmt_int(r["contacts"]), True),
            (fmt_int(r["households"]), True),
            (fmt_chf(r["cost_chf"]), True),
            (fmt_int(r["orders"]), True),
            (fmt_pct(r["conversion_rate"]), True),
            (fmt_chf(r["cost_per_order_chf"]), True),
        ]
        for r in report["by_group_channel_cycle"]
    ]
    t = report["totals"]
    if rows:
        rows.append(
            [
                ("Total", False), ("", False), ("", True), (fmt_int(t["contacts"]), True),
                (fmt_int(t["households_contacted"]), True), (fmt_chf(t["cost_chf"]), True),
                (fmt_int(t["orders_attributed"]), True), ("", True), (fmt_chf(t["cost_per_order_chf"]), True),
            ]
        )
    return rows


def _commune_rows(report: dict[str, Any]) -> Rows:
    return [
        [
            (c["commune"], False),
            (c["canton"] or "–", False),
            (fmt_int(c["households"]), True),
            (c["first_connected"] or "–", False),
            (c["first_marketable"] or "–", False),
            (c["half_marketable_week"] or "–", False),
            (c["poster_week"] or "–", False),
        ]
        for c in report["communes"]
    ]


_CELL_HEAD = (
    ("Target group", False),
    ("Channel", False),
    ("Cycle", True),
    ("Contacts", True),
    ("Households", True),
    ("Cost", True),
    ("Orders", True),
    ("Conversion", True),
    ("Cost per order", True),
)
_COMMUNE_HEAD = (
    ("Commune", False),
    ("Canton", False),
    ("Households", True),
    ("First connected", False),
    ("First marketable", False),
    ("Week ≥ 50 % marketable", False),
    ("Poster week", False),
)
_DECISION_HEAD = (("Decision", False), ("Reason", False), ("Count", True))


def _table(
    table_id: str, title: str, head: Sequence[tuple[str, bool]], rows: Rows, **kw: str
) -> dict[str, Any]:
    empty, note = kw.get("empty", "Nothing to show."), kw.get("note", "")
    return {
        "id": table_id,
        "title": title,
        "head": list(head),
        "rows": rows,
        "empty": empty,
        "note": note,
    }


def _tables(report: dict[str, Any]) -> list[dict[str, Any]]:
    decisions: Rows = [
        [(d["decision"], False), (d["reason"], False), (fmt_int(d["count"]), True)]
        for d in report["decisions"]["by_reason"]
    ]
    return [
        _table(
            "table-group-channel-cycle",
            "Per target group, channel and cycle",
            _CELL_HEAD,
            _cell_rows(report),
            empty="No contacts in this run.",
        ),
        _table(
            "table-communes",
            "Communes and poster timing",
            _COMMUNE_HEAD,
            _commune_rows(report),
            empty="No households in this run.",
            note=DEFINITION_POSTER,
        ),
        _table(
            "table-decisions",
            "Decisions not to contact",
            _DECISION_HEAD,
            decisions,
            empty="No decisions recorded.",
        ),
    ]


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one self-contained, autoescaped HTML page."""
    charts = [
        {"id": cid, "title": title, "svg": draw(report), "caption": caption}
        for cid, title, draw, caption in CHARTS
    ]
    return (
        _environment()
        .from_string(_TEMPLATE)
        .render(
            campaign=report["campaign"],
            period=_period(report["campaign"]),
            kpis=_kpis(report),
            charts=charts,
            tables=_tables(report),
            definitions=report.get("definitions", {}),
        )
    )


# The chart builders other pages (the plan) draw with.
Bars = _Bars
bar_chart = _bar_chart
