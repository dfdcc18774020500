"""Ingest against moto: feed and CRM drops in the feed bucket become households, customers,
HouseholdConnected events and a rejected-rows file beside the drop."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote_plus

import pytest

from functions.ingest.handler import handler
from shared.aws import client
from tests.integration import helpers as h

FEED_HEADER = ("household_id,street,house_number,postcode,locality,commune,canton,connected_at,marketable_from,"
               "max_down_mbps,no_ads_sticker\n")
CRM_HEADER = ("customer_id,household_id,first_name,last_name,language,email,mobile,phone_listing,has_internet,"
              "internet_down_mbps,has_mobile,email_consent,sms_consent,call_consent,do_not_call,do_not_mail\n")
NOW = h.local(h.MONDAY, 9)


def _drop(key: str, text: str, announced_as: str | None = None) -> dict:
    """Put the object under `key`; announce it with the key as the notification spells it (default: as is)."""
    s = h.cfg()
    client("s3").put_object(Bucket=s.feed_bucket, Key=key, Body=text.encode("utf-8"))
    return h.invoke(handler, h.s3_drop_event(s.feed_bucket, announced_as or key, NOW))


def _rejected(key: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(h.s3_get(h.cfg().feed_bucket, f"rejected/{key}").decode("utf-8"))))


def test_feed_with_good_and_bad_rows_upserts_good_households_and_rejects_bad_ones(stack) -> None:
    # Given a feed with two good rows, a bad postcode (line 3) and a naive connected_at (line 5)
    feed = FEED_HEADER + (
        "H-1,Bahnhofstrasse,1,8001,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-10,10000,false\n"
        "H-2,Seestrasse,12a,800,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-10,10000,false\n"
        "H-3,Rue du Lac,3,1003,Lausanne,Lausanne,VD,2026-06-01T11:00:00Z,2026-06-12,1000,true\n"
        "H-4,Via Nassa,5,6900,Lugano,Lugano,TI,2026-06-01T10:00:00,2026-06-10,1000,false\n"
    )
    tap = h.BusTap(stack)
    # When the drop notification reaches the ingest function
    h.no_failures(_drop("feed/2026-06-08.csv", feed))
    # Then the good rows are households ...
    hh1, hh3 = h.household("H-1"), h.household("H-3")
    assert hh1 is not None and hh3 is not None
    assert (hh1["postcode"], hh1["canton"], hh1["marketable_from"], hh1["max_down_mbps"]) == ("8001", "ZH",
                                                                                               "2026-06-10", 10000)
    assert hh3["no_ads_sticker"] is True
    assert h.household("H-2") is None and h.household("H-4") is None
    # ... announced once each as HouseholdConnected (and they reach the segmenter's queue)
    connected = tap.events("HouseholdConnected")
    assert sorted(e["detail"]["household_id"] for e in connected) == ["H-1", "H-3"]
    assert all(e["source"] == "channel-dispatch" for e in connected)
    assert sorted(b["detail"]["household_id"] for b in h.queue_bodies(stack, "SegmenterQueue")) == ["H-1", "H-3"]
    # ... and the bad rows are listed beside the drop with their line numbers and reasons
    rejected = list(csv.DictReader(io.StringIO(
        h.s3_get(h.cfg().feed_bucket, "rejected/feed/2026-06-08.csv").decode("utf-8"))))
    assert [(r["source"], r["line"], r["action"]) for r in rejected] == [("feed", "3", "row rejected"),
                                                                         ("feed", "5", "row rejected")]
    assert "postcode" in rejected[0]["reason"] and "'800'" in rejected[0]["reason"]
    assert "connected_at" in rejected[1]["reason"] and "offset" in rejected[1]["reason"]
    assert rejected[0]["raw"].startswith("H-2,")


def test_a_clean_feed_writes_no_rejected_file(stack) -> None:
    feed = FEED_HEADER + "H-1,Bahnhofstrasse,1,8001,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-10,1000,false\n"
    h.no_failures(_drop("feed/clean.csv", feed))
    assert h.household("H-1") is not None
    assert h.s3_keys(h.cfg().feed_bucket, "rejected/") == []


def test_crm_drop_loads_customers_and_rejects_a_duplicate_customer_id(stack) -> None:
    # Given a CRM extract whose fourth line repeats the customer id of the second
    crm = CRM_HEADER + (
        "C-1,H-1,Anna,Muster,de,anna@example.ch,079 123 45 67,listed,true,100,true,true,true,false,false,false\n"
        "C-2,H-2,Luca,Rossi,it,,+41 78 765 43 21,starred,false,,true,false,true,false,false,false\n"
        "C-1,H-3,Marie,Dupont,fr,marie@example.ch,,unlisted,false,,false,false,false,false,false,false\n"
    )
    tap = h.BusTap(stack)
    # When it is dropped under crm/
    h.no_failures(_drop("crm/extract.csv", crm))
    # Then the customers are in the customers table, phone numbers in E.164
    s = h.cfg()
    c1 = h.get(s.customers_table, {"household_id": "H-1", "customer_id": "C-1"})
    c2 = h.get(s.customers_table, {"household_id": "H-2", "customer_id": "C-2"})
    assert c1 is not None and c2 is not None
    assert c1["mobile"] == "+41791234567" and c1["has_internet"] is True and c1["internet_down_mbps"] == 100
    assert c2["phone_listing"] == "starred" and c2.get("email") is None
    # ... the duplicate is not loaded but rejected with its line and the line it repeats
    assert h.get(s.customers_table, {"household_id": "H-3", "customer_id": "C-1"}) is None
    rejected = list(csv.DictReader(io.StringIO(h.s3_get(s.feed_bucket, "rejected/crm/extract.csv").decode())))
    assert [(r["source"], r["line"]) for r in rejected] == [("customers", "4")]
    assert "duplicate" in rejected[0]["reason"] and "line 2" in rejected[0]["reason"]
    # ... and a CRM drop announces nothing
    assert tap.events() == []


def test_a_line_separator_inside_a_field_does_not_shift_later_line_numbers(stack) -> None:
    # Given a feed whose line 2 has a U+2028 LINE SEPARATOR inside the street (pasted from a web form)
    # and whose line 3 has a bad postcode
    feed = FEED_HEADER + (
        "H-1,Bahnhof\u2028strasse,1,8001,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-10,10000,false\n"
        "H-2,Seestrasse,1,800,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-10,1000,false\n"
    )
    h.no_failures(_drop("feed/separator.csv", feed))
    # Then each physical CSV record (lines end at "\n", as for local files) is rejected once, at its own line
    rejected = list(csv.DictReader(io.StringIO(h.s3_get(h.cfg().feed_bucket,
                                                        "rejected/feed/separator.csv").decode("utf-8"))))
    assert [(r["line"], r["raw"][:4]) for r in rejected] == [("2", "H-1,"), ("3", "H-2,")]
    assert "street" in rejected[0]["reason"]
    assert "postcode" in rejected[1]["reason"]


def test_a_household_re_sent_within_one_drop_keeps_its_latest_row(stack) -> None:
    feed = FEED_HEADER + (
        "H-1,Bahnhofstrasse,1,8001,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-10,1000,false\n"
        "H-1,Bahnhofstrasse,1,8001,Zürich,Zürich,ZH,2026-06-02T10:00:00+02:00,2026-06-11,10000,false\n"
    )
    h.no_failures(_drop("feed/resent.csv", feed))
    hh = h.household("H-1")
    assert (hh["marketable_from"], hh["max_down_mbps"]) == ("2026-06-11", 10000)
    assert h.s3_keys(h.cfg().feed_bucket, "rejected/") == []


def test_a_malformed_email_or_mobile_keeps_the_customer_with_objections(stack) -> None:
    """Issue 13.1: a typo in one contact field no longer drops the customer (and their objections)."""
    # Given a CRM extract whose line 2 has an email with a space and line 3 an unreadable mobile and consent
    crm = CRM_HEADER + (
        "C-1,H-1,Anna,Muster,de,anna muster@example.ch,079 123 45 67,listed,true,100,true,true,true,false,true,true\n"
        "C-2,H-2,Luca,Rossi,it,luca@example.ch,079 12,starred,true,100,false,ja,true,false,false,true\n"
        ",H-3,Marie,Dupont,fr,marie@example.ch,,unlisted,false,,false,false,false,false,false,false\n"
    )
    # When it is dropped
    h.no_failures(_drop("crm/typos.csv", crm))
    # Then both customers are loaded with relationship and objections, the bad field empty or read safely
    s = h.cfg()
    c1 = h.get(s.customers_table, {"household_id": "H-1", "customer_id": "C-1"})
    c2 = h.get(s.customers_table, {"household_id": "H-2", "customer_id": "C-2"})
    assert c1 is not None and c2 is not None
    assert (c1.get("email"), c1["mobile"], c1["has_internet"], c1["do_not_call"], c1["do_not_mail"]) == (
        None, "+41791234567", True, True, True)
    assert (c2.get("mobile"), c2["email_consent"], c2["email"], c2["do_not_mail"]) == (
        None, False, "luca@example.ch", True)
    # ... and rejected.csv lists each field ignored (with its line) and the one meaningless row
    rows = _rejected("crm/typos.csv")
    assert [(r["line"], r["action"], r["reason"].split(":")[0]) for r in rows] == [
        ("2", "field ignored", "email"), ("3", "field ignored", "mobile"), ("3", "field ignored", "email_consent"),
        ("4", "row rejected", "customer_id")]
    assert rows[2]["reason"] == "email_consent: expected true or false, got 'ja'; read as false"


def test_marketable_from_as_a_date_time_is_kept_as_the_instant(stack) -> None:
    """Issue 13.3: the rollout system that writes timestamps loses no row; the household keeps the instant."""
    feed = FEED_HEADER + (
        "H-1,Bahnhofstrasse,1,8001,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-10T06:00:00+02:00,1000,false\n"
        "H-2,Seestrasse,2,8001,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-11T00:00:00Z,1000,false\n"
    )
    tap = h.BusTap(stack)
    h.no_failures(_drop("feed/instants.csv", feed))
    assert h.household("H-1")["marketable_from"] == "2026-06-10T06:00:00+02:00"
    assert h.household("H-2")["marketable_from"] == "2026-06-11T00:00:00+00:00"
    sent = {e["detail"]["household_id"]: e["detail"]["marketable_from"] for e in tap.events("HouseholdConnected")}
    assert sent == {"H-1": "2026-06-10T06:00:00+02:00", "H-2": "2026-06-11T00:00:00Z"}


def test_a_duplicated_column_sets_the_drop_aside_instead_of_failing_into_the_dlq(stack) -> None:
    """Issue 13.4: a file exported with a column twice is refused whole, with its reason, and not retried."""
    feed = FEED_HEADER.rstrip("\n") + ",Canton\n" + (
        "H-1,Bahnhofstrasse,1,8001,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-10,1000,false,ZH\n")
    # When the drop arrives, the message succeeds (no retry, no DLQ) ...
    h.no_failures(_drop("feed/twice.csv", feed))
    # ... nothing of it is ingested, a copy and its reason are set aside in rejected/
    assert h.household("H-1") is None
    bucket = h.cfg().feed_bucket
    assert h.s3_get(bucket, "rejected/feed/twice.csv").decode("utf-8") == feed
    assert h.s3_get(bucket, "rejected/feed/twice.csv.reason.txt").decode("utf-8") == (
        f"s3://{bucket}/feed/twice.csv:1: duplicate column 'canton'\n")
    # ... and a run's rejected.csv lists the file once, with its reason (its copy is not read as rejections)
    from types import SimpleNamespace

    from infra.export import collect_rejected

    assert collect_rejected(SimpleNamespace(refs={"FeedBucket": bucket}), {}) == [  # type: ignore[arg-type]
        {"source": "feed", "line": "1", "reason": f"s3://{bucket}/feed/twice.csv:1: duplicate column 'canton'",
         "raw": "", "action": "file refused"}]


@pytest.mark.parametrize(
    ("key", "announced_as"),
    [
        ("feed/rollout 2026-06-08.csv", "feed/rollout+2026-06-08.csv"),  # S3 encodes a space as '+'
        ("feed/Lieferung (1).csv", quote_plus("feed/Lieferung (1).csv", safe="/")),
        ("feed/Zürich+Bern.csv", quote_plus("feed/Zürich+Bern.csv", safe="/")),  # a real '+' is '%2B'
        ("feed/a+b.csv", "feed/a+b.csv"),  # a key announced as it is: tried as given when decoding finds nothing
    ],
)
def test_url_encoded_keys_are_decoded(stack, key: str, announced_as: str) -> None:
    """Issue 13.8: a URL-encoded object key no longer fails with NoSuchKey into the DLQ."""
    feed = FEED_HEADER + "H-1,Bahnhofstrasse,1,8001,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-10,1000,false\n"
    h.no_failures(_drop(key, feed, announced_as=announced_as))
    assert h.household("H-1") is not None


@pytest.mark.parametrize("key", ["feed/", "crm/2026/", "other/x.csv"])
def test_folder_objects_and_keys_outside_the_prefixes_are_ignored(stack, key: str) -> None:
    """Issue 13.8: the console's "Create folder" (a zero-byte `feed/`) is no drop and no failure."""
    s = h.cfg()
    client("s3").put_object(Bucket=s.feed_bucket, Key=key, Body=b"")
    h.no_failures(h.invoke(handler, h.s3_drop_event(s.feed_bucket, key, NOW)))
    assert h.s3_keys(s.feed_bucket, "rejected/") == []
