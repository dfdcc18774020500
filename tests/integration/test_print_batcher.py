"""Print batcher against moto: gated print steps become pieces of the open batch; the cut-off writes
the vendor's CSV (sorted for the postal round, no personal data for partially addressed mail) and
then its manifest, and confirms every piece's contact as sent at the cut-off."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, datetime

from functions.print_batcher.handler import handler
from functions.print_batcher.logic import BASE_COLUMNS
from tests.integration import helpers as h

TUESDAY = date(2026, 6, 9)


def _prospect(household_id: str, at: datetime, **household: object) -> dict:
    return h.seed(household_id, None, target_group="prospect", offer_id="fibre-1g-welcome", due_at=at,
                  household={"max_down_mbps": 1000, **household})


def _request(journey: dict, at: datetime) -> None:
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "print"), at)))


def _cut_off(day: date) -> list[dict]:
    return h.invoke(handler, h.scheduled("cut-off", h.local(day, 17)))["result"]


def _batch(batch_id: str) -> tuple[bytes, dict]:
    bucket = h.cfg().print_bucket
    return (h.s3_get(bucket, f"batches/{batch_id}.csv"),
            json.loads(h.s3_get(bucket, f"batches/{batch_id}.manifest.json")))


def test_prospect_pieces_are_batched_and_the_cut_off_writes_csv_and_manifest(stack) -> None:
    # Given four prospects on different streets, each with its print step requested on Monday morning
    now = h.local(h.MONDAY, 10)
    addresses = {"H-a": ("Seestrasse", "3", "8002"), "H-b": ("Bahnhofstrasse", "10", "8001"),
                 "H-c": ("Bahnhofstrasse", "9", "8001"), "H-d": ("Augustinergasse", "2", "8001")}
    for household_id, (street, number, postcode) in addresses.items():
        _request(_prospect(household_id, now, street=street, house_number=number, postcode=postcode), now)
    # Then each is a partially addressed piece in Monday's open batch, its contact "batched" for the cut-off
    pieces = h.scan(h.cfg().print_table)
    assert {p["batch_key"] for p in pieces} == {"partially_addressed#2026-06-08"}
    assert len(pieces) == 4
    [claim] = h.claims("H-a")
    assert (claim["status"], claim["kind"], claim.get("customer_id")) == ("batched", "partially_addressed", None)
    # When the cut-off fires at 17:00
    manifests = _cut_off(h.MONDAY)
    # Then the vendor's CSV holds the four pieces sorted by postcode, street and house number (9 before 10) ...
    body, manifest = _batch("2026-06-08-partially-addressed")
    assert [m["batch_id"] for m in manifests] == ["2026-06-08-partially-addressed"]
    reader = csv.DictReader(io.StringIO(body.decode("utf-8")))
    rows = list(reader)
    assert reader.fieldnames == BASE_COLUMNS
    assert [(r["postcode"], r["street"], r["house_number"]) for r in rows] == [
        ("8001", "Augustinergasse", "2"), ("8001", "Bahnhofstrasse", "9"), ("8001", "Bahnhofstrasse", "10"),
        ("8002", "Seestrasse", "3")]
    # ... addressed to the residents, with no personal data at all
    assert {r["addressee"] for r in rows} == {"An die Bewohner des Hauses"}
    assert {r["kind"] for r in rows} == {"partially_addressed"}
    for column in ("customer_id", "first_name", "last_name", "salutation", "household_id"):
        assert column not in reader.fieldnames
    assert "Muster" not in body.decode("utf-8")
    # ... the manifest matches the CSV's bytes and rows
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["pieces"] == 4 and manifest["kind"] == "partially_addressed"
    assert manifest["batch_id"] == "2026-06-08-partially-addressed"
    # ... and every piece's contact is sent, at the cut-off
    for household_id in addresses:
        [claim] = h.claims(household_id)
        assert claim["status"] == "sent" and claim["batch_id"] == "2026-06-08-partially-addressed"
        assert datetime.fromisoformat(claim["at"]) == h.local(h.MONDAY, 17)


def test_french_household_gets_the_french_addressee(stack) -> None:
    now = h.local(h.MONDAY, 10)
    _request(_prospect("H-fr", now, canton="VD", language="fr", postcode="1003", locality="Lausanne"), now)
    _cut_off(h.MONDAY)
    body, _ = _batch("2026-06-08-partially-addressed")
    [row] = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert row["addressee"] == "Aux habitants de la maison" and row["language"] == "fr"


def test_personalised_piece_for_a_customer_carries_the_name(stack) -> None:
    now = h.local(h.MONDAY, 10)
    journey = h.seed("H-p", "C-p", target_group="upgrade", offer_id="fibre-1g-upgrade", due_at=now, step=2,
                     household={"max_down_mbps": 1000}, customer={"first_name": "Anna", "last_name": "Muster"})
    _request(journey, now)
    [manifest] = _cut_off(h.MONDAY)
    assert manifest["kind"] == "personalised"
    body, _ = _batch(manifest["batch_id"])
    [row] = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert (row["customer_id"], row["first_name"], row["last_name"], row["addressee"]) == (
        "C-p", "Anna", "Muster", "Anna Muster")


def test_sticker_household_is_skipped(stack) -> None:
    now = h.local(h.MONDAY, 10)
    _request(_prospect("H-s", now, no_ads_sticker=True), now)
    assert h.scan(h.cfg().print_table) == []
    [decision] = h.decisions("H-s")
    assert decision["decision"] == "skipped" and "sticker" in decision["reason"]
    assert _cut_off(h.MONDAY) == []
    assert h.s3_keys(h.cfg().print_bucket) == []


def test_a_piece_requested_after_the_cut_off_goes_to_the_next_batch(stack) -> None:
    # Given Monday's batch already closed at 17:00
    _request(_prospect("H-1", h.local(h.MONDAY, 10)), h.local(h.MONDAY, 10))
    _cut_off(h.MONDAY)
    # When a piece is requested at the very instant of the cut-off, and another one half an hour later
    at_cut_off, later = h.local(h.MONDAY, 17), h.local(h.MONDAY, 17, 30)
    _request(_prospect("H-2", at_cut_off), at_cut_off)
    _request(_prospect("H-3", later), later)
    # Then both land in Tuesday's batch, not in Monday's closed one
    _, manifest = _batch("2026-06-08-partially-addressed")
    assert manifest["pieces"] == 1
    [claim2], [claim3] = h.claims("H-2"), h.claims("H-3")
    assert claim2["status"] == claim3["status"] == "batched"
    assert datetime.fromisoformat(claim2["at"]) == datetime.fromisoformat(claim3["at"]) == h.local(TUESDAY, 17)
    [manifest2] = _cut_off(TUESDAY)
    assert manifest2["batch_id"] == "2026-06-09-partially-addressed" and manifest2["pieces"] == 2
    body2, _ = _batch("2026-06-09-partially-addressed")
    assert len(list(csv.DictReader(io.StringIO(body2.decode("utf-8"))))) == 2


def test_friday_evening_request_waits_for_monday_s_cut_off(stack) -> None:
    friday = h.local(date(2026, 6, 12), 18)
    _request(_prospect("H-f", friday), friday)
    [claim] = h.claims("H-f")
    assert datetime.fromisoformat(claim["at"]) == h.local(date(2026, 6, 15), 17)
