"""Call-list exporter against moto: gated call steps queue up; each morning's export writes the
day's list for the call centre (BOM, ';', national phone notation), best expected value first, cut
to the centre's capacity, with the rest rolling over to the next day; no list on Sundays."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest

from functions.call_list_exporter.handler import handler
from functions.call_list_exporter.logic import COLUMNS
from tests.integration import helpers as h

TUESDAY, WEDNESDAY = date(2026, 6, 9), date(2026, 6, 10)
OFFERS = {"H-1": ("fibre-500-upgrade", "+41791111111"), "H-2": ("fibre-10g-upgrade", "+41792222222"),
          "H-3": ("fibre-1g-upgrade", "+41793333333")}  # expected value 120, 240, 180


def _call_step(household_id: str, offer_id: str, mobile: str, at: datetime, **customer: object) -> dict:
    return h.seed(household_id, f"C{household_id[1:]}", target_group="upgrade", offer_id=offer_id, due_at=at,
                  step=3, cycle_started_at=at, household={"max_down_mbps": 10000},
                  customer={"mobile": mobile, "first_name": "Anna", "last_name": household_id, **customer})


def _request(journey: dict, at: datetime) -> None:
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "call"), at)))


def _export(day: date) -> dict:
    return h.invoke(handler, h.scheduled("export", h.local(day, 6)))["result"]


def _rows(day: date) -> list[list[str]]:
    body = h.s3_get(h.cfg().call_list_bucket, f"call-lists/{day.isoformat()}.csv")
    assert body.startswith(b"\xef\xbb\xbf"), "the call list must start with a UTF-8 BOM"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == COLUMNS
    return rows[1:]


def test_call_requests_queue_and_the_export_lists_the_best_first_up_to_capacity(stack) -> None:
    # Given the call centre can take two calls a day, and three call steps requested on Monday
    h.upload_config("calls: {per_day: 2}\n")
    now = h.local(h.MONDAY, 10)
    for household_id, (offer_id, mobile) in OFFERS.items():
        _request(_call_step(household_id, offer_id, mobile, now), now)
    # Then they wait in the call queue, their contacts "queued", and nothing is exported yet
    assert len(h.scan(h.cfg().calls_table)) == 3
    assert {c["status"] for hh in OFFERS for c in h.claims(hh)} == {"queued"}
    assert h.s3_keys(h.cfg().call_list_bucket) == []
    # When Tuesday's export runs at 06:00
    result = _export(TUESDAY)
    # Then the list holds two rows, highest expected value first, in national phone notation
    assert result["rows"] == 2
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in _rows(TUESDAY)]
    assert [(r["priority"], r["household_id"], r["offer_id"]) for r in rows] == [
        ("1", "H-2", "fibre-10g-upgrade"), ("2", "H-3", "fibre-1g-upgrade")]
    assert [r["phone"] for r in rows] == ["079 222 22 22", "079 333 33 33"]
    assert {r["call_date"] for r in rows} == {"2026-06-09"} and {r["attempt"] for r in rows} == {"1"}
    # ... the listed calls are contacts made at the export, the third still queued
    [listed] = h.claims("H-2")
    assert listed["status"] == "sent" and datetime.fromisoformat(listed["at"]) == h.local(TUESDAY, 6)
    assert [c["status"] for c in h.claims("H-1")] == ["queued"]
    # When Wednesday's export runs, the one that did not fit rolls over
    assert _export(WEDNESDAY)["rows"] == 1
    assert [(r[1], r[3], r[7]) for r in _rows(WEDNESDAY)] == [("1", "H-1", "079 111 11 11")]
    assert [i for i in h.scan(h.cfg().calls_table) if i["queue"] == "pending"] == []


def test_a_retried_export_keeps_the_calls_it_listed_before_it_failed(stack, monkeypatch) -> None:
    # Given three queued calls and a call centre that takes all three
    h.upload_config("calls: {per_day: 3}\n")
    now = h.local(h.MONDAY, 10)
    for household_id, (offer_id, mobile) in OFFERS.items():
        _request(_call_step(household_id, offer_id, mobile, now), now)
    # When Tuesday's export dies after listing the first call (its contact made, its queue item gone) ...
    from functions.call_list_exporter import logic

    real, listed = logic._list_one, []

    def dies_after_one(*args: object, **kwargs: object) -> object:
        if listed:
            raise TimeoutError("the invocation timed out")
        row = real(*args, **kwargs)  # type: ignore[arg-type]
        listed.append(row)
        return row

    monkeypatch.setattr(logic, "_list_one", dies_after_one)
    with pytest.raises(TimeoutError):
        _export(TUESDAY)
    monkeypatch.setattr(logic, "_list_one", real)
    assert [c["status"] for c in h.claims("H-2")] == ["sent"]
    # ... and the scheduler runs it again
    assert _export(TUESDAY)["rows"] == 3
    # Then the day's list holds every call made that day, once, the one listed first still first
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in _rows(TUESDAY)]
    assert [(r["priority"], r["household_id"]) for r in rows] == [("1", "H-2"), ("2", "H-3"), ("3", "H-1")]
    assert {c["status"] for hh in OFFERS for c in h.claims(hh)} == {"sent"}
    # ... and a third run changes nothing
    assert _export(TUESDAY)["rows"] == 3 and len(_rows(TUESDAY)) == 3


def test_no_call_list_on_a_sunday(stack) -> None:
    now = h.local(date(2026, 6, 13), 10)  # requested on Saturday
    _request(_call_step("H-1", "fibre-10g-upgrade", "+41791111111", now), now)
    result = _export(h.SUNDAY)
    assert result["rows"] == 0
    assert h.s3_keys(h.cfg().call_list_bucket) == []
    assert [c["status"] for c in h.claims("H-1")] == ["queued"]
    # ... Monday's list has it
    assert _export(date(2026, 6, 15))["rows"] == 1


def test_no_cell_starts_with_a_formula_trigger(stack) -> None:
    now = h.local(h.MONDAY, 10)
    _request(_call_step("H-1", "fibre-10g-upgrade", "+4915123456789", now, first_name="Anna"), now)
    _export(TUESDAY)
    [row] = _rows(TUESDAY)
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row
    assert "49 1512 3456789" in row[COLUMNS.index("phone")]


def test_starred_number_without_call_consent_is_skipped(stack) -> None:
    now = h.local(h.MONDAY, 10)
    _request(_call_step("H-1", "fibre-10g-upgrade", "+41791111111", now, phone_listing="starred",
                        call_consent=False), now)
    assert h.scan(h.cfg().calls_table) == []
    [decision] = h.decisions("H-1")
    assert decision["decision"] == "skipped" and "starred" in decision["reason"]
