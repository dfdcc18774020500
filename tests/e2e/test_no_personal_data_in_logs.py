"""No personal data in logs: the logs of a whole run, at the most talkative level, hold no email
address, phone number, name or street of the input."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.demo_town import make_town


@pytest.fixture(scope="module")
def logs_and_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("pii")
    town = make_town(root / "input", households=30, days=30, seed=3)
    env = {**os.environ, "DISPATCH_LOG_LEVEL": "DEBUG", "POWERTOOLS_LOG_LEVEL": "DEBUG"}
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "run", "--customers", str(town.customers), "--feed", str(town.rollout),
         "--responses", str(town.responses), "--days", "30", "--out", str(root / "out")],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2], timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr, root / "input"


def _column(path: Path, name: str) -> set[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row[name].strip() for row in csv.DictReader(handle) if row.get(name, "").strip()}


def test_the_run_logged_at_debug_level(logs_and_inputs: tuple[str, Path]) -> None:
    logs, _ = logs_and_inputs
    assert '"level":"DEBUG"' in logs  # the check below means something only if the functions talked


def test_no_email_address_or_phone_number_in_the_logs(logs_and_inputs: tuple[str, Path]) -> None:
    logs, inputs = logs_and_inputs
    emails = {e.lower() for e in _column(inputs / "customers.csv", "email")}
    assert emails and not [e for e in emails if e in logs.lower()]
    # Every phone-like run in the logs (digits with spaces, dashes or a leading +), as its last nine digits
    logged = {re.sub(r"\D", "", m)[-9:] for m in re.findall(r"\+?\d[\d \-/.]{7,}\d", logs)}
    phones = {re.sub(r"\D", "", p)[-9:] for p in _column(inputs / "customers.csv", "mobile")}
    assert phones and not phones & logged


def test_no_name_or_street_in_the_logs(logs_and_inputs: tuple[str, Path]) -> None:
    logs, inputs = logs_and_inputs
    with (inputs / "customers.csv").open(encoding="utf-8-sig", newline="") as handle:
        names = {f"{r['first_name']} {r['last_name']}" for r in csv.DictReader(handle)}
    last_names = {n.split(" ", 1)[1] for n in names if " " in n}
    streets = _column(inputs / "rollout.csv", "street")
    assert not [n for n in names if n in logs]
    assert not [n for n in last_names if re.search(rf"\b{re.escape(n)}\b", logs)]
    assert not [s for s in streets if s in logs]
