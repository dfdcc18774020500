"""The dialogue over months: `dispatch run` over ~half a year with the default journeys (75-day cycles,
three of them); households that never react are asked again and again, then left alone; orders and
opt-outs close the loop; every SMS respects the window across both changes of the clocks' season."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.config import DispatchConfig
from shared.domain.windows import ContactWindow, is_open
from tests.e2e import builders as b

ZURICH = ZoneInfo("Europe/Zurich")
DISPATCH = Path(sys.executable).with_name("dispatch")
START = "2026-03-24T00:00:00+01:00"
DAYS = 180
DST_CHANGES = (datetime(2026, 3, 29, 3, 0, tzinfo=ZURICH), datetime(2026, 10, 25, 3, 0, tzinfo=ZURICH))
DEFAULTS = DispatchConfig()
REPEAT = DEFAULTS.journeys["switch"].repeat_every_days
MAX_CYCLES = DEFAULTS.journeys["switch"].max_cycles
# The default journeys; no control group, so every household of this small town is in the dialogue.
CONFIG_YAML = "# the default journeys and caps; nobody held out\ncontrol_group_percent: 0\n"

BEFORE_DST = date(2026, 3, 26)  # a Thursday before the clocks go forward on Sunday 29 March
AFTER_DST = date(2026, 3, 30)  # the Monday after
ORDERED = ("SW-B4", "C-SW-B4", "2026-03-31T10:00:00+02:00")
SMS_OPT_OUT = ("SW-A4", "C-SW-A4", "2026-03-27T12:00:00+01:00")
EMAIL_OPT_OUT = ("UP-3", "C-UP-3", "2026-03-27T12:00:00+01:00")
REACTED = {ORDERED[0], SMS_OPT_OUT[0], EMAIL_OPT_OUT[0]}


@dataclass(frozen=True)
class Home:
    household_id: str
    kind: str  # switch | upgrade | prospect
    canton: str
    marketable_from: date


HOMES = [
    *(Home(f"SW-A{i}", "switch", c, BEFORE_DST) for i, c in enumerate(("ZH", "VD", "TI", "ZH"), 1)),
    *(Home(f"SW-B{i}", "switch", c, AFTER_DST) for i, c in enumerate(("ZH", "VD", "TI", "ZH"), 1)),
    *(Home(f"UP-{i}", "upgrade", c, BEFORE_DST) for i, c in enumerate(("ZH", "VD", "TI"), 1)),
    Home("PR-1", "prospect", "ZH", AFTER_DST),
]
_PLACES = {"ZH": ("8400", "Winterthur", "de"), "VD": ("1003", "Lausanne", "fr"), "TI": ("6500", "Bellinzona", "it")}


def _customer(home: Home) -> dict[str, str]:
    postcode, _, language = _PLACES[home.canton]
    yes, no = "true", "false"
    switch = home.kind == "switch"
    return {"customer_id": f"C-{home.household_id}", "household_id": home.household_id, "first_name": "Kim",
            "last_name": f"Test{postcode}", "language": language, "email": f"{home.household_id.lower()}@example.ch",
            "mobile": "079 123 45 67", "phone_listing": "listed", "has_internet": no if switch else yes,
            "internet_down_mbps": "" if switch else "100", "has_mobile": yes if switch else no,
            "email_consent": yes, "sms_consent": yes, "call_consent": yes, "do_not_call": no, "do_not_mail": no}


def _feed(home: Home) -> dict[str, str]:
    postcode, locality, _ = _PLACES[home.canton]
    return {"household_id": home.household_id, "street": "Hauptstrasse", "house_number": str(HOMES.index(home) + 1),
            "postcode": postcode, "locality": locality, "commune": locality, "canton": home.canton,
            "connected_at": "2026-03-24T09:00:00+01:00", "marketable_from": home.marketable_from.isoformat(),
            "max_down_mbps": "1000", "no_ads_sticker": "false"}


def _responses() -> list[b.Record]:
    def row(household: str, customer: str, at: str, type_: str, channel: str = "") -> b.Record:
        return b.Record({"at": at, "household_id": household, "customer_id": customer, "type": type_,
                         "channel": channel, "outcome": ""})

    return [row(*ORDERED, "order"), row(*SMS_OPT_OUT, "opt_out", "sms"), row(*EMAIL_OPT_OUT, "opt_out", "email")]


@dataclass
class Run:
    out: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def jsonl(self, name: str) -> list[dict[str, Any]]:
        return b.read_jsonl(self.out / name)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    import time

    root = tmp_path_factory.mktemp("dialogue")
    folder = root / "input"
    folder.mkdir()
    customers = b.write_csv(folder / "customers.csv", b.CUSTOMER_COLUMNS,
                            [b.Record(_customer(h)) for h in HOMES if h.kind != "prospect"])
    feed = b.write_csv(folder / "rollout.csv", b.FEED_COLUMNS, [b.Record(_feed(h)) for h in HOMES])
    responses = b.write_csv(folder / "responses.csv", b.RESPONSE_COLUMNS, _responses())
    (folder / "config.yaml").write_text(CONFIG_YAML, encoding="utf-8")
    started = time.monotonic()
    proc = subprocess.run(
        [str(DISPATCH), "run", "--customers", str(customers.path), "--feed", str(feed.path), "--responses",
         str(responses.path), "--config", str(folder / "config.yaml"), "--start", START, "--days", str(DAYS),
         "--out", str(root / "out")],
        cwd=root, capture_output=True, text=True, timeout=600, check=False)
    return Run(root / "out", proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


@pytest.fixture(scope="module")
def contacts(run: Run) -> list[dict[str, Any]]:
    assert run.returncode == 0, run.stderr[-3000:]
    return run.jsonl("contact-history.jsonl")


@pytest.fixture(scope="module")
def decisions(run: Run) -> list[dict[str, Any]]:
    return run.jsonl("decisions.jsonl")


def local_at(row: dict[str, Any]) -> datetime:
    return b.parse_at(row["at"]).astimezone(ZURICH)


def by_cycle(contacts: list[dict[str, Any]], household: str) -> dict[int, list[dict[str, Any]]]:
    cycles: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in contacts:
        if row["household_id"] == household:
            cycles[int(row["cycle"])].append(row)
    return {k: sorted(v, key=local_at) for k, v in sorted(cycles.items())}


QUIET = [h.household_id for h in HOMES if h.household_id not in REACTED]


def test_the_run_completes_without_errors(run: Run) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    assert "dead-letter queues" not in run.stdout and "handler error" not in run.stdout, run.stdout
    assert (run.out / "rejected.csv").read_text(encoding="utf-8").count("\n") == 1, "no input row is rejected"
    print(f"dialogue run: {DAYS} days, {len(HOMES)} households, {run.seconds:.1f} s")


@pytest.mark.parametrize("household", QUIET)
def test_a_household_that_never_reacts_is_asked_again_every_cycle(contacts: list[dict[str, Any]],
                                                                   household: str) -> None:
    cycles = by_cycle(contacts, household)
    assert len(cycles) >= 2, f"{household}: contacts in cycles {sorted(cycles)}"
    assert max(cycles) <= MAX_CYCLES


# A cycle runs from its first contact: a print piece that waits for Monday's cut-off moves the
# next cycle with it, so no two cycles come closer than repeat_every_days.
@pytest.mark.parametrize("household", QUIET)
def test_each_cycle_starts_repeat_every_days_after_the_last(contacts: list[dict[str, Any]],
                                                            decisions: list[dict[str, Any]], household: str) -> None:
    cycles = by_cycle(contacts, household)
    firsts = {k: rows[0] for k, rows in cycles.items()}
    deferred = {int(d["cycle"]) for d in decisions if d["household_id"] == household
                and d["decision"] == "deferred" and d.get("step") == 1}
    for k in sorted(firsts)[:-1]:
        this, then = local_at(firsts[k]), local_at(firsts[k + 1])
        assert (then.date() - this.date()).days >= REPEAT, (household, k, this, then)
        if firsts[k]["step"] == firsts[k + 1]["step"] == 1 and not deferred & {k, k + 1}:
            assert then.time() == this.time(), (household, k, this, then)


@pytest.mark.parametrize("household", QUIET)
def test_journeys_end_after_the_last_cycle(run: Run, contacts: list[dict[str, Any]], household: str) -> None:
    households = {h["household_id"]: h for h in run.jsonl("households.jsonl")}
    assert households[household]["end_reason"] == "all cycles done", households[household]
    assert max(by_cycle(contacts, household)) == MAX_CYCLES


def test_no_contact_after_an_order(contacts: list[dict[str, Any]]) -> None:
    household, _, at = ORDERED
    ordered_at = b.parse_at(at)
    before = [c for c in contacts if c["household_id"] == household and b.parse_at(c["at"]) < ordered_at]
    after = [c for c in contacts if c["household_id"] == household and b.parse_at(c["at"]) >= ordered_at]
    assert before, "the household should have been contacted before it ordered"
    assert after == []


@pytest.mark.parametrize(("opt_out", "channel"), [(SMS_OPT_OUT, "sms"), (EMAIL_OPT_OUT, "email")])
def test_no_contact_on_a_channel_after_its_opt_out(contacts: list[dict[str, Any]], opt_out: tuple[str, str, str],
                                                   channel: str) -> None:
    household, _, at = opt_out
    opted_out = b.parse_at(at)
    mine = [c for c in contacts if c["household_id"] == household]
    assert [c for c in mine if c["channel"] == channel and b.parse_at(c["at"]) >= opted_out] == []
    assert any(c["channel"] != channel and b.parse_at(c["at"]) >= opted_out for c in mine), "other channels go on"


def test_every_sms_is_inside_the_sms_window_in_local_time(contacts: list[dict[str, Any]]) -> None:
    window = ContactWindow.from_spec(DEFAULTS.windows.sms.weekdays, DEFAULTS.windows.sms.saturday)
    canton = {h.household_id: h.canton for h in HOMES}
    sms = [c for c in contacts if c["channel"] == "sms"]
    assert len(sms) >= 10
    outside = [(c["household_id"], c["at"]) for c in sms if not is_open(window, local_at(c), canton[c["household_id"]])]
    assert outside == []


def test_sms_are_sent_in_the_week_after_a_clock_change(contacts: list[dict[str, Any]]) -> None:
    end = b.parse_at(START) + timedelta(days=DAYS)
    inside = [change for change in DST_CHANGES if b.parse_at(START) < change < end]
    assert inside, "the run should span a change of the clocks"
    for change in inside:
        week = [c for c in contacts if c["channel"] == "sms" and change <= b.parse_at(c["at"]) < change + timedelta(7)]
        assert week, f"no SMS in the week after {change}"
        assert all(local_at(c).hour >= 8 for c in week)


def test_sms_before_and_after_the_change_leave_at_the_same_local_hour(contacts: list[dict[str, Any]]) -> None:
    # Cycle 1 of the A households starts before the change, cycle 2 after it: the same wall-clock time.
    for household in ("SW-A1", "SW-A2", "SW-A3"):
        sms = sorted((c for c in contacts if c["household_id"] == household and c["channel"] == "sms"), key=local_at)
        assert len(sms) >= 2
        assert local_at(sms[0]).utcoffset() != local_at(sms[1]).utcoffset()
        assert local_at(sms[0]).time() == local_at(sms[1]).time(), [c["at"] for c in sms]
