"""Erasure against moto: a customer who got an email, a letter and a call is removed from every table
and file the stack keeps, leaves only hashed suppression subjects, and is caught again under a new id."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, timedelta

from functions.call_list_exporter.handler import handler as calls
from functions.email.handler import handler as email
from functions.print_batcher.handler import handler as printer
from functions.responses.handler import handler as responses
from functions.sms.handler import handler as sms
from shared.aws import client
from shared.erasure import erase_customer
from tests.integration import helpers as h

NOW = h.local(h.MONDAY, 9)
PRINT_DAY, CALL_DAY = date(2026, 6, 15), date(2026, 6, 22)
CLAIRE = {"first_name": "Claire", "last_name": "Dupont", "email": "claire.dupont@example.ch",
          "mobile": "+41791234567"}


def _request(handler, journey: dict, channel: str, at, step: int, attempt: int = 1) -> None:  # type: ignore[no-untyped-def]
    detail = h.contact_requested(journey, channel, step=step, attempt=attempt)
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", detail, at)))


def _contacted_on_every_channel() -> None:
    """C-1 (H-1) and C-2 (H-2): an email, a letter in the same batch, a row on the same call list;
    C-1's call reached nobody, so a second attempt waits in the call queue."""
    one = h.seed("H-1", "C-1", target_group="upgrade", offer_id="fibre-1g-upgrade", due_at=NOW, customer=CLAIRE)
    two = h.seed("H-2", "C-2", target_group="upgrade", offer_id="fibre-1g-upgrade", due_at=NOW,
                 household={"house_number": "2"}, customer={"first_name": "Beat", "mobile": "+41797654321"})
    for journey in (one, two):
        _request(email, journey, "email", NOW, 1)
    for journey in (one, two):
        _request(printer, journey, "print", h.local(PRINT_DAY, 9), 2)
    h.invoke(printer, h.scheduled("cut-off", h.local(PRINT_DAY, 17)))
    for journey in (one, two):
        _request(calls, journey, "call", h.local(CALL_DAY, 9), 3)
    h.invoke(calls, h.scheduled("export", h.local(CALL_DAY + timedelta(days=1), 6)))
    outcome = {"version": "1", "correlation_id": "H-1", "at": h.iso_z(h.local(CALL_DAY + timedelta(days=1), 12)),
               "household_id": "H-1", "customer_id": "C-1", "type": "call_outcome", "outcome": "not_reached"}
    h.no_failures(h.invoke(responses, h.sqs_event("ResponseReceived", outcome, h.local(CALL_DAY, 12))))


def _csv(bucket: str, key: str, delimiter: str) -> tuple[bytes, list[dict[str, str]]]:
    body = h.s3_get(bucket, key)
    return body, list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=delimiter))


def test_erasure_removes_the_person_everywhere_and_leaves_hashed_suppression(stack) -> None:
    # Given a customer contacted by email, letter and call, with a call attempt still pending
    _contacted_on_every_channel()
    s = h.cfg()
    assert [i["queue"] for i in h.scan(s.calls_table)].count("pending") == 1
    # When the customer is erased
    report = erase_customer(s, "C-1", h.local(CALL_DAY, 18))
    # Then the customer item is gone, C-2's stays
    assert [c["customer_id"] for c in h.scan(s.customers_table)] == ["C-2"]
    assert report.customer_items == 1
    # ... no print piece and no pending call names them any more; the pending call is withdrawn
    assert all(p.get("customer_id") != "C-1" for p in h.scan(s.print_table))
    calls = h.scan(s.calls_table)
    assert all(i["queue"] != "pending" and '"C-1"' not in i["detail"] for i in calls) and report.call_requests == 1
    assert [i["household_id"] for i in calls] == ["H-2"]  # C-2's call listed that day stays
    assert "withdrawn" in {c["status"] for c in h.claims("H-1")}
    # ... the print batch lost their row, and its manifest matches the rewritten bytes
    body, rows = _csv(s.print_bucket, "batches/2026-06-15-personalised.csv", ",")
    manifest = json.loads(h.s3_get(s.print_bucket, "batches/2026-06-15-personalised.manifest.json"))
    assert [r["customer_id"] for r in rows] == ["C-2"]
    assert manifest["pieces"] == 1 and manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert b"Dupont" not in body
    # ... the call list lost their row, still with BOM and ';'
    body, rows = _csv(s.call_list_bucket, "call-lists/2026-06-23.csv", ";")
    assert body.startswith(b"\xef\xbb\xbf") and b";" in body
    assert [r["customer_id"] for r in rows] == ["C-2"] and b"Dupont" not in body
    # ... the journey is over, and a minimal suppression record remains: the id, hashed address and number
    assert h.journey("H-1")["status"] == "ended"
    assert h.suppressed_channels("customer#C-1") == ["all"]
    subjects = {i["subject"] for i in h.scan(s.suppression_table)}
    assert {x.split("#")[0] for x in subjects} == {"customer", "email", "phone"}
    dump = json.dumps(h.scan(s.suppression_table))
    assert "claire" not in dump.lower() and "791234567" not in dump


def test_the_same_person_under_a_new_id_in_a_new_crm_drop_is_skipped(stack) -> None:
    # Given C-1 erased
    h.seed_household("H-1")
    h.seed_customer("H-1", "C-1", **CLAIRE)
    erase_customer(h.cfg(), "C-1", NOW)
    # When a later CRM extract brings her back as C-77 (address in other case), and her number as C-78
    later = NOW + timedelta(days=30)
    j77 = h.seed("H-7", "C-77", target_group="upgrade", offer_id="fibre-1g-upgrade", due_at=later,
                 customer={**CLAIRE, "email": "  Claire.Dupont@EXAMPLE.ch ", "mobile": ""})
    j78 = h.seed("H-8", "C-78", target_group="switch", offer_id="fibre-1g-switch-combo", due_at=later,
                 customer={"email": "", "mobile": "079 123 45 67", "has_internet": False,
                           "internet_down_mbps": None})
    _request(email, j77, "email", later, 1)
    _request(sms, j78, "sms", later, 1)
    # Then nothing leaves, and the decisions name the erasure
    assert h.ses_sent() == [] and h.sms_sent() == []
    for household_id in ("H-7", "H-8"):
        [decision] = h.decisions(household_id)
        assert decision["decision"] == "skipped" and "erasure" in decision["reason"]


def test_erasure_requested_on_the_bus_is_applied_by_the_responses_function(stack) -> None:
    h.seed_household("H-1")
    h.seed_customer("H-1", "C-1", **CLAIRE)
    detail = {"version": "1", "correlation_id": "erase-1", "customer_id": "C-1"}
    h.no_failures(h.invoke(responses, h.sqs_event("ErasureRequested", detail, NOW)))
    assert h.scan(h.cfg().customers_table) == []
    assert h.suppressed_channels("customer#C-1") == ["all"]
    # a redelivery, and an id nobody knows, are no failures (nothing to retry)
    h.no_failures(h.invoke(responses, h.sqs_event("ErasureRequested", detail, NOW)))
    unknown = {**detail, "customer_id": "C-404"}
    h.no_failures(h.invoke(responses, h.sqs_event("ErasureRequested", unknown, NOW)))


def test_the_persons_rows_leave_the_feed_buckets_response_files_and_rejection_reports(stack) -> None:
    # Given the customer in a response file and, as a rejected CRM row, in a rejection report
    h.seed_household("H-9")
    h.seed_customer("H-9", "C-9")
    bucket = h.cfg().feed_bucket
    s3 = client("s3")
    s3.put_object(Bucket=bucket, Key="responses/2026-06.csv", Body=(
        b"at,household_id,customer_id,type,channel,outcome\r\n"
        b"2026-06-08T10:00:00+02:00,H-9,C-9,opt_out,sms,\r\n"
        b"2026-06-08T11:00:00+02:00,H-1,C-1,order,,\r\n"))
    s3.put_object(Bucket=bucket, Key="rejected/crm/customers.csv", Body=(
        b"source,line,reason,raw\n"
        b'customers,4,"email: expected a valid e-mail address","C-9,H-9,Anna,Muster,de,anna@@x.ch"\n'
        b'customers,7,"language: expected de, fr, it or en","C-1,H-1,Beat,Keller,rm,beat@x.ch"\n'))
    # When the customer is erased
    report = erase_customer(h.cfg(), "C-9", h.local(h.MONDAY, 9))
    # Then their rows are gone from both files and the other people's rows stay
    responses_file = h.s3_get(bucket, "responses/2026-06.csv").decode()
    rejected_file = h.s3_get(bucket, "rejected/crm/customers.csv").decode()
    assert "C-9" not in responses_file and "C-1" in responses_file
    assert "Muster" not in rejected_file and "anna@@x.ch" not in rejected_file and "C-1,H-1,Beat" in rejected_file
    assert f"s3://{bucket}/rejected/crm/customers.csv" in report.files
