"""`dispatch bench --plan-households N`: a generated rollout plan of N households planned, measured (time,
peak memory), beside the replay of a small demo town and the plan of the same town: seconds per household
of each and their ratio."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_PLAN_SECONDS_PER_MILLION = 120.0
# (commune, canton, postcode, locality): several cantons, so cantonal holidays and languages differ
COMMUNES = (("Winterthur", "ZH", "8400"), ("Zürich", "ZH", "8004"), ("Baden", "AG", "5400"), ("Thun", "BE", "3600"),
            ("Bern", "BE", "3011"), ("Yverdon-les-Bains", "VD", "1400"), ("Lausanne", "VD", "1004"),
            ("Neuchâtel", "NE", "2000"), ("Bellinzona", "TI", "6500"), ("Locarno", "TI", "6600"),
            ("Luzern", "LU", "6003"), ("St. Gallen", "SG", "9000"), ("Sion", "VS", "1950"), ("Chur", "GR", "7000"))
CUSTOMER_COLUMNS = ("customer_id,household_id,first_name,last_name,language,email,mobile,phone_listing,has_internet,"
                    "internet_down_mbps,has_mobile,email_consent,sms_consent,call_consent,do_not_call,do_not_mail\n")
FEED_COLUMNS = ("household_id,street,house_number,postcode,locality,commune,canton,connected_at,marketable_from,"
                "max_down_mbps,no_ads_sticker\n")


def _flag(value: bool) -> str:
    return "true" if value else "false"


def write_rollout_plan(folder: Path, households: int, seed: int = 5, first: date = date(2026, 3, 2),
                       weeks: int = 26) -> tuple[Path, Path]:
    """customers.csv and a rollout plan of `households` households connected over `weeks` weeks, each
    marketable two to four weeks after its connection; about 55 % with a customer (internet, mobile only or
    former), with the consents, objections and numbers (some landlines) that make the gate's verdicts differ."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    customers, feed = folder / "customers.csv", folder / "rollout.csv"
    with customers.open("w", encoding="utf-8") as crm, feed.open("w", encoding="utf-8") as plan:
        crm.write(CUSTOMER_COLUMNS)
        plan.write(FEED_COLUMNS)
        number = 0
        for i in range(households):
            commune, canton, postcode = COMMUNES[i % len(COMMUNES) if rng.random() < 0.5 else rng.randrange(4)]
            day = first + timedelta(days=rng.randrange(weeks * 7))
            if day.weekday() > 4:
                day -= timedelta(days=day.weekday() - 4)
            marketable = day + timedelta(days=rng.choice((14, 21, 28)))
            max_down = rng.choice((1000, 10000))
            plan.write(f"HH-{i:08d},Bahnhofstrasse,{i % 300 + 1},{postcode},{commune},{commune},{canton},"
                       f"{day.isoformat()}T{rng.randrange(7, 18):02d}:{rng.randrange(60):02d}:00+01:00,"
                       f"{marketable.isoformat()},{max_down},{_flag(rng.random() < 0.2)}\n")
            for _ in range(0 if rng.random() < 0.45 else (1 if rng.random() < 0.85 else 2)):
                number += 1
                crm.write(_customer(rng, number, i))
    return customers, feed


def _customer(rng: random.Random, number: int, household: int) -> str:
    kind = rng.random()
    internet, mobile = (True, rng.random() < 0.5) if kind < 0.65 else ((False, True) if kind < 0.9 else (False, False))
    speed = str(rng.choice((50, 100, 300, 1000))) if internet else ""
    phone = "" if rng.random() < 0.2 else (f"079 {rng.randrange(100, 999)} {rng.randrange(10, 99)} "
                                           f"{rng.randrange(10, 99)}" if rng.random() < 0.85 else
                                           f"044 {rng.randrange(200, 999)} {rng.randrange(10, 99)} "
                                           f"{rng.randrange(10, 99)}")
    email = "" if rng.random() < 0.15 else f"c{number}@example.ch"
    listing = rng.choice(("listed", "listed", "starred", "unlisted"))
    return (f"C-{number:08d},HH-{household:08d},Anna,Muster,{rng.choice(('de', 'fr', 'it', 'en'))},{email},{phone},"
            f"{listing},{_flag(internet)},{speed},{_flag(mobile)},{_flag(rng.random() < 0.7)},"
            f"{_flag(rng.random() < 0.5)},{_flag(rng.random() < 0.4)},{_flag(rng.random() < 0.05)},"
            f"{_flag(rng.random() < 0.05)}\n")


def measure_plan(customers: Path, feed: Path, days: int | None = None) -> dict[str, Any]:
    """Plan the inputs in this process; seconds and peak memory (call it in a process of its own)."""
    import resource

    from shared.config import DispatchConfig
    from shared.plan import PlanInputs, make_plan

    began = time.perf_counter()
    plan = make_plan(PlanInputs(customers, feed, DispatchConfig(), days=days))
    return {"seconds": time.perf_counter() - began, "reading": plan["campaign"]["seconds_reading"],
            "households": plan["campaign"]["households"], "cohorts": plan["campaign"]["cohorts"],
            "contacts": plan["totals"]["contacts"], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            / 1024}


def _subprocess(code: str) -> dict[str, Any]:
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def measure_replay(folder: Path, households: int, days: int) -> dict[str, Any]:
    """The demo town replayed (`dispatch run`'s pipeline, no responses) and planned, each in its own process."""
    from infra.demo_town import make_town

    town = make_town(folder / "town", households=households, days=days, seed=7)
    replay = _subprocess(
        "import json, time; from pathlib import Path; from infra.pipeline import RunInputs, run; "
        f"t = time.perf_counter(); r = run(RunInputs(customers=Path({str(town.customers)!r}), "
        f"feed=Path({str(town.rollout)!r}), days={days}, out=Path({str(folder / 'replay')!r}))); "
        "print(json.dumps({'seconds': time.perf_counter() - t, 'contacts': r.counts['contacts']}))")
    plan = _subprocess(f"import json; from pathlib import Path; from infra.plan_bench import measure_plan; "
                       f"print(json.dumps(measure_plan(Path({str(town.customers)!r}), Path({str(town.rollout)!r}), "
                       f"{days})))")
    return {"households": households, "days": days, "replay": replay, "plan": plan}


def plan_bench(households: int, replay_households: int = 40, replay_days: int = 30) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        customers, feed = write_rollout_plan(folder / "plan", households)
        generated = time.perf_counter() - began
        big = _subprocess(f"import json; from pathlib import Path; from infra.plan_bench import measure_plan; "
                          f"print(json.dumps(measure_plan(Path({str(customers)!r}), Path({str(feed)!r}))))")
        small = measure_replay(folder, replay_households, replay_days)
    per_household = big["seconds"] / max(1, households)
    replay_per_household = small["replay"]["seconds"] / max(1, replay_households)
    limit = TARGET_PLAN_SECONDS_PER_MILLION * households / 1_000_000
    return "\n".join([
        f"plan of {households:,} households (generated in {generated:.1f} s): {big['seconds']:.1f} s "
        f"(target < {limit:.0f} s), of which reading and judging the inputs {big['reading']:.1f} s; "
        f"{big['cohorts']:,} cohorts; {big['contacts']:,} contacts; peak memory {big['peak_rss_mb']:.0f} MB",
        f"replay of the demo town ({replay_households} households, {replay_days} days): "
        f"{small['replay']['seconds']:.1f} s, {small['replay']['contacts']} contacts; its plan: "
        f"{small['plan']['seconds']:.2f} s, {small['plan']['contacts']} contacts",
        f"per household: plan {per_household * 1e6:.0f} µs, replay {replay_per_household * 1e3:.0f} ms: "
        f"the plan is {replay_per_household / per_household:,.0f} times faster per household",
    ])
