"""CRM extracts as snapshots, against moto: a later extract supersedes the one before (customers who left are
retired, their objections kept as suppressions; a moved customer belongs to the new household only), a resident's
do_not_mail stops partially addressed mail to the household, households whose residents changed are announced
again, and an extract that would retire too many customers is held until an operator releases it."""

from __future__ import annotations

import json

from functions.ingest.handler import handler
from functions.ingest.logic import held_reason
from shared.aws import client
from tests.integration import helpers as h

CRM_HEADER = ("customer_id,household_id,first_name,last_name,language,email,mobile,phone_listing,has_internet,"
              "internet_down_mbps,has_mobile,email_consent,sms_consent,call_consent,do_not_call,do_not_mail\n")
NOW = h.local(h.MONDAY, 9)
LATER = h.local(h.MONDAY, 15)


def row(customer_id: str, household_id: str, *, internet: bool = True, mbps: str = "100", mobile: bool = True,
        email_consent: bool = True, do_not_call: bool = False, do_not_mail: bool = False) -> str:
    b = lambda v: "true" if v else "false"  # noqa: E731
    return (f"{customer_id},{household_id},Anna,Muster,de,{customer_id.lower()}@example.ch,079 123 45 67,listed,"
            f"{b(internet)},{mbps if internet else ''},{b(mobile)},{b(email_consent)},true,true,"
            f"{b(do_not_call)},{b(do_not_mail)}\n")


def drop(key: str, rows: list[str], at=NOW) -> dict:  # type: ignore[no-untyped-def]
    s = h.cfg()
    client("s3").put_object(Bucket=s.feed_bucket, Key=key, Body=(CRM_HEADER + "".join(rows)).encode("utf-8"))
    return h.invoke(handler, h.s3_drop_event(s.feed_bucket, key, at))  # type: ignore[no-any-return]


def customer(household_id: str, customer_id: str) -> dict | None:
    return h.get(h.cfg().customers_table, {"household_id": household_id, "customer_id": customer_id})


def base(n: int, **overrides: object) -> list[str]:
    return [row(f"C-{i}", f"H-{i}", **overrides) for i in range(n)]  # type: ignore[arg-type]


def test_a_customer_missing_from_the_next_extract_is_retired_and_their_objections_stay(stack) -> None:
    # Given a first extract of ten customers, C-3 objecting to calls and mail
    rows = base(10)
    rows[3] = row("C-3", "H-3", do_not_call=True, do_not_mail=True)
    h.no_failures(drop("crm/2026-06-01.csv", rows))
    assert customer("H-3", "C-3") is not None
    # When the next extract no longer has C-3
    h.no_failures(drop("crm/2026-06-08.csv", rows[:3] + rows[4:], LATER))
    # Then C-3's record is gone (personal data), the others stay
    assert customer("H-3", "C-3") is None and customer("H-4", "C-4") is not None
    # ... and C-3's objections outlive it as suppressions
    assert h.suppressed_channels("customer#C-3") == ["call", "print"]
    assert h.get(h.cfg().suppression_table, {"subject": "customer#C-3"})["source"] == "crm"


def test_a_customer_who_moved_belongs_to_the_new_household_only(stack) -> None:
    # Given five customers
    h.no_failures(drop("crm/a.csv", base(5)))
    # When C-1 appears at H-9 in the next extract
    h.no_failures(drop("crm/b.csv", [r if not r.startswith("C-1,") else row("C-1", "H-9") for r in base(5)], LATER))
    # Then the old (H-1, C-1) item is removed and the new one holds
    assert customer("H-1", "C-1") is None and customer("H-9", "C-1") is not None
    # ... and nothing is suppressed: C-1 is still a customer
    assert h.suppressed_channels("customer#C-1") == []


def test_a_withdrawn_consent_overwrites_the_item(stack) -> None:
    # Given C-0 with email consent; when the next extract says no consent, then the item says so
    h.no_failures(drop("crm/a.csv", base(3)))
    h.no_failures(drop("crm/b.csv", [row("C-0", "H-0", email_consent=False), *base(3)[1:]], LATER))
    assert customer("H-0", "C-0")["email_consent"] is False


def test_a_residents_do_not_mail_stops_partially_addressed_mail_to_the_household(stack) -> None:
    # Given an extract where C-1 objects to mail; then H-1 (only) gets no partially addressed mail
    h.no_failures(drop("crm/a.csv", [row("C-1", "H-1", do_not_mail=True), row("C-2", "H-2")]))
    assert h.suppressed_channels("household#H-1") == ["partially_addressed"]
    assert h.suppressed_channels("household#H-2") == []


def test_connected_households_whose_residents_changed_are_announced_again(stack) -> None:
    # Given three connected households, each with a customer
    for i in range(3):
        h.seed_household(f"H-{i}")
    h.no_failures(drop("crm/a.csv", base(10)))
    tap = h.BusTap(stack)
    # When C-0 leaves, C-1 changes what segmenting reads (internet cancelled), C-2 only their consent,
    # and C-3's household (not connected yet) changes too
    rows = [row("C-1", "H-1", internet=False), row("C-2", "H-2", email_consent=False), row("C-3", "H-3", mobile=False),
            *base(10)[4:]]
    h.no_failures(drop("crm/b.csv", rows, LATER))
    # Then H-0 and H-1 are announced again as a CRM change, H-2 (no segment change) and H-3 (not connected) are not
    again = [e["detail"] for e in tap.events("HouseholdConnected")]
    assert sorted(d["household_id"] for d in again) == ["H-0", "H-1"]
    assert {d["cause"] for d in again} == {"crm_change"}
    assert again[0]["marketable_from"] == "2026-06-01" and again[0]["max_down_mbps"] == 10000


def test_an_extract_that_would_retire_too_many_customers_is_held_and_nothing_applied(stack) -> None:
    # Given ten customers
    h.no_failures(drop("crm/a.csv", base(10)))
    assert held_reason(h.cfg().feed_bucket, "crm/a.csv") is None
    # When a truncated extract has only seven of them (30 % would retire, more than 20 %), one of them changed
    truncated = [row("C-0", "H-0", email_consent=False), *base(10)[1:7]]
    h.no_failures(drop("crm/truncated.csv", truncated, LATER))
    # Then nobody is retired and nothing is upserted
    assert all(customer(f"H-{i}", f"C-{i}") is not None for i in range(10))
    assert customer("H-0", "C-0")["email_consent"] is True
    # ... and the hold is recorded beside the drop, with the share and the way to release it
    record = json.loads(h.s3_get(h.cfg().feed_bucket, "held/crm/truncated.csv.json"))
    assert record["key"] == "crm/truncated.csv" and record["share_retired"] == 30.0 and record["threshold"] == 20
    assert (record["customers_before"], record["customers_after"]) == (10, 7)
    reason = held_reason(h.cfg().feed_bucket, "crm/truncated.csv")
    assert reason is not None and "30.0 %" in reason and "crm/release/truncated.csv" in reason


def test_the_first_extract_is_never_held(stack) -> None:
    # Given no customers yet; when the first extract comes, then it is applied (nothing to compare with)
    h.no_failures(drop("crm/first.csv", base(2)))
    assert customer("H-0", "C-0") is not None and h.s3_keys(h.cfg().feed_bucket, "held/") == []


def test_a_held_extract_released_by_an_operator_is_applied_without_the_guard(stack) -> None:
    # Given a held extract
    h.no_failures(drop("crm/a.csv", base(10)))
    h.no_failures(drop("crm/truncated.csv", base(10)[:5], LATER))
    assert customer("H-9", "C-9") is not None
    # When the operator copies it to crm/release/ (the drop notification follows)
    s = h.cfg()
    client("s3").copy_object(Bucket=s.feed_bucket, Key="crm/release/truncated.csv",
                             CopySource={"Bucket": s.feed_bucket, "Key": "crm/truncated.csv"})
    h.no_failures(h.invoke(handler, h.s3_drop_event(s.feed_bucket, "crm/release/truncated.csv", LATER)))
    # Then it is applied: half the customers retired
    assert customer("H-9", "C-9") is None and customer("H-4", "C-4") is not None
    # ... and the extract no longer counts as held
    assert held_reason(s.feed_bucket, "crm/truncated.csv") is None
    assert json.loads(h.s3_get(s.feed_bucket, "held/crm/truncated.csv.json"))["released_by"] == (
        "crm/release/truncated.csv")


def test_an_applied_extract_delivered_again_changes_nothing(stack) -> None:
    # Given extract a, then b (C-2 left), both applied
    h.no_failures(drop("crm/a.csv", base(10)))
    h.no_failures(drop("crm/b.csv", base(10)[:2] + base(10)[3:], LATER))
    # When a's notification is delivered again (SQS delivers at least once)
    s = h.cfg()
    h.no_failures(h.invoke(handler, h.s3_drop_event(s.feed_bucket, "crm/a.csv", LATER)))
    # Then the older snapshot does not bring C-2 back
    assert customer("H-2", "C-2") is None


def test_an_extract_interrupted_half_way_is_finished_with_the_same_plan_on_redelivery(stack, monkeypatch) -> None:
    # Given ten connected customers' households, and a next extract in which C-3 left
    for i in range(10):
        h.seed_household(f"H-{i}")
    h.no_failures(drop("crm/a.csv", base(10)))
    tap = h.BusTap(stack)
    from functions.ingest import extract

    real_retire = extract._retire

    def crash(*args: object) -> None:
        raise RuntimeError("the function died after the upserts")

    # When the first attempt dies after writing the customers, before retiring anybody
    monkeypatch.setattr(extract, "_retire", crash)
    result = drop("crm/b.csv", base(10)[:3] + base(10)[4:], LATER)
    assert len(result["batchItemFailures"]) == 1 and customer("H-3", "C-3") is not None
    # ... and the notification is delivered again
    monkeypatch.setattr(extract, "_retire", real_retire)
    h.no_failures(h.invoke(handler, h.s3_drop_event(h.cfg().feed_bucket, "crm/b.csv", LATER)))
    # Then the plan made before the first change is carried out: C-3 retired, H-3 segmented again
    assert customer("H-3", "C-3") is None
    assert [e["detail"]["household_id"] for e in tap.events("HouseholdConnected")] == ["H-3"]


def test_an_extract_delivered_after_a_newer_one_was_applied_is_out_of_date(stack) -> None:
    # Given extract a dropped at 09:00 but delivered late, after extract b (15:00, C-2 left) was applied
    s = h.cfg()
    client("s3").put_object(Bucket=s.feed_bucket, Key="crm/a.csv", Body=(CRM_HEADER + "".join(base(10))).encode())
    h.no_failures(drop("crm/b.csv", base(10)[:2] + base(10)[3:], LATER))
    # When a's notification (stamped 09:00) arrives
    h.no_failures(h.invoke(handler, h.s3_drop_event(s.feed_bucket, "crm/a.csv", NOW)))
    # Then it is not applied: C-2 does not come back
    assert customer("H-2", "C-2") is None
    assert json.loads(h.s3_get(s.feed_bucket, "applied/crm/a.csv.json"))["superseded_by"] == "crm/b.csv"
