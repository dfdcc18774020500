"""`dispatch plan` and `dispatch preview`: before launch, the forecast of a rollout plan and the gallery of
every message — the command line only; the planner lives in `shared.plan`, the gallery in `shared.preview`."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any


def add_commands(sub: Any) -> None:
    plan = sub.add_parser("plan", help="forecast a campaign from a rollout plan with the product's own rules, no AWS")
    plan.add_argument("--customers", type=Path, required=True, help="the CRM extract")
    plan.add_argument("--feed", type=Path, required=True,
                      help="the rollout plan: the feed's columns with planned connected_at and marketable_from")
    plan.add_argument("--config", type=Path)
    plan.add_argument("--offers", type=Path)
    plan.add_argument("--rates", type=Path, help="response shares (YAML) or an earlier run's report.json")
    plan.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                      help="change a config key for this plan (dotted path, YAML value), e.g. calls.per_day=300")
    plan.add_argument("--compare", action="store_true", help="also plan without the --set changes, side by side")
    plan.add_argument("--days", type=int, help="plan this many days from the start (default: until every journey "
                      "has ended)")
    plan.add_argument("--start", type=datetime.fromisoformat,
                      help="ISO 8601 (default: 00:00 local on the day of the earliest connected_at)")
    plan.add_argument("--out", type=Path, default=Path("out"))
    preview = sub.add_parser("preview", help="every message the catalogue will send, on one page preview.html")
    preview.add_argument("--offers", type=Path)
    preview.add_argument("--config", type=Path)
    preview.add_argument("--out", type=Path, default=Path("out"))


def plan_command(args: argparse.Namespace) -> int:
    from shared.inputs import InputFileError
    from shared.plan import PlanInputs, make_plan, write_plan
    from shared.plan.html import write_plan_html
    from shared.plan.rates import load_rates
    from shared.plan.table import render_plan
    from shared.plan.whatif import config_with

    for path in (args.customers, args.feed):
        if not path.is_file():
            raise InputFileError(str(path), 0, "file not found")
    rates = load_rates(args.rates)
    inputs = PlanInputs(customers=args.customers, feed=args.feed, config=config_with(args.config, args.sets),
                        offers=args.offers, rates=rates, days=args.days, start=args.start, sets=tuple(args.sets))
    plan = make_plan(inputs)
    baseline = None
    if args.compare:
        baseline = make_plan(PlanInputs(customers=args.customers, feed=args.feed, config=config_with(args.config, []),
                                        offers=args.offers, rates=rates, days=args.days, start=args.start))
        plan["without"] = {k: baseline[k] for k in ("campaign", "totals", "weeks", "days", "months", "orders")}
    written = write_plan(plan, args.out)
    html = write_plan_html(plan, args.out)
    print(render_plan(plan, baseline))
    print(f"planned in {plan['campaign']['seconds']:.1f} s ({plan['campaign']['cohorts']} cohorts); "
          f"written: {written}, {html}")
    return 0


def preview_command(args: argparse.Namespace) -> int:
    from shared.config import load_config
    from shared.offers import load_offers
    from shared.preview import write_preview

    page, problems = write_preview(load_offers(args.offers), load_config(args.config), args.out)
    print(f"written: {page}")
    for problem in problems:
        print(f"problem: {problem}")
    print(json.dumps({"problems": len(problems)}))
    return 1 if problems else 0
