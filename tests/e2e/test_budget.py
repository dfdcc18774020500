"""`dispatch run` end to end with a monthly budget smaller than the campaign would spend: in no calendar
month (Europe/Zurich) does the contact history cost more than the budget, and the steps the budget
could not pay are deferred with a reason that names it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from infra.demo_town import make_town

DISPATCH = Path(sys.executable).with_name("dispatch")
HOUSEHOLDS, DAYS = 30, 50
MONTHLY_CHF = Decimal("25")
CONFIG = f"budget_chf: {{monthly: {MONTHLY_CHF}}}\n"


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("budget")
    town = make_town(root / "input", households=HOUSEHOLDS, days=DAYS, seed=5)
    config = root / "input" / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    folder = root / "out"
    proc = subprocess.run([str(DISPATCH), "run", "--customers", str(town.customers), "--feed", str(town.rollout),
                           "--responses", str(town.responses), "--config", str(config), "--days", str(DAYS),
                           "--out", str(folder)], cwd=root, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return folder


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_no_calendar_month_costs_more_than_the_monthly_budget(out: Path) -> None:
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for contact in _jsonl(out / "contact-history.jsonl"):
        month = datetime.fromisoformat(contact["at"]).astimezone(ZoneInfo("Europe/Zurich")).strftime("%Y-%m")
        spend[month] += Decimal(str(contact["cost_chf"]))
    print(f"\nspend by month (budget CHF {MONTHLY_CHF}): " + ", ".join(f"{m}: {v}" for m, v in sorted(spend.items())))
    assert len(spend) >= 2, "the run should span more than one month"
    assert all(total <= MONTHLY_CHF for total in spend.values()), dict(spend)
    assert max(spend.values()) > MONTHLY_CHF * Decimal("0.8"), "the budget should have been nearly used up"


def test_steps_the_budget_could_not_pay_are_deferred_with_the_reason(out: Path) -> None:
    deferred = [d for d in _jsonl(out / "decisions.jsonl")
                if d["decision"] == "deferred" and "monthly budget exhausted" in d["reason"]]
    print(f"\n{len(deferred)} deferrals for the budget, channels {sorted({d['channel'] for d in deferred})}")
    assert deferred
    assert all(f"of {MONTHLY_CHF:.2f} left in" in d["reason"] for d in deferred)


def test_the_report_shows_every_month_within_budget(out: Path) -> None:
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["spend_by_month"] and all(m["within_budget"] for m in report["spend_by_month"])
