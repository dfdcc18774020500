"""`dispatch demo` end to end: over every rolling window of the run's config the caps hold per household,
and no contact breaks the law or an objection found in the input files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

DISPATCH = Path(sys.executable).with_name("dispatch")
HOUSEHOLDS, DAYS = 40, 45


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("caps") / "out"
    proc = subprocess.run([str(DISPATCH), "demo", "--households", str(HOUSEHOLDS), "--days", str(DAYS),
                           "--seed", "11", "--out", str(folder)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return folder


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    key = "customer_id" if "customer_id" in rows[0] else "household_id"
    return {r[key]: r for r in rows}


def _pressure(contacts: list[dict[str, Any]]) -> dict[str, list[tuple[str, datetime]]]:
    """Contacts that put pressure on a household: a call attempt followed by another reached nobody, and
    the project gives its place in the cap back (functions/responses/retry.py), so only the last counts."""
    last_attempt: dict[tuple[str, str, int, int], int] = defaultdict(int)
    for c in contacts:
        step = (c["household_id"], c["journey_id"], c["cycle"], c["step"])
        last_attempt[step] = max(last_attempt[step], int(c.get("attempt") or 1))
    by_household: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for c in contacts:
        if int(c.get("attempt") or 1) < last_attempt[(c["household_id"], c["journey_id"], c["cycle"], c["step"])]:
            continue
        by_household[c["household_id"]].append((c["channel"], datetime.fromisoformat(c["at"])))
    return by_household


def test_every_rolling_window_keeps_the_per_channel_and_all_channel_caps(out: Path) -> None:
    caps = json.loads((out / "run.json").read_text(encoding="utf-8"))["config"]["caps"]
    contacts = _jsonl(out / "contact-history.jsonl")
    assert len(contacts) >= 20, "too few contacts to say anything about caps"
    windows = 0
    for household, history in _pressure(contacts).items():
        scopes = [(caps["all_channels"], [at for _, at in history])]
        scopes += [(cap, [at for ch, at in history if ch == channel]) for channel, cap in caps["per_channel"].items()]
        for cap, times in scopes:
            for start in times:  # a window aligned to a contact loses none of its contacts
                inside = [t for t in times if start <= t < start + timedelta(days=cap["days"])]
                windows += 1
                assert len(inside) <= cap["max"], f"{household}: {len(inside)} contacts in {cap['days']} days"
    print(f"\n{len(contacts)} contacts, {windows} rolling windows checked")


def test_no_contact_against_the_law_or_an_objection(out: Path) -> None:
    customers = _csv(out / "input" / "customers.csv")
    rollout = _csv(out / "input" / "rollout.csv")
    star_rule = json.loads((out / "run.json").read_text(encoding="utf-8"))["config"]["calls"]["respect_star_entries"]
    for c in _jsonl(out / "contact-history.jsonl"):
        person = customers.get(c["customer_id"] or "", {})
        if c["channel"] == "call":
            assert person.get("do_not_call") != "true", f"call to do_not_call {c['customer_id']}"
            if star_rule and person.get("phone_listing") != "listed":
                assert person.get("call_consent") == "true", f"call to {person.get('phone_listing')} number"
        if c["channel"] == "print" and c["kind"] == "personalised":
            assert person.get("do_not_mail") != "true", f"letter to do_not_mail {c['customer_id']}"
        if c["channel"] == "print" and c["kind"] == "partially_addressed":
            assert rollout[c["household_id"]]["no_ads_sticker"] != "true", f"leaflet to sticker {c['household_id']}"


def test_every_skip_and_deferral_says_why(out: Path) -> None:
    decisions = [d for d in _jsonl(out / "decisions.jsonl") if d["decision"] in ("skipped", "deferred")]
    assert decisions
    assert all(str(d.get("reason") or "").strip() for d in decisions)
