"""Unit tests of shared.domain.phone: normalisation, mobile detection, display notation."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.phone import is_mobile, national_notation, normalise_phone, why_not_mobile


@pytest.mark.parametrize(
    "raw",
    [
        "079 123 45 67",
        "0791234567",
        "079/123.45.67",
        "079-123-45-67",
        "+41 79 123 45 67",
        "+41791234567",
        "+41 (0)79 123 45 67",
        "0041 79 123 45 67",
        "0041791234567",
        "41791234567",
        "  079 123 45 67  ",
    ],
)
def test_swiss_notations_normalise_to_e164(raw: str) -> None:
    assert normalise_phone(raw) == "+41791234567"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+49 151 23456789", "+4915123456789"),
        ("0049 151 23456789", "+4915123456789"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("044 123 45 67", "+41441234567"),
    ],
)
def test_foreign_and_fixed_numbers(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "12", "079 12", "+41 79 123 45 6", "079 123 45 67 89 0", "079 123 45 67 ext 2", "+4179123456a7",
     "hello", "++41791234567", "079\n1234567"],
)  # fmt: skip
def test_invalid_numbers_are_none(raw: str) -> None:
    assert normalise_phone(raw) is None


def test_default_region_applies_to_national_notation() -> None:
    assert normalise_phone("0151 23456789", default_region="DE") == "+4915123456789"


def test_is_mobile() -> None:
    assert is_mobile("+41791234567")
    assert is_mobile("+4915123456789")
    assert not is_mobile("+41441234567")  # Winterthur landline
    assert not is_mobile("+41800123456")  # toll free
    assert not is_mobile("not a number")


@pytest.mark.parametrize(("mobile_column", "reason"), [
    ("044 123 45 67", "the number in the mobile column is a fixed line, not a mobile: no SMS"),
    ("0800 123 456", "the number in the mobile column is a toll-free number, not a mobile: no SMS"),
    ("0900 123 456", "the number in the mobile column is a premium-rate number, not a mobile: no SMS"),
    ("+49 30 123456", "the number in the mobile column is a fixed line, not a mobile: no SMS"),
    ("079 123 45 67", None),
    ("+49 151 23456789", None),
    ("+1 202 555 0123", None),  # the USA's plan cannot tell a mobile from a landline: not a refusal
])
def test_why_not_mobile_names_what_the_number_in_the_mobile_column_is(mobile_column: str, reason: str | None) -> None:
    e164 = normalise_phone(mobile_column)
    assert e164 is not None
    assert why_not_mobile(e164) == reason


def test_national_notation() -> None:
    assert national_notation("+41791234567") == "079 123 45 67"
    assert national_notation("+41441234567") == "044 123 45 67"
    assert national_notation("+4915123456789") == "+49 1512 3456789"
    with pytest.raises(ValueError, match="not a valid phone number") as info:
        national_notation("+4179")
    assert "4179" not in str(info.value)


@given(
    prefix=st.sampled_from(["75", "76", "77", "78", "79"]),
    digits=st.integers(0, 9_999_999),
)
def test_every_swiss_mobile_round_trips(prefix: str, digits: int) -> None:
    number = f"{digits:07d}"
    national = f"0{prefix} {number[:3]} {number[3:5]} {number[5:]}"
    e164 = normalise_phone(national)
    assert e164 == f"+41{prefix}{number}"
    assert is_mobile(e164)
    assert national_notation(e164) == national
    assert normalise_phone(national_notation(e164)) == e164


@given(st.text(max_size=30))
def test_never_raises(raw: str) -> None:
    result = normalise_phone(raw)
    assert result is None or (result.startswith("+") and result[1:].isdigit())


@given(nsn=st.integers(100_000_000, 999_999_999), notation=st.sampled_from(["0{}", "+41 {}", "0041{}", "+41{}"]))
def test_swiss_fast_path_agrees_with_phonenumbers(nsn: int, notation: str) -> None:
    raw = notation.format(nsn)
    number = phonenumbers.parse(raw, "CH")
    expected = (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(number)
        else None
    )
    assert normalise_phone(raw) == expected


def test_the_product_uses_only_what_phonenumberslite_ships() -> None:
    # phonenumberslite (5 MB, not 48 MB in every function's package) has no geocoder, carrier or time-zone data
    import ast
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    missing_from_lite = {"geocoder", "carrier", "timezone"}
    for path in [path for folder in ("shared", "functions", "infra") for path in (repo / folder).rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else [])
            used = {n.split(".")[1] for n in names if n.startswith("phonenumbers.")}
            assert not used & missing_from_lite, path
