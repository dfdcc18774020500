"""SMS encoding (GSM-7 or UCS-2) and the number of segments a text is billed as."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# GSM 03.38 basic character set (3GPP TS 23.038 §6.2.1), minus 0x1B, the escape to the
# extension table. Position 0x09 is the capital Ç only: a lowercase ç forces UCS-2.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each is sent as escape + code, so it costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153  # septets; a part loses 7 to the concatenation header
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units


@dataclass(frozen=True)
class SmsEncoding:
    """How a text goes out: its encoding, its length in septets or UTF-16 units, its segments."""

    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    segments: int


def _gsm7_units(char: str) -> int:
    return 2 if char in GSM7_EXTENSION else 1


def _ucs2_units(char: str) -> int:
    # Characters outside the Basic Multilingual Plane (most emoji) take a surrogate pair.
    return 2 if ord(char) > 0xFFFF else 1


def _parts(char_units: list[int], per_part: int) -> int:
    # Packed greedily like an SMSC does: an escape pair or surrogate pair is never split
    # across two parts, so a part may carry one unit less than per_part.
    parts, used = 1, 0
    for units in char_units:
        if used + units > per_part:
            parts, used = parts + 1, 0
        used += units
    return parts


def measure(text: str) -> SmsEncoding:
    """Encoding, units and segments of text; an empty text is 0 units but still 1 segment."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        encoding: Literal["GSM-7", "UCS-2"] = "GSM-7"
        char_units = [_gsm7_units(char) for char in text]
        single, per_part = GSM7_SINGLE, GSM7_PART
    else:
        encoding = "UCS-2"
        char_units = [_ucs2_units(char) for char in text]
        single, per_part = UCS2_SINGLE, UCS2_PART
    units = sum(char_units)
    segments = 1 if units <= single else _parts(char_units, per_part)
    return SmsEncoding(encoding=encoding, units=units, segments=segments)


def fit_segments(text: str, max_segments: int) -> bool:
    """Whether text goes out in at most max_segments segments."""
    return measure(text).segments <= max_segments
