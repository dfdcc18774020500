"""The plan as one self-contained page, `plan.html`: the report's look and chart builders, the plan's figures."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from shared.report.html import (
    CHANNEL_COLOURS,
    DEFINITION_POSTER,
    Bars,
    bar_chart,
    communes_chart,
    fmt_chf,
    fmt_int,
    fmt_tick,
    page_head,
)

SERIES = (("email", None, "email"), ("sms", None, "sms"), ("print", "personalised", "letter (personalised)"),
          ("print", "partially_addressed", "partially addressed mail"), ("call", None, "call"))
_COLOURS = {"letter (personalised)": CHANNEL_COLOURS["print"], "partially addressed mail": "#56B4E9"}


def _short(iso: str) -> str:
    return iso[5:10] if len(iso) >= 10 else iso


def weeks_chart(plan: dict[str, Any]) -> Markup:
    cells: dict[str, dict[tuple[str, str | None], float]] = defaultdict(lambda: defaultdict(float))
    for row in plan["weeks"]:
        cells[row["week_start"]][(row["channel"], row["kind"])] += row["contacts"]
    weeks = sorted(cells)
    present = [s for s in SERIES if any(cells[w].get((s[0], s[1])) for w in weeks)]
    return bar_chart(Bars(
        chart_id="chart-plan-weeks-svg", title="Contacts per ISO week, by channel and print kind",
        desc="Planned contacts per week (Monday to Sunday), stacked by channel and print kind.",
        categories=[_short(w) for w in weeks],
        series=[(label, _COLOURS.get(label, CHANNEL_COLOURS.get(ch, "#999")), [cells[w].get((ch, kind), 0.0)
                                                                               for w in weeks])
                for ch, kind, label in present],
        y_label="contacts", x_label="week starting (Monday)", stacked=True))


def calls_chart(plan: dict[str, Any]) -> Markup:
    days = [d for d in plan["days"] if d["calls_due"] or d["backlog"] or d["calls_listed"]]
    return bar_chart(Bars(
        chart_id="chart-plan-calls-svg", title="Call list: listed and backlog per day",
        desc="Calls put on each day's list (capacity calls.per_day) and calls left waiting after it.",
        categories=[_short(d["day"]) for d in days],
        series=[("listed", CHANNEL_COLOURS["call"], [float(d["calls_listed"]) for d in days]),
                ("backlog carried", "#8C8C8C", [float(d["backlog"]) for d in days])],
        y_label="calls", x_label="day", stacked=True,
        reference=float(plan["campaign"]["calls_per_day"]), reference_label="capacity (calls.per_day)"))


def months_chart(plan: dict[str, Any]) -> Markup:
    months = plan["months"]
    budget = plan["campaign"]["budget_chf_monthly"]
    return bar_chart(Bars(
        chart_id="chart-plan-months-svg", title="Cost per month against the budget",
        desc="Planned contact cost per calendar month against the monthly budget.",
        categories=[m["month"] for m in months], series=[("cost", "#0072B2", [m["cost_chf"] for m in months])],
        y_label="CHF", x_label="month", fmt=fmt_chf, tick_fmt=fmt_tick, reference=budget,
        reference_label=f"monthly budget ({fmt_chf(budget)})"))


def orders_chart(plan: dict[str, Any]) -> Markup:
    rows = plan["orders"]
    return bar_chart(Bars(
        chart_id="chart-plan-orders-svg", title="Expected orders per target group",
        desc="Expected orders with the low and high end of the 95% interval.",
        categories=[r["target_group"] for r in rows],
        series=[("low", "#C6DBEF", [r["low"] for r in rows]), ("expected", "#2171B5", [r["expected"] for r in rows]),
                ("high", "#08306B", [r["high"] for r in rows])],
        y_label="orders", x_label="target group", fmt=lambda v: f"{v:.1f}", tick_fmt=fmt_tick))


CHARTS = (
    ("chart-plan-weeks", "Contacts per week", weeks_chart,
     "What the rollout plan causes each week: e-mails, SMS, letters (personalised and partially addressed) and "
     "calls, as the journeys, the gate (consent, law, caps, windows, holidays) and the budget let them go."),
    ("chart-plan-calls", "Call centre load", calls_chart,
     "Calls listed each day up to the capacity, and the backlog carried to the next day (oldest request first)."),
    ("chart-plan-months", "Budget", months_chart,
     "Cost per month; a month that reaches its budget defers the rest of its contacts to the next month."),
    ("chart-plan-orders", "Orders", orders_chart,
     "Expected orders from the response rates (--rates); without rates nobody reacts and no order is expected."),
    ("chart-communes", "Communes: connected and marketable", lambda p: communes_chart(p),
     "Per commune, the cumulative share of households connected (blue) and marketable (orange) by the end of "
     "each week, and the poster week (green)."),
)

_TEMPLATE = page_head("Campaign plan – {{ campaign.campaign_id }}") + """
<body>
<header>
<h1>Campaign plan: {{ campaign.campaign_id }}</h1>
<p class="sub">{{ campaign.start[:10] }} to {{ campaign.end[:10] }} · responses: {{ campaign.rates }}
 · settings changed: {{ changed }}</p>
</header>
<main>
<section aria-label="Key figures" class="kpis">
{% for label, value, note in kpis %}<div class="kpi"><div class="l">{{ label }}</div>
<div class="v">{{ value }}</div><div class="n">{{ note }}</div></div>
{% endfor %}</section>
{% for chart in charts %}
<figure id="{{ chart.id }}" aria-labelledby="{{ chart.id }}-caption">
<figcaption id="{{ chart.id }}-caption"><strong>{{ chart.title }}</strong>{{ chart.caption }}</figcaption>
{{ chart.svg }}
</figure>
{% endfor %}
{% for table in tables %}
<section><h2>{{ table.title }}</h2>
<table id="{{ table.id }}"><thead><tr>{% for h in table.head %}<th scope="col">{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in table.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></section>
{% endfor %}
<section><h2>How the figures are defined</h2><dl>
<dt>Poster week</dt><dd>{{ poster }}</dd>
<dt>Without rates</dt><dd>Nobody orders or opts out: the upper bound of volumes and cost.</dd>
</dl></section>
</main>
</body>
</html>
"""


def _kpis(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    c, t = plan["campaign"], plan["totals"]
    kpis = [("Households", fmt_int(c["households"]), f"control group {fmt_int(c['control_group'])}"),
            ("Contacts", fmt_int(t["contacts"]), ", ".join(f"{k} {fmt_int(v)}" for k, v in t["by_channel"].items())),
            ("Cost", fmt_chf(t["cost_chf"]), f"budget {fmt_chf(c['budget_chf_monthly'])} a month"),
            ("Budget binds", t["first_budget_month"] or "never",
             f"deferrals {fmt_int(t['deferred_by_budget'])} (a step each month it waits)"),
            ("Peak call backlog", fmt_int(t["peak_backlog"]), f"capacity {fmt_int(c['calls_per_day'])} a day"),
            ("Expected orders", f"{sum(o['expected'] for o in plan['orders']):.1f}",
             f"{sum(o['low'] for o in plan['orders']):.1f} .. {sum(o['high'] for o in plan['orders']):.1f}")]
    return kpis


def _tables(plan: dict[str, Any]) -> list[dict[str, Any]]:
    tables = [
        {"id": "table-plan-months", "title": "Months", "head": ["month", "cost CHF", "budget CHF",
                                                                  "deferred by budget"],
         "rows": [[m["month"], fmt_chf(m["cost_chf"]), fmt_chf(m["budget_chf"]), fmt_int(m["deferred_by_budget"])]
                  for m in plan["months"]]},
        {"id": "table-plan-orders", "title": "Orders", "head": ["target group", "households", "expected", "low",
                                                                  "high"],
         "rows": [[o["target_group"], fmt_int(o["households"]), f"{o['expected']:.1f}", f"{o['low']:.1f}",
                   f"{o['high']:.1f}"] for o in plan["orders"]]},
        {"id": "table-plan-communes", "title": "Communes", "head": ["commune", "canton", "households",
                                                                      "half marketable", "poster week"],
         "rows": [[c["commune"], c["canton"], fmt_int(c["households"]), c["half_marketable_week"] or "-",
                   c["poster_week"] or "-"] for c in plan["communes"]]},
    ]
    if "without" in plan:
        a, b = plan["without"]["totals"], plan["totals"]
        tables.insert(0, {"id": "table-plan-compare", "title": "Compared with the plan without the changes",
                          "head": ["", "without", "with", "change"],
                          "rows": [[label, fmt(a[key]), fmt(b[key]), fmt(b[key] - a[key])]
                                   for label, key, fmt in (("contacts", "contacts", fmt_int),
                                                           ("cost CHF", "cost_chf", fmt_chf),
                                                           ("deferred by budget", "deferred_by_budget", fmt_int),
                                                           ("peak call backlog", "peak_backlog", fmt_int))]
                          + [["budget first binds", a["first_budget_month"] or "never",
                              b["first_budget_month"] or "never", ""]]})
    return tables


def render_plan_html(plan: dict[str, Any]) -> str:
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    charts = [{"id": cid, "title": title, "caption": caption, "svg": draw(plan)}
              for cid, title, draw, caption in CHARTS]
    return env.from_string(_TEMPLATE).render(
        campaign=plan["campaign"], changed=", ".join(plan["campaign"]["settings_changed"]) or "none",
        kpis=_kpis(plan), charts=charts, tables=_tables(plan), poster=DEFINITION_POSTER)


def write_plan_html(plan: dict[str, Any], out: Path) -> Path:
    path = out / "plan.html"
    path.write_text(render_plan_html(plan), encoding="utf-8")
    return path
