"""Unit tests of shared.inputs: field rules, line numbers, file-level errors, the streaming reader."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from shared.inputs import (
    CANTONS,
    FIELD_IGNORED,
    CustomerRow,
    FeedRow,
    InputFileError,
    Rejected,
    ResponseRow,
    columns,
    header_names,
    open_rows,
    read_rows,
    required_columns,
)

M = TypeVar("M", bound=BaseModel)

FEED = {
    "household_id": "HH-000001",
    "street": "Technikumstrasse",
    "house_number": "12a",
    "postcode": "8400",
    "locality": "Winterthur",
    "commune": "Winterthur",
    "canton": "ZH",
    "connected_at": "2026-03-02T10:15:00+01:00",
    "marketable_from": "2026-03-20",
    "max_down_mbps": "10000",
    "no_ads_sticker": "false",
}
CUSTOMER = {
    "customer_id": "C-100001",
    "household_id": "HH-000001",
    "first_name": "Anna",
    "last_name": "Müller",
    "language": "de",
    "email": "Anna.Mueller@Bluewin.CH",
    "mobile": "079 123 45 67",
    "phone_listing": "starred",
    "has_internet": "true",
    "internet_down_mbps": "100",
    "has_mobile": "false",
    "email_consent": "true",
    "sms_consent": "false",
    "call_consent": "false",
    "do_not_call": "false",
    "do_not_mail": "false",
}
RESPONSE = {
    "at": "2026-04-01T09:00:00Z",
    "household_id": "HH-000001",
    "customer_id": "C-100001",
    "type": "opt_out",
    "channel": "sms",
    "outcome": "",
}


def csv_text(rows: list[dict[str, str]], header: list[str] | None = None) -> str:
    """A CSV file's text from rows (header from the first row unless given)."""
    buffer = io.StringIO()
    names = header if header is not None else list(rows[0])
    writer = csv.writer(buffer)  # RFC 4180: CRLF, fields with CR or LF quoted
    writer.writerow(names)
    for row in rows:
        writer.writerow([row.get(name, "") for name in names])
    return buffer.getvalue()


def read(text: str, model: type[Any] = FeedRow, source: str = "feed") -> list[Any]:
    lines = io.StringIO(text, newline="\n")  # physical lines end at "\n" only, as in open_rows
    return list(read_rows(lines, model, source, "test.csv"))


def one(model: type[Any], base: dict[str, str], **changes: str) -> Any:
    """Read a single-row file and return the row or the Rejected."""
    sources: dict[type[Any], str] = {
        FeedRow: "feed",
        CustomerRow: "customers",
        ResponseRow: "responses",
    }
    source = sources[model]
    (result,) = read(csv_text([{**base, **changes}]), model, source)
    return result


def ok(item: tuple[int, M] | Rejected) -> tuple[int, M]:
    """The (line, row) of an accepted record."""
    assert not isinstance(item, Rejected), item
    return item


def reason(model: type[Any], base: dict[str, str], **changes: str) -> str:
    result = one(model, base, **changes)
    assert isinstance(result, Rejected), result
    return result.reason


def kept(model: type[Any], base: dict[str, str], **changes: str) -> tuple[Any, list[str]]:
    """Read a single-row file whose row is kept with fields ignored: (the row, the reason of each field ignored)."""
    source = {FeedRow: "feed", CustomerRow: "customers", ResponseRow: "responses"}[model]
    *notes, last = read(csv_text([{**base, **changes}]), model, source)
    assert not isinstance(last, Rejected), last
    assert last[0] == 2
    assert all(isinstance(n, Rejected) and n.action == FIELD_IGNORED and n.line == 2 for n in notes), notes
    return last[1], [n.reason for n in notes]


def accepted(model: type[Any], base: dict[str, str], **changes: str) -> Any:
    result = one(model, base, **changes)
    assert not isinstance(result, Rejected), result
    line, row = result
    assert line == 2
    assert isinstance(row, BaseModel)
    return row


# --------------------------------------------------------------------------- feed rules


def test_good_feed_row_types() -> None:
    row = accepted(FeedRow, FEED)
    assert row.connected_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert row.connected_at.utcoffset() == timedelta(hours=1)
    assert row.marketable_from == date(2026, 3, 20)
    assert row.max_down_mbps == 10000
    assert row.no_ads_sticker is False
    assert row.postcode == "8400"


@pytest.mark.parametrize("value", ["80A1", "840", "84000", "0400", " ", "８４００"])
def test_postcode_needs_four_digits(value: str) -> None:
    assert reason(FeedRow, FEED, postcode=value).startswith("postcode: expected 4 digits")


def test_reason_quotes_the_value() -> None:
    assert reason(FeedRow, FEED, postcode="80A1") == "postcode: expected 4 digits (1000-9999), got '80A1'"


@pytest.mark.parametrize("canton", sorted(CANTONS))
def test_every_canton_is_accepted(canton: str) -> None:
    assert accepted(FeedRow, FEED, canton=canton).canton == canton


def test_canton_is_case_insensitive_and_unknown_ones_rejected() -> None:
    assert len(CANTONS) == 26
    assert accepted(FeedRow, FEED, canton="vd").canton == "VD"
    assert reason(FeedRow, FEED, canton="ZR").startswith("canton: expected a Swiss canton code")
    assert "got 'ZR'" in reason(FeedRow, FEED, canton="ZR")


@pytest.mark.parametrize(
    ("value", "offset"),
    [
        ("2026-03-02T10:15:00+01:00", timedelta(hours=1)),
        ("2026-03-02T10:15:00Z", timedelta(0)),
        ("2026-03-02T10:15:00.123+02:00", timedelta(hours=2)),
        ("2026-03-02 10:15:00+01:00", timedelta(hours=1)),
    ],
)
def test_times_with_offset(value: str, offset: timedelta) -> None:
    assert accepted(FeedRow, FEED, connected_at=value).connected_at.utcoffset() == offset


@pytest.mark.parametrize("value", ["2026-03-02T10:15:00", "2026-03-02", "1772442900", "02.03.2026 10:15", ""])
def test_naive_or_non_iso_times_are_rejected(value: str) -> None:
    assert reason(FeedRow, FEED, connected_at=value).startswith("connected_at: expected an ISO 8601 time with offset")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-20", date(2026, 3, 20)),
        ("2027-03-10T00:00:00+01:00", datetime(2027, 3, 10, tzinfo=timezone(timedelta(hours=1)))),
        ("2027-03-10T06:30:00Z", datetime(2027, 3, 10, 6, 30, tzinfo=UTC)),
        ("2027-03-10 06:30+02:00", datetime(2027, 3, 10, 6, 30, tzinfo=timezone(timedelta(hours=2)))),
    ],
)
def test_marketable_from_is_a_date_or_an_instant(value: str, expected: date) -> None:
    """Issue 13.3: a rollout system that writes timestamps loses no row."""
    got = accepted(FeedRow, FEED, marketable_from=value).marketable_from
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("value", ["2026-03-20T00:00:00", "20.03.2026", "2026-02-30", "2026-3-20", "", "2026-03-20X"])
def test_marketable_from_local_times_and_other_notations_are_rejected(value: str) -> None:
    assert reason(FeedRow, FEED, marketable_from=value).startswith(
        "marketable_from: expected a date YYYY-MM-DD or an ISO 8601 date-time with offset or Z")


@pytest.mark.parametrize("value", ["0", "-1", "fast", "1.5", "100001", ""])
def test_max_down_mbps_positive_whole_number(value: str) -> None:
    assert reason(FeedRow, FEED, max_down_mbps=value).startswith("max_down_mbps: expected a whole number")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("false", False), ("TRUE", True), ("False", False)],
)
def test_booleans(value: str, expected: bool) -> None:
    assert accepted(FeedRow, FEED, no_ads_sticker=value).no_ads_sticker is expected


@pytest.mark.parametrize("value", ["yes", "no", "1", "0", "t", "ja", "", "on"])
def test_other_sticker_spellings_read_as_a_sticker(value: str) -> None:
    """A malformed no_ads_sticker keeps the row and reads the safe way: a sticker."""
    row, notes = kept(FeedRow, FEED, no_ads_sticker=value)
    assert row.no_ads_sticker is True
    assert notes == [f"no_ads_sticker: expected true or false, got '{value}'; read as true"]


@pytest.mark.parametrize("value", ["12", "12a", "12 B", "12bis", "3-5", "12/1", "7.1", "1", "9999"])
def test_house_numbers_accepted(value: str) -> None:
    assert accepted(FeedRow, FEED, house_number=value).house_number == value


@pytest.mark.parametrize("value", ["", "0", "012", "Haus 3", "12 Stock 3", "a12", "12abc", "12345"])
def test_house_numbers_rejected(value: str) -> None:
    assert reason(FeedRow, FEED, house_number=value).startswith("house_number: ")


@pytest.mark.parametrize("column", ["street", "locality", "commune"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","y")', "must not start with =, +, - or @"),
        ("+41 Strasse", "must not start with =, +, - or @"),
        ("-Strasse", "must not start with =, +, - or @"),
        ("@Strasse", "must not start with =, +, - or @"),
        ("Bahnhof\nstrasse", "must not contain control characters"),
        ("Bahnhof\tstrasse", "must not contain control characters"),
        ("Bahnhofstrasse\r", "must not contain control characters"),
        ("\tBahnhofstrasse", "must not contain control characters"),
        ("Bahnhof\x00strasse", "must not contain control characters"),
        ("Bahnhof\u2028strasse", "must not contain control characters"),
        ("", "expected a non-empty value"),
        ("   ", "expected a non-empty value"),
        ("x" * 81, "expected at most"),
    ],
)
def test_unsafe_text_is_rejected_not_rewritten(column: str, value: str, expected: str) -> None:
    assert reason(FeedRow, FEED, **{column: value}).startswith(f"{column}: {expected}")


def test_text_keeps_inner_punctuation_and_strips_outer_spaces() -> None:
    row = accepted(FeedRow, FEED, street="  Faubourg de l'Hôpital ", locality="Yverdon-les-Bains")
    assert row.street == "Faubourg de l'Hôpital"
    assert row.locality == "Yverdon-les-Bains"


@pytest.mark.parametrize("value", ["", "HH 1", "-HH1", "=1+1", "HH/1", "x" * 65])
def test_ids(value: str) -> None:
    assert reason(FeedRow, FEED, household_id=value).startswith("household_id: expected an id")


def test_several_problems_in_one_reason() -> None:
    text = reason(FeedRow, FEED, postcode="1", canton="XX")
    assert text.startswith("postcode: ")
    assert "; canton: " in text


# --------------------------------------------------------------------------- customer rules


def test_good_customer_is_normalised() -> None:
    row = accepted(CustomerRow, CUSTOMER)
    assert row.email == "Anna.Mueller@bluewin.ch"
    assert row.mobile == "+41791234567"
    assert row.internet_down_mbps == 100
    assert row.has_internet is True
    assert row.phone_listing == "starred"
    assert not row.is_former_customer


def test_empty_email_mobile_and_speed_are_none() -> None:
    row = accepted(CustomerRow, CUSTOMER, email="", mobile="", internet_down_mbps="")
    assert (row.email, row.mobile, row.internet_down_mbps) == (None, None, None)


def test_former_customer() -> None:
    row = accepted(
        CustomerRow,
        CUSTOMER,
        has_internet="false",
        internet_down_mbps="",
        has_mobile="false",
    )
    assert row.is_former_customer


@pytest.mark.parametrize("value", ["anna@@bluewin.ch", "anna", "anna@", "@bluewin.ch", "anna bluewin.ch"])
def test_bad_email_is_ignored_and_the_customer_kept(value: str) -> None:
    """Issue 13.1: one malformed field no longer drops the customer with their objections."""
    row, notes = kept(CustomerRow, CUSTOMER, email=value, do_not_mail="true")
    assert row.email is None
    assert (row.customer_id, row.household_id, row.has_internet, row.do_not_mail) == (
        "C-100001", "HH-000001", True, True)
    assert row.mobile == "+41791234567"
    (note,) = notes
    assert note.startswith("email: expected a valid e-mail address, got ")
    assert note.endswith("; left empty")


@pytest.mark.parametrize("value", ["079 12", "12345", "+41 79 123 45 6", "079 123 45 67 ext 1", "mobile"])
def test_bad_mobile_is_ignored_and_the_customer_kept(value: str) -> None:
    row, notes = kept(CustomerRow, CUSTOMER, mobile=value, do_not_call="true")
    assert (row.mobile, row.do_not_call, row.email) == (None, True, "Anna.Mueller@bluewin.ch")
    assert notes == [f"mobile: expected a valid phone number, got '{value}'; left empty"]


def test_foreign_mobile() -> None:
    assert accepted(CustomerRow, CUSTOMER, mobile="+49 151 23456789").mobile == "+4915123456789"


@pytest.mark.parametrize("value", ["rm", "german"])
def test_unknown_language_is_ignored(value: str) -> None:
    row, notes = kept(CustomerRow, CUSTOMER, language=value)
    assert row.language is None
    assert notes == [f"language: expected de, fr, it or en, got '{value}'; left empty (the household's region decides)"]


def test_language_case_and_empty() -> None:
    assert accepted(CustomerRow, CUSTOMER, language="DE ").language == "de"
    assert accepted(CustomerRow, CUSTOMER, language="").language is None


@pytest.mark.parametrize("value", ["public", "", "secret"])
def test_phone_listing_malformed_reads_as_unlisted(value: str) -> None:
    row, notes = kept(CustomerRow, CUSTOMER, phone_listing=value)
    assert row.phone_listing == "unlisted"
    (note,) = notes
    assert note.startswith("phone_listing: expected listed") and note.endswith("; read as unlisted")


def test_speed_rules() -> None:
    assert accepted(CustomerRow, CUSTOMER, internet_down_mbps="0").internet_down_mbps == 0
    assert accepted(CustomerRow, CUSTOMER, internet_down_mbps="").internet_down_mbps is None
    row, notes = kept(CustomerRow, CUSTOMER, internet_down_mbps="-5")
    assert row.internet_down_mbps is None and notes[0].startswith("internet_down_mbps: expected empty")
    row, notes = kept(CustomerRow, CUSTOMER, has_internet="false")
    assert (row.has_internet, row.internet_down_mbps) == (False, None)
    assert notes == ["internet_down_mbps: expected empty when has_internet is false, got '100'; left empty"]


def test_a_bad_relationship_flag_cascades_to_the_speed() -> None:
    """has_internet unreadable -> read as false; then the speed beside it makes no sense and is ignored too."""
    row, notes = kept(CustomerRow, CUSTOMER, has_internet="ja")
    assert (row.has_internet, row.internet_down_mbps) == (False, None)
    assert notes == ["has_internet: expected true or false, got 'ja'; read as false",
                     "internet_down_mbps: expected empty when has_internet is false, got '100'; left empty"]


@pytest.mark.parametrize("column", ["first_name", "last_name"])
def test_names_are_csv_safe(column: str) -> None:
    row, notes = kept(CustomerRow, CUSTOMER, **{column: "=cmd|' /C calc'!A0"})
    assert getattr(row, column) == "" and notes[0].startswith(f"{column}: must not start with")
    row, notes = kept(CustomerRow, CUSTOMER, **{column: "Anna\r\nMaria"})
    assert getattr(row, column) == "" and "control characters" in notes[0]
    assert accepted(CustomerRow, CUSTOMER, **{column: "Anne-Marie"})


@pytest.mark.parametrize("column", ["customer_id", "household_id"])
@pytest.mark.parametrize("value", ["", "C 1", "=1+1"])
def test_only_missing_or_bad_ids_reject_a_customer(column: str, value: str) -> None:
    """What makes a row meaningless rejects it, and the reason lists every problem of the row."""
    result = one(CustomerRow, CUSTOMER, email="bad address", **{column: value})
    assert isinstance(result, Rejected) and result.action == "row rejected"
    assert result.reason.startswith(f"{column}: expected an id")
    assert "email: expected a valid e-mail address" in result.reason


@pytest.mark.parametrize(
    "column",
    [
        "has_internet",
        "has_mobile",
        "email_consent",
        "sms_consent",
        "call_consent",
        "do_not_call",
        "do_not_mail",
    ],
)
def test_every_customer_boolean_reads_the_safe_way(column: str) -> None:
    """A consent or a relationship reads as false, an objection as true."""
    row, notes = kept(CustomerRow, CUSTOMER, **{column: "ja"}, internet_down_mbps="")
    safe = column in ("do_not_call", "do_not_mail")
    assert getattr(row, column) is safe
    assert notes == [f"{column}: expected true or false, got 'ja'; read as {str(safe).lower()}"]


def test_duplicate_customer_id_keeps_the_first() -> None:
    rows = [
        CUSTOMER,
        {**CUSTOMER, "customer_id": "C-2"},
        {**CUSTOMER, "first_name": "Other"},
    ]
    results = read(csv_text(rows), CustomerRow, "customers")
    assert [r[0] for r in results[:2]] == [2, 3]
    assert results[0][1].first_name == "Anna"
    raw = csv_text(rows).splitlines()[3]
    assert results[2] == Rejected("customers", 4, "customer_id: duplicate of line 2", raw)


# --------------------------------------------------------------------------- response rules


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"type": "order", "channel": "", "customer_id": ""},
        {"type": "order", "channel": "email"},
        {"type": "opt_out", "channel": "all"},
        {"type": "email_bounce", "channel": ""},
        {"type": "email_bounce", "channel": "email"},
        {"type": "email_complaint", "channel": ""},
        {"type": "sms_stop", "channel": "SMS"},
        {"type": "call_outcome", "channel": "", "outcome": "do_not_call"},
        {"type": "call_outcome", "channel": "call", "outcome": "not_reached"},
    ],
)
def test_good_responses(changes: dict[str, str]) -> None:
    row = accepted(ResponseRow, RESPONSE, **changes)
    assert row.at == datetime(2026, 4, 1, 9, tzinfo=UTC)
    assert row.customer_id == (changes.get("customer_id", "C-100001") or None)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"type": "unsubscribe"}, "type: expected order, opt_out"),
        ({"type": "opt_out", "channel": ""}, "channel: required for opt_out"),
        (
            {"type": "opt_out", "channel": "fax"},
            "channel: expected email, sms, print, call or all, got 'fax'",
        ),
        ({"type": "order", "channel": "all"}, "channel: 'all' only for opt_out"),
        (
            {"type": "sms_stop", "channel": "email"},
            "channel: expected empty or sms for sms_stop",
        ),
        (
            {"type": "email_bounce", "channel": "print"},
            "channel: expected empty or email for email_bounce",
        ),
        ({"type": "call_outcome", "channel": ""}, "outcome: required for call_outcome"),
        (
            {"type": "call_outcome", "channel": "", "outcome": "busy"},
            "outcome: expected ordered, declined",
        ),
        (
            {"type": "order", "channel": "", "outcome": "ordered"},
            "outcome: expected empty for order",
        ),
        (
            {"at": "2026-04-01T09:00:00"},
            "at: expected an ISO 8601 time with offset or Z",
        ),
        ({"household_id": ""}, "household_id: expected an id"),
    ],
)
def test_bad_responses(changes: dict[str, str], expected: str) -> None:
    assert reason(ResponseRow, RESPONSE, **changes).startswith(expected)


def test_response_file_without_optional_columns() -> None:
    text = "at,household_id,type\n2026-04-01T09:00:00Z,HH-1,order\n2026-04-01T09:00:00Z,HH-1,opt_out\n"
    results = read(text, ResponseRow, "responses")
    assert results[0][1].customer_id is None
    assert isinstance(results[1], Rejected) and results[1].reason.startswith("channel: required for opt_out")


# --------------------------------------------------------------------------- reader: lines, BOM, errors


def test_line_numbers_with_a_quoted_multiline_field() -> None:
    text = (
        "household_id,street,house_number,postcode,locality,commune,canton,connected_at,marketable_from,"
        "max_down_mbps,no_ads_sticker,note\n"
        'HH-1,Technikumstrasse,1,8400,Winterthur,Winterthur,ZH,2026-03-02T10:00:00Z,2026-03-20,1000,false,"a\n'
        'two-line note"\n'
        'HH-2,"Technikum\nstrasse",2,8400,Winterthur,Winterthur,ZH,2026-03-02T10:00:00Z,2026-03-20,1000,false,\n'
        "HH-3,Technikumstrasse,3,8400,Winterthur,Winterthur,ZH,2026-03-02T10:00:00Z,2026-03-20,1000,false,\n"
    )
    results = read(text)
    assert results[0][0] == 2 and results[0][1].household_id == "HH-1"
    assert isinstance(results[1], Rejected)
    assert results[1].line == 4
    assert (
        results[1].raw
        == 'HH-2,"Technikum\nstrasse",2,8400,Winterthur,Winterthur,ZH,2026-03-02T10:00:00Z,2026-03-20,1000,false,'
    )
    assert results[2][0] == 6 and results[2][1].household_id == "HH-3"


def test_lines_with_crlf_lf_or_no_line_ends() -> None:
    text = csv_text([FEED, {**FEED, "street": "Rue\ndu Lac"}, FEED])
    crlf = list(io.StringIO(text, newline="\n"))
    variants = (
        crlf,
        [line.replace("\r\n", "\n") for line in crlf],
        [line.rstrip("\r\n") for line in crlf],
    )
    for lines in variants:
        results = list(read_rows(lines, FeedRow, "feed", "f.csv"))
        assert [r.line if isinstance(r, Rejected) else r[0] for r in results] == [
            2,
            3,
            5,
        ]
        assert isinstance(results[1], Rejected)
        assert (
            results[1].reason
            == "street: must not contain control characters (newline, tab, CR, ...), got 'Rue\\ndu Lac'"
        )
        assert results[1].raw.endswith("false")


def test_bom_is_accepted() -> None:
    results = read("\ufeff" + csv_text([FEED]))
    assert results[0][0] == 2


def test_extra_columns_ignored_and_header_case_insensitive() -> None:
    header = ["Extra", *[name.upper() for name in FEED], " note "]
    results = read(csv_text([{"Extra": "x", **{n.upper(): v for n, v in FEED.items()}}], header))
    assert results[0][1] == FeedRow.model_validate(FEED)


def test_missing_required_columns_make_the_file_unusable() -> None:
    header = [name for name in FEED if name not in ("postcode", "canton")]
    with pytest.raises(InputFileError) as info:
        read_rows(csv_text([FEED], header).splitlines(), FeedRow, "feed", "rollout.csv")
    assert str(info.value) == "rollout.csv:1: missing required column(s): postcode, canton"
    assert (info.value.file, info.value.line) == ("rollout.csv", 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty file"), ("\n\n", "empty header"), ("\ufeff", "empty")],
)
def test_empty_file(text: str, message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        read(text)


@pytest.mark.parametrize("again", ["canton", " Canton ", "CANTON"])
def test_duplicate_column(again: str) -> None:
    """Issue 13.4: a column exported twice refuses the file, however the second one is spelled."""
    header = [*FEED, again]
    with pytest.raises(InputFileError) as info:
        read_rows(csv_text([FEED], header).splitlines(), FeedRow, "feed", "rollout.csv")
    assert str(info.value) == "rollout.csv:1: duplicate column 'canton'"


def test_header_names_one_rule_for_every_reader() -> None:
    assert header_names(["\ufeff Household_ID ", "CANTON\t", "Note"]) == ["household_id", "canton", "note"]


def test_wrong_field_count_and_blank_lines() -> None:
    text = csv_text([FEED]) + "\nHH-2,short\n" + csv_text([FEED]).splitlines(keepends=True)[1]
    results = read(text)
    assert results[0][0] == 2
    assert results[1] == Rejected("feed", 4, "expected 11 fields, got 2", "HH-2,short")
    assert results[2][0] == 5


def test_good_rows_go_on_after_bad_ones() -> None:
    rows = [
        FEED,
        {**FEED, "postcode": "x"},
        {**FEED, "canton": "x"},
        FEED,
        {**FEED, "household_id": "HH-9"},
    ]
    results = read(csv_text(rows))
    assert [isinstance(r, Rejected) for r in results] == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert [r.line if isinstance(r, Rejected) else r[0] for r in results] == [
        2,
        3,
        4,
        5,
        6,
    ]
    assert all(r.source == "feed" for r in results if isinstance(r, Rejected))


def test_reader_is_streaming() -> None:
    def endless() -> Any:
        yield ",".join(FEED) + "\n"
        while True:
            yield ",".join(FEED.values()) + "\n"

    stream = read_rows(endless(), FeedRow, "feed", "f.csv")
    first = [next(stream) for _ in range(1000)]
    assert ok(first[-1])[0] == 1001


def test_columns_helpers() -> None:
    assert columns(FeedRow) == list(FEED)
    assert columns(CustomerRow) == list(CUSTOMER)
    assert columns(ResponseRow) == list(RESPONSE)
    assert required_columns(ResponseRow) == ["at", "household_id", "type"]
    assert required_columns(CustomerRow) == list(CUSTOMER)


# --------------------------------------------------------------------------- open_rows


def test_open_rows_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as info:
        open_rows(tmp_path / "nope.csv", FeedRow, "feed")
    assert str(info.value) == f"{tmp_path / 'nope.csv'}:0: file not found"


def test_open_rows_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "rollout.csv"
    good = csv_text([FEED, FEED]).encode()
    path.write_bytes(good + "HH-3,Zürcherstrasse\n".encode("latin-1"))
    with pytest.raises(InputFileError, match=r"rollout.csv:4: not UTF-8 \(byte 7 of the line\)"):
        open_rows(path, FeedRow, "feed")  # before any row is yielded


def test_open_rows_not_utf8_far_into_a_big_file(tmp_path: Path) -> None:
    path = tmp_path / "rollout.csv"
    rows = csv_text([FEED] * 30_000).encode()
    path.write_bytes(rows + b"\xff\n")
    with pytest.raises(InputFileError) as info:
        open_rows(path, FeedRow, "feed")
    assert (info.value.line, info.value.message) == (30_002, "not UTF-8 (byte 1 of the line)")


def test_open_rows_reads_a_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(("\ufeff" + csv_text([CUSTOMER])).encode())
    (result,) = list(open_rows(path, CustomerRow, "customers"))
    line, row = ok(result)
    assert line == 2 and row.customer_id == "C-100001"


def test_input_file_error_str() -> None:
    error = InputFileError("customers.csv", 7, "not UTF-8")
    assert str(error) == "customers.csv:7: not UTF-8"
    assert (error.file, error.line, error.message) == ("customers.csv", 7, "not UTF-8")


# --------------------------------------------------------------------------- properties

SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters=" =+-@"),
    min_size=1,
    max_size=1,
).flatmap(
    lambda head: st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
        max_size=59,
    ).map(lambda tail: (head + tail).rstrip(" "))
)


@given(street=SAFE_TEXT, locality=SAFE_TEXT)
def test_safe_text_round_trips_through_csv(street: str, locality: str) -> None:
    row = accepted(FeedRow, FEED, street=street, locality=locality)
    assert (row.street, row.locality) == (street, locality)


@given(st.text(max_size=12))
def test_booleans_only_true_false(value: str) -> None:
    *notes, (_, row) = read(csv_text([{**FEED, "no_ads_sticker": value}]))
    if value.strip(" ").lower() in ("true", "false"):
        assert not notes and row.no_ads_sticker is (value.strip(" ").lower() == "true")
    else:
        assert [n.action for n in notes] == [FIELD_IGNORED] and row.no_ads_sticker is True


@given(st.text(max_size=6))
def test_postcode_property(value: str) -> None:
    result = one(FeedRow, FEED, postcode=value)
    stripped = value.strip(" ")
    good = len(stripped) == 4 and stripped.isascii() and stripped.isdigit() and stripped[0] != "0"
    assert isinstance(result, Rejected) is not good


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=2))])))
def test_any_aware_iso_time_is_accepted(moment: datetime) -> None:
    row = accepted(FeedRow, FEED, connected_at=moment.isoformat())
    assert row.connected_at == moment


@given(st.text(max_size=40))
def test_reader_never_crashes_on_garbage(garbage: str) -> None:
    results = read(csv_text([FEED]) + garbage)
    assert results[0][0] == 2
    assert all(isinstance(r, Rejected) or isinstance(r[1], FeedRow) for r in results)


# --------------------------------------------------------------------------- what people really write
#
# Real-looking rows, mutated the way exports and hands mutate them: spaces around values, the case of
# booleans and codes, a BOM, quoting, line ends, header case, phone and date notations. Every good value
# is read right; every malformed optional field is ignored the safe way and listed; no row is ever lost.

_MOBILE_NOTATIONS = [
    lambda n: f"0{n[:2]} {n[2:5]} {n[5:7]} {n[7:]}",
    lambda n: f"+41 {n[:2]} {n[2:5]} {n[5:7]} {n[7:]}",
    lambda n: f"0041{n}",
    lambda n: f"0{n[:2]}/{n[2:5]} {n[5:7]} {n[7:]}",
    lambda n: f"+41{n}",
    lambda n: f"0{n[:2]}.{n[2:5]}.{n[5:7]}.{n[7:]}",
    lambda n: f"0{n[:2]}-{n[2:5]}-{n[5:7]}-{n[7:]}",
    lambda n: f"+41 (0){n[:2]} {n[2:5]} {n[5:7]} {n[7:]}",
]
_BAD_VALUES = {
    "email": ["anna muster@bluewin.ch", "anna@@bluewin.ch", "anna", "@bluewin.ch", "anna@"],
    "mobile": ["12345", "079 12", "mobile", "+41 79 123 45 6", "079 123 45 67 ext 1"],
    "flag": ["ja", "yes", "1", "0", "wahr", "t", "nein"],
}
_SAFE = {"email_consent": False, "sms_consent": False, "call_consent": False, "do_not_call": True, "do_not_mail": True}
_FLAGS = ["has_internet", "has_mobile", *_SAFE]


def _spelled_bool(draw: st.DrawFn, value: bool) -> str:
    word = "true" if value else "false"
    return "".join(c.upper() if draw(st.booleans()) else c for c in word)


def _padded(draw: st.DrawFn, value: str) -> str:
    return " " * draw(st.integers(0, 2)) + value + " " * draw(st.integers(0, 2))


@st.composite
def _customer(draw: st.DrawFn, n: int) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    """(the row as written, the values the reader must give, the fields written malformed)."""
    local = draw(st.sampled_from(["anna", "Anna.Mueller", "hans_2", "m.rossi", "zoe+news"]))
    domain = draw(st.sampled_from(["bluewin.ch", "Example.CH", "gmx.net", "sunrise.CH"]))
    national = draw(st.sampled_from(["76", "77", "78", "79"])) + draw(st.text("0123456789", min_size=7, max_size=7))
    flags = {name: draw(st.booleans()) for name in _FLAGS}
    expected: dict[str, Any] = {
        "customer_id": f"C-{n}", "household_id": f"HH-{n % 3}", "email": f"{local}@{domain.lower()}",
        "mobile": f"+41{national}", "language": draw(st.sampled_from(["de", "fr", "it", "en"])),
        **flags, "internet_down_mbps": 100 if flags["has_internet"] else None,
    }
    row = {"customer_id": expected["customer_id"], "household_id": expected["household_id"], "first_name": "Anna",
           "last_name": draw(st.sampled_from(["Müller", "D'Agostino", "Rossi-Bianchi"])),
           "language": draw(st.sampled_from([expected["language"], expected["language"].upper()])),
           "email": f"{local}@{domain}", "mobile": draw(st.sampled_from(_MOBILE_NOTATIONS))(national),
           "phone_listing": draw(st.sampled_from(["listed", "Starred", "UNLISTED"])),
           "internet_down_mbps": "100" if flags["has_internet"] else "",
           **{name: _spelled_bool(draw, value) for name, value in flags.items()}}
    expected["phone_listing"] = row["phone_listing"].lower()
    broken = draw(st.lists(st.sampled_from(["email", "mobile", *_SAFE]), unique=True, max_size=3))
    for name in broken:
        row[name] = draw(st.sampled_from(_BAD_VALUES.get(name, _BAD_VALUES["flag"])))
        expected[name] = _SAFE.get(name)  # None for email and mobile: left empty
    return {k: _padded(draw, v) for k, v in row.items()}, expected, broken


@st.composite
def _customer_file(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]], list[list[str]]]:
    rows = [draw(_customer(n)) for n in range(draw(st.integers(1, 6)))]
    header = [_padded(draw, name.upper() if draw(st.booleans()) else name) for name in columns(CustomerRow)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
                        lineterminator=draw(st.sampled_from(["\r\n", "\n"])))
    writer.writerow(header)
    for row, _, _ in rows:
        writer.writerow([row[name] for name in columns(CustomerRow)])
    bom = "\ufeff" if draw(st.booleans()) else ""
    return bom + buffer.getvalue(), [e for _, e, _ in rows], [b for _, _, b in rows]


@given(_customer_file())
def test_customers_as_people_write_them_are_never_lost(case: tuple[str, list[dict[str, Any]], list[list[str]]]) -> None:
    text, expected, broken = case
    results = read(text, CustomerRow, "customers")
    rows = [r for r in results if not isinstance(r, Rejected)]
    notes = [r for r in results if isinstance(r, Rejected)]
    # never a lost row ...
    assert [line for line, _ in rows] == list(range(2, 2 + len(expected)))
    # ... every value read right, every malformed field read the safe way ...
    for (_, row), want in zip(rows, expected, strict=True):
        assert {k: getattr(row, k) for k in want} == want
    # ... and each malformed field listed once, at its line, as ignored
    assert all(n.action == FIELD_IGNORED for n in notes)
    assert sorted((n.line, n.reason.split(":")[0]) for n in notes) == sorted(
        (2 + i, name) for i, names in enumerate(broken) for name in names)


_MARKETABLE_NOTATIONS = [
    (lambda d: d.isoformat(), lambda d: d),
    (lambda d: f"{d}T00:00:00+01:00", lambda d: datetime.combine(d, datetime.min.time(), timezone(timedelta(hours=1)))),
    (lambda d: f"{d}T05:30:00Z", lambda d: datetime.combine(d, datetime.min.time(), UTC) + timedelta(hours=5.5)),
    (lambda d: f"{d} 08:00+02:00", lambda d: datetime.combine(d, datetime.min.time(), timezone(timedelta(hours=2)))
     + timedelta(hours=8)),
    (lambda d: f"{d}T00:00:00.000+01:00", lambda d: datetime.combine(d, datetime.min.time(),
                                                                      timezone(timedelta(hours=1)))),
]


@given(day=st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)),
       notation=st.sampled_from(_MARKETABLE_NOTATIONS), sticker=st.sampled_from(["TRUE", "False", "true", "ja", ""]),
       canton=st.sampled_from(["ZH", "zh", "Vd"]), pad=st.integers(0, 2), bom=st.booleans())
def test_feed_rows_as_people_write_them(day: date, notation: Any, sticker: str, canton: str, pad: int,
                                        bom: bool) -> None:
    written, value = notation
    spaces = " " * pad
    row = {**FEED, "marketable_from": spaces + written(day) + spaces, "no_ads_sticker": spaces + sticker,
           "canton": canton + spaces}
    *notes, (line, got) = read(("\ufeff" if bom else "") + csv_text([row]))
    assert line == 2
    assert got.marketable_from == value(day) and type(got.marketable_from) is type(value(day))
    assert got.canton == canton.upper()
    good = sticker.lower() in ("true", "false")
    assert got.no_ads_sticker is (sticker.lower() == "true" if good else True)
    assert [(n.action, n.reason.split(":")[0]) for n in notes] == ([] if good else [(FIELD_IGNORED, "no_ads_sticker")])
