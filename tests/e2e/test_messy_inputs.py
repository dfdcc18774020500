"""Inputs as they really come (issue 13), through `dispatch run`: a CRM extract with a malformed email and mobile
number and a row without its id, a feed with marketable_from as instants. No customer is lost, no household is
mis-segmented, nobody who objected gets a letter, nothing goes out before its instant, and rejected.csv lists
each field ignored and the one row rejected at their lines."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest

from infra.cli import main
from tests.e2e import builders as b


def _person(cid: str, hh: str, **values: str) -> dict[str, str]:
    base = {"customer_id": cid, "household_id": hh, "first_name": "Anna", "last_name": "Muster", "language": "de",
            "email": "", "mobile": "", "phone_listing": "listed", "has_internet": "false",
            "internet_down_mbps": "", "has_mobile": "false", "email_consent": "false", "sms_consent": "false",
            "call_consent": "false", "do_not_call": "false", "do_not_mail": "false"}
    return {**base, **values}


CUSTOMERS = [
    # line 2: an email with a space; the customer objected to mail
    _person("C-1", "H-1", email="anna muster@example.ch", has_internet="true", internet_down_mbps="100",
            email_consent="true", do_not_mail="true"),
    # line 3: a mobile number cut short, an unreadable SMS consent
    _person("C-2", "H-2", mobile="079 12", has_mobile="true", sms_consent="vielleicht", email="luca@example.ch",
            email_consent="true"),
    # line 4: no customer_id: meaningless, rejected (it must not make H-3 anything but a prospect)
    _person("", "H-3", has_internet="true", internet_down_mbps="100", email="x@example.ch", email_consent="true"),
]
OPENS = {"H-1": "2026-06-09T13:00:00+02:00", "H-2": "2026-06-10T06:00:00Z", "H-3": "2026-06-09"}


def _feed_row(hh: str, number: str) -> dict[str, str]:
    return {"household_id": hh, "street": "Bahnhofstrasse", "house_number": number, "postcode": "8400",
            "locality": "Winterthur", "commune": "Winterthur", "canton": "ZH",
            "connected_at": "2026-06-08T09:00:00+02:00", "marketable_from": OPENS[hh], "max_down_mbps": "10000",
            "no_ads_sticker": "false"}


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("messy")
    customers = _write(root / "customers.csv", b.CUSTOMER_COLUMNS, CUSTOMERS)
    feed = _write(root / "rollout.csv", b.FEED_COLUMNS, [_feed_row("H-1", "1"), _feed_row("H-2", "2"),
                                                          _feed_row("H-3", "3")])
    config = root / "config.yaml"
    config.write_text("control_group_percent: 0\n", encoding="utf-8")  # every household in its journey
    assert main(["run", "--customers", str(customers), "--feed", str(feed), "--config", str(config), "--days", "21",
                 "--out", str(root / "out")]) == 0
    return root / "out"


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_no_customer_lost_and_no_household_mis_segmented(out: Path) -> None:
    groups = {h["household_id"]: h["target_group"] for h in _jsonl(out / "households.jsonl")}
    assert groups == {"H-1": "upgrade", "H-2": "switch", "H-3": "prospect"}


def test_the_objection_kept_with_the_customer_and_no_channel_used_with_an_ignored_field(out: Path) -> None:
    contacts = _jsonl(out / "contact-history.jsonl")
    assert contacts, "the run made no contact at all"
    decisions = _jsonl(out / "decisions.jsonl")
    assert {"H-1": "do_not_mail"}.items() <= {d["household_id"]: d["reason"] for d in decisions
                                               if d["channel"] == "print"}.items()
    assert not [c for c in contacts if c["household_id"] == "H-1" and c["channel"] == "print"]
    assert not [c for c in contacts if c["household_id"] == "H-1" and c["channel"] == "email"]  # address ignored
    assert not [c for c in contacts if c["household_id"] == "H-2" and c["channel"] == "sms"]  # number ignored
    assert [c["channel"] for c in contacts if c["household_id"] == "H-2" and c["channel"] == "email"]


def test_nothing_before_the_marketable_instant(out: Path) -> None:
    for c in _jsonl(out / "contact-history.jsonl"):
        opens = OPENS[str(c["household_id"])]
        if "T" in opens:
            assert datetime.fromisoformat(str(c["at"])) >= datetime.fromisoformat(opens.replace("Z", "+00:00")), c


def test_rejected_csv_lists_each_field_ignored_and_the_row_rejected(out: Path) -> None:
    with (out / "rejected.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["source", "line", "reason", "raw", "action"]
    assert [(r["source"], r["line"], r["action"], r["reason"].split(":")[0]) for r in rows] == [
        ("customers", "2", "field ignored", "email"),
        ("customers", "3", "field ignored", "mobile"),
        ("customers", "3", "field ignored", "sms_consent"),
        ("customers", "4", "row rejected", "customer_id"),
    ]
    assert rows[2]["reason"] == "sms_consent: expected true or false, got 'vielleicht'; read as false"
