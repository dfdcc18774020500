"""Unit tests for SMS encoding and segment counting."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.sms_text import SmsEncoding, fit_segments, measure

# GSM 03.38 default alphabet written out row by row as in the standard, independently of the
# module's table; "\x1b" (escape) is not a character of its own.
BASIC_ROWS = (
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
)
REFERENCE_BASIC = set("".join(BASIC_ROWS)) - {"\x1b"}
REFERENCE_EXTENSION = set("\f^{}\\[~]|€")
REFERENCE_GSM7 = REFERENCE_BASIC | REFERENCE_EXTENSION

# Text drawn from GSM characters, French accents outside GSM, other BMP text and emoji.
SMS_ALPHABET = st.one_of(
    st.sampled_from(sorted(REFERENCE_GSM7)),
    st.sampled_from(list("çâêôûÀÈœ«»’")),
    st.characters(min_codepoint=0x20, max_codepoint=0x2FFF),
    st.sampled_from(["😀", "📶", "🇨"]),
)
SMS_TEXT = st.text(alphabet=SMS_ALPHABET, max_size=400)


def test_reference_table_has_the_127_basic_and_10_extension_characters() -> None:
    assert len(REFERENCE_BASIC) == 127
    assert len(REFERENCE_EXTENSION) == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsEncoding("GSM-7", 0, 1)),
        ("a" * 160, SmsEncoding("GSM-7", 160, 1)),
        ("a" * 161, SmsEncoding("GSM-7", 161, 2)),
        ("a" * 306, SmsEncoding("GSM-7", 306, 2)),
        ("a" * 307, SmsEncoding("GSM-7", 307, 3)),
        ("ç" * 70, SmsEncoding("UCS-2", 70, 1)),
        ("ç" * 71, SmsEncoding("UCS-2", 71, 2)),
        ("ç" * 134, SmsEncoding("UCS-2", 134, 2)),
        ("ç" * 135, SmsEncoding("UCS-2", 135, 3)),
    ],
)
def test_given_text_at_a_segment_limit_when_measured_then_segments_step_at_the_limit(
    text: str, expected: SmsEncoding
) -> None:
    assert measure(text) == expected


def test_given_empty_text_when_measured_then_it_still_costs_one_segment() -> None:
    assert measure("") == SmsEncoding(encoding="GSM-7", units=0, segments=1)


def test_given_extension_characters_when_measured_then_each_counts_two_septets() -> (
    None
):
    # Given 80 euro signs: 160 septets, the most one segment holds
    assert measure("€" * 80) == SmsEncoding("GSM-7", 160, 1)
    # When one more is added, Then it no longer fits in one segment
    assert measure("€" * 81) == SmsEncoding("GSM-7", 162, 2)
    assert measure("[]{}~^|\\\f").units == 18


def test_given_emoji_when_measured_then_each_counts_two_utf16_units() -> None:
    assert measure("😀" * 35) == SmsEncoding("UCS-2", 70, 1)
    assert measure("😀" * 36) == SmsEncoding("UCS-2", 72, 2)


def test_given_an_escape_pair_at_a_part_boundary_when_measured_then_it_moves_whole() -> (
    None
):
    # 306 septets would fill two parts of 153 exactly, but the euro sign cannot be split
    text = "a" * 152 + "€" + "a" * 152
    assert measure(text) == SmsEncoding("GSM-7", 306, 3)


def test_given_a_surrogate_pair_at_a_part_boundary_when_measured_then_it_moves_whole() -> (
    None
):
    text = "ç" * 66 + "😀" + "ç" * 66
    assert measure(text) == SmsEncoding("UCS-2", 134, 3)


@pytest.mark.parametrize(
    "text",
    [
        "Déjà vu à Zürich: Glasfaser für Ihr Zuhause!",
        "Señor Ñ, Straße, ÉLAN, Öl, Äpfel, Übung, ì ò ù è",
        "Ça marche",  # capital Ç is in the basic table
    ],
)
def test_given_german_or_french_text_in_gsm7_when_measured_then_gsm7(text: str) -> None:
    assert measure(text).encoding == "GSM-7"
    assert measure(text).units == len(text)


@pytest.mark.parametrize(
    "text",
    ["Le garçon", "Ça coûte peu", "Fenêtre", "Côte", "Château"],
)
def test_given_french_accents_outside_gsm7_when_measured_then_ucs2(text: str) -> None:
    assert measure(text).encoding == "UCS-2"


def test_given_a_segment_budget_when_fit_segments_then_compares_with_the_count() -> (
    None
):
    assert fit_segments("a" * 160, 1)
    assert not fit_segments("a" * 161, 1)
    assert fit_segments("a" * 161, 2)
    assert not fit_segments("ç" * 71, 1)
    assert fit_segments("", 1)


@settings(max_examples=200, deadline=None)
@given(text=SMS_TEXT)
def test_property_gsm7_if_and_only_if_every_character_is_in_the_charset(
    text: str,
) -> None:
    result = measure(text)
    assert (result.encoding == "GSM-7") == all(char in REFERENCE_GSM7 for char in text)


@settings(max_examples=200, deadline=None)
@given(text=SMS_TEXT)
def test_property_units_and_segments_match_the_encoding(text: str) -> None:
    result = measure(text)
    if result.encoding == "GSM-7":
        units = sum(2 if char in REFERENCE_EXTENSION else 1 for char in text)
        single, per_part = 160, 153
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, per_part = 70, 67
    assert result.units == units
    if units <= single:
        assert result.segments == 1
    else:
        # a pair pushed to the next part wastes at most one unit per part
        assert (
            math.ceil(units / per_part)
            <= result.segments
            <= math.ceil(units / (per_part - 1))
        )


@settings(max_examples=200, deadline=None)
@given(text=SMS_TEXT, more=SMS_TEXT.filter(bool))
def test_property_segments_never_decrease_as_text_grows(text: str, more: str) -> None:
    assert measure(text + more).segments >= measure(text).segments
    # whatever fits when longer also fits when shorter
    assert not fit_segments(text + more, 3) or fit_segments(text, 3)
