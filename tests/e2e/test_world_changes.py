"""`dispatch run` on a town whose world changes while its journeys run (issue 12's "must show").

Two CRM extracts (the second on 2027-03-26 at 10:00, where customers leave, withdraw consent, move and
object, and a prospect household gains a customer); re-sent feed rows that move marketable_from both ways
and correct a speed; a pre-order; an order and an objection at noon between the morning's claim and the
cut-off or the next list; an offer that expires mid-run. Every contact that left is checked against the
inputs in force at its `at` (each change in force from the instant it entered), and every withdrawal is
recorded with its reason.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from shared.offers import default_offers_path
from tests.e2e import builders as b

ZURICH = ZoneInfo("Europe/Zurich")
DISPATCH = Path(sys.executable).with_name("dispatch")
DAYS = 40
SECOND_EXTRACT_AT = "2027-03-26T10:00:00+01:00"
CONNECTED = "2027-03-01T08:00:00+01:00"
EXPIRING_OFFER, EXPIRES_ON = "fibre-1g-welcome", date(2027, 3, 19)
CONFIG = """\
campaign_id: world-changes
control_group_percent: 0
calls: {per_day: 50}
journeys:
  upgrade:  {steps: [{channel: email, day: 0}, {channel: print, day: 7}, {channel: call, day: 14}],
             repeat_every_days: 20, max_cycles: 2}
  switch:   {steps: [{channel: sms, day: 0}, {channel: email, day: 2}, {channel: print, day: 9},
                     {channel: call, day: 16}], repeat_every_days: 20, max_cycles: 2}
  prospect: {steps: [{channel: print, day: 0}], repeat_every_days: 20, max_cycles: 3}
crm: {max_retire_percent: 50}
"""


def _customer(customer_id: str, household: str, *, group: str = "upgrade", **values: Any) -> dict[str, str]:
    person = {"email": f"{customer_id.lower()}@example.ch", "mobile": "079 123 45 67", "email_consent": True,
              "sms_consent": True, "call_consent": True}
    if group == "upgrade":
        person |= {"has_internet": True, "internet_down_mbps": 100, "has_mobile": True}
    else:
        person |= {"has_mobile": True}
    person |= values
    return b._person(customer_id, household, "Anna", customer_id.replace("C-", "Muster"), "de", **person)


FIRST = [
    _customer("C-01", "W-01"),  # leaves the CRM in the second extract
    _customer("C-02", "W-02", group="switch"),  # withdraws SMS and email consent
    _customer("C-03", "W-03"),  # moves to W-04
    _customer("C-05", "W-05"),  # objects to mail and calls
    _customer("C-07", "W-07"),  # marketable_from postponed
    _customer("C-08", "W-08"),  # marketable_from brought forward
    _customer("C-09", "W-09"),  # speed corrected down to what they have: not eligible
    _customer("C-10", "W-10"),  # pre-order
    _customer("C-12", "W-12"),  # objects to everything at noon
    _customer("C-13", "W-13"),  # orders at noon after its call was queued
    _customer("C-15", "W-15"),  # stays as it is
]
SECOND = [dict(c) for c in FIRST if c["customer_id"] != "C-01"]
for row in SECOND:
    if row["customer_id"] == "C-02":
        row |= {"email_consent": "false", "sms_consent": "false"}
    if row["customer_id"] == "C-03":
        row |= {"household_id": "W-04"}
    if row["customer_id"] == "C-05":
        row |= {"do_not_mail": "true", "do_not_call": "true"}
SECOND.append(_customer("C-06", "W-06"))  # a prospect household gains an internet customer

HOUSEHOLDS = ["W-01", "W-02", "W-03", "W-04", "W-05", "W-06", "W-07", "W-08", "W-09", "W-10", "W-11", "W-12",
              "W-13", "W-14", "W-15"]
FEED_OVERRIDES: dict[str, dict[str, str]] = {
    "W-08": {"marketable_from": "2027-04-05"},
    "W-11": {"max_down_mbps": "1000"},  # a prospect that orders at noon before its first letter's cut-off
    "W-13": {"connected_at": "2027-03-02T10:00:00+01:00"},  # its steps fall at 10:00: a call queued by day
    "W-14": {"max_down_mbps": "1000"},  # a prospect whose offer expires mid-run
}
CORRECTIONS = [  # re-sent rows; each enters at its connected_at
    ("W-07", {"connected_at": "2027-03-03T12:00:00+01:00", "marketable_from": "2027-03-20"}),
    ("W-08", {"connected_at": "2027-03-05T09:00:00+01:00", "marketable_from": "2027-03-08"}),
    ("W-09", {"connected_at": "2027-03-05T09:00:00+01:00", "max_down_mbps": "100"}),
]
RESPONSES = [
    {"at": "2027-03-01T07:00:00+01:00", "household_id": "W-10", "customer_id": "C-10", "type": "order"},
    {"at": "2027-03-02T12:00:00+01:00", "household_id": "W-11", "customer_id": "", "type": "order"},
    {"at": "2027-03-09T12:00:00+01:00", "household_id": "W-12", "customer_id": "C-12", "type": "opt_out",
     "channel": "all"},
    {"at": "2027-03-16T12:00:00+01:00", "household_id": "W-13", "customer_id": "C-13", "type": "order"},
]


def _feed_row(household: str, **override: str) -> dict[str, str]:
    number = household.split("-")[1]
    row = {"household_id": household, "street": "Technikumstrasse", "house_number": str(int(number)),
           "postcode": "8400", "locality": "Winterthur", "commune": "Winterthur", "canton": "ZH",
           "connected_at": CONNECTED, "marketable_from": "2027-03-02", "max_down_mbps": "10000",
           "no_ads_sticker": "false"}
    return row | FEED_OVERRIDES.get(household, {}) | override


@dataclass
class Town:
    folder: Path
    first: Path
    second: Path
    feed: Path
    responses: Path
    config: Path
    offers: Path


def write_town(folder: Path) -> Town:
    folder.mkdir(parents=True, exist_ok=True)
    offers = yaml.safe_load(default_offers_path().read_text(encoding="utf-8"))
    for offer in offers:
        if offer["offer_id"] == EXPIRING_OFFER:
            offer["valid_to"] = EXPIRES_ON.isoformat()
    (folder / "offers.yaml").write_text(yaml.safe_dump(offers, allow_unicode=True), encoding="utf-8")
    (folder / "config.yaml").write_text(CONFIG, encoding="utf-8")
    b.write_csv(folder / "a.csv", b.CUSTOMER_COLUMNS, [b.Record(c) for c in FIRST])
    b.write_csv(folder / "b.csv", b.CUSTOMER_COLUMNS, [b.Record(c) for c in SECOND])
    feed = [b.Record(_feed_row(h)) for h in HOUSEHOLDS] + [b.Record(_feed_row(h, **o)) for h, o in CORRECTIONS]
    b.write_csv(folder / "rollout.csv", b.FEED_COLUMNS, feed)
    b.write_csv(folder / "responses.csv", b.RESPONSE_COLUMNS,
                [b.Record({"channel": "", "outcome": ""} | r) for r in RESPONSES])
    return Town(folder, folder / "a.csv", folder / "b.csv", folder / "rollout.csv", folder / "responses.csv",
                folder / "config.yaml", folder / "offers.yaml")


@dataclass
class Run:
    town: Town
    out: Path
    returncode: int
    stdout: str
    stderr: str
    contacts: list[dict[str, Any]]
    decisions: list[dict[str, Any]]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("world-changes")
    town = write_town(root / "input")
    out = root / "out"
    proc = subprocess.run(
        [str(DISPATCH), "run", "--customers", str(town.first), "--customers", f"{town.second}@{SECOND_EXTRACT_AT}",
         "--feed", str(town.feed), "--responses", str(town.responses), "--config", str(town.config),
         "--offers", str(town.offers), "--start", "2027-03-01T00:00:00+01:00", "--days", str(DAYS),
         "--out", str(out)],
        cwd=root, capture_output=True, text=True, timeout=600, check=False)
    contacts = b.read_jsonl(out / "contact-history.jsonl") if (out / "contact-history.jsonl").exists() else []
    decisions = b.read_jsonl(out / "decisions.jsonl") if (out / "decisions.jsonl").exists() else []
    return Run(town, out, proc.returncode, proc.stdout, proc.stderr, contacts, decisions)


def _at(value: str) -> datetime:
    return b.parse_at(value)


def _of(run: Run, household: str, after: str | None = None) -> list[dict[str, Any]]:
    return [c for c in run.contacts if c["household_id"] == household
            and (after is None or _at(c["at"]) >= _at(after))]


def _decisions(run: Run, household: str) -> list[dict[str, Any]]:
    return [d for d in run.decisions if d["household_id"] == household]


def test_the_run_completes_with_empty_dead_letter_queues(run: Run) -> None:
    """Given the changing town, When it is replayed for 40 days, Then the run ends well, with no message lost."""
    assert run.returncode == 0, run.stderr[-3000:]
    assert "dead-letter queues" not in run.stdout
    assert run.contacts, "the town made no contact at all"


def test_no_contact_advertises_an_offer_outside_its_validity(run: Run) -> None:
    """Given an offer that ends on 2027-03-19 mid-run,
    Then no contact advertises it after that day, and the prospect's later letters advertise a valid one."""
    for contact in run.contacts:
        day = _at(contact["at"]).astimezone(ZURICH).date()
        assert not (contact["offer_id"] == EXPIRING_OFFER and day > EXPIRES_ON), contact
    later = [c for c in _of(run, "W-14") if _at(c["at"]).date() > EXPIRES_ON]
    assert later and {c["offer_id"] for c in later} == {"fibre-500-welcome"}


def test_a_customer_who_left_is_never_contacted_as_customer_again(run: Run) -> None:
    """Given C-01 is missing from the second extract, Then nothing is addressed to C-01 after it entered."""
    assert [c for c in _of(run, "W-01") if c["customer_id"] == "C-01"]
    assert [c for c in _of(run, "W-01", SECOND_EXTRACT_AT) if c["customer_id"] == "C-01"] == []


def test_withdrawn_consent_applies_to_every_later_contact(run: Run) -> None:
    """Given C-02 withdraws SMS and email consent in the second extract, Then no SMS or email after it."""
    before = [c for c in _of(run, "W-02") if _at(c["at"]) < _at(SECOND_EXTRACT_AT)]
    assert {"sms", "email"} <= {c["channel"] for c in before}
    late = [c for c in _of(run, "W-02", SECOND_EXTRACT_AT) if c["channel"] in ("sms", "email")]
    assert late == []
    assert any("consent" in d["reason"] for d in _decisions(run, "W-02"))


def test_a_customer_who_moved_belongs_to_the_new_household_only(run: Run) -> None:
    """Given C-03 moves from W-03 to W-04 in the second extract,
    Then C-03 is not contacted at W-03 after it, and W-04 (a prospect until then) is re-segmented for C-03."""
    assert [c for c in _of(run, "W-03", SECOND_EXTRACT_AT) if c["customer_id"] == "C-03"] == []
    assert {c["target_group"] for c in _of(run, "W-04", SECOND_EXTRACT_AT)} <= {"upgrade"}
    assert [c for c in _of(run, "W-04") if c["target_group"] == "prospect"]  # letters to the residents before


def test_a_new_objection_to_mail_and_calls_applies(run: Run) -> None:
    """Given C-05 objects to mail and calls in the second extract, Then no letter and no call after it."""
    before = [c for c in _of(run, "W-05") if _at(c["at"]) < _at(SECOND_EXTRACT_AT)]
    assert {"print", "call"} <= {c["channel"] for c in before}
    assert [c for c in _of(run, "W-05", SECOND_EXTRACT_AT) if c["channel"] in ("print", "call")] == []


def test_a_prospect_household_that_gains_a_customer_is_re_segmented(run: Run) -> None:
    """Given W-06 gains an internet customer in the second extract,
    Then no letter "to the residents" after it, the next contacts are the upgrade dialogue, and the end of the
    prospect journey is recorded with its reason."""
    after = _of(run, "W-06", SECOND_EXTRACT_AT)
    assert [c for c in after if c["kind"] == "partially_addressed"] == []
    assert after and {c["target_group"] for c in after} == {"upgrade"}


def test_marketable_from_moved_later_holds_every_contact_back(run: Run) -> None:
    """Given W-07's marketable_from moved to 2027-03-20 by a row re-sent on 03-03 at noon,
    Then no contact between that moment and 03-20."""
    start = datetime(2027, 3, 20, tzinfo=ZURICH)
    held = [c for c in _of(run, "W-07", "2027-03-03T12:00:00+01:00") if _at(c["at"]) < start]
    assert held == []
    assert _of(run, "W-07", "2027-03-20T00:00:00+01:00")


def test_marketable_from_brought_forward_brings_the_first_contact_forward(run: Run) -> None:
    """Given W-08's marketable_from brought forward from 04-05 to 03-08 on 03-05,
    Then its first contact comes on 03-08 (within a day), not in April, and never before 03-08."""
    first = min(_at(c["at"]) for c in _of(run, "W-08"))
    assert datetime(2027, 3, 8, tzinfo=ZURICH) <= first < datetime(2027, 3, 9, tzinfo=ZURICH)


def test_a_speed_corrected_to_not_eligible_ends_the_journey(run: Run) -> None:
    """Given W-09's speed corrected on 03-05 to the 100 Mbit/s its customer already has,
    Then no contact after that, and a decision says why."""
    assert _of(run, "W-09", "2027-03-05T09:00:00+01:00") == []
    assert any(d["decision"] == "not_eligible" or "not eligible" in d["reason"] for d in _decisions(run, "W-09"))


def test_a_pre_order_stops_the_journey_from_starting(run: Run) -> None:
    """Given W-10 ordered before it was connected, Then it is never contacted, and a decision says why."""
    assert _of(run, "W-10") == []
    assert any("order" in d["reason"] for d in _decisions(run, "W-10"))


def test_an_order_at_noon_withdraws_the_mornings_letter(run: Run) -> None:
    """Given W-11's first letter claimed on 03-02 for the 17:00 cut-off, and an order at noon,
    Then no letter leaves, and the withdrawal is recorded with its reason."""
    assert _of(run, "W-11") == []
    assert any("withdrawn" in d["reason"] and "ordered" in d["reason"] for d in _decisions(run, "W-11"))


def test_an_objection_at_noon_withdraws_the_mornings_letter_and_ends_everything(run: Run) -> None:
    """Given W-12's letter claimed on 03-09 for the cut-off, and an objection to all channels at noon,
    Then no contact after noon, and the withdrawal is recorded."""
    assert _of(run, "W-12", "2027-03-09T12:00:00+01:00") == []
    assert any("withdrawn" in d["reason"] for d in _decisions(run, "W-12"))


def test_an_order_at_noon_keeps_the_queued_call_off_the_next_list(run: Run) -> None:
    """Given W-13's call queued on 03-16 at 10:00 and an order at noon, Then no call on 03-17's list."""
    assert [c for c in _of(run, "W-13") if c["channel"] == "call"] == []
    assert any("withdrawn" in d["reason"] and "ordered" in d["reason"] for d in _decisions(run, "W-13"))


def test_every_withdrawal_is_recorded_with_its_reason(run: Run) -> None:
    """Every decision of a withdrawal names why; a household unaffected by any change goes through."""
    withdrawals = [d for d in run.decisions if "withdrawn" in d["reason"]]
    assert withdrawals and all(d["reason"].split(": ", 1)[1] for d in withdrawals)
    assert len(_of(run, "W-15")) >= 4
