"""Phone numbers: normalisation to E.164, mobile detection and display notation."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneNumber,
    PhoneNumberFormat,
    PhoneNumberType,
)

__all__ = ["is_mobile", "national_notation", "normalise_phone", "why_not_mobile"]

# Digits and the separators people write: spaces, dots, slashes, dashes, brackets.
# One optional leading "+". Letters (vanity numbers, "ext. 12") are refused on purpose.
_ALLOWED = re.compile(r"\+?[0-9 ()./\-]{2,30}")
# FIXED_LINE_OR_MOBILE: where a country's numbering plan cannot tell (the USA, Canada), not a refusal.
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "a fixed line",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.VOIP: "an internet telephony (VoIP) number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal (forwarding) number",
    PhoneNumberType.PAGER: "a pager number",
    PhoneNumberType.UAN: "a company's universal access number",
    PhoneNumberType.VOICEMAIL: "a voicemail number",
}


# Fast path for the common Swiss notations (phonenumbers.parse costs ~3x its validity check):
# separators removed, then +41 / 0041 / 0 and a 9-digit national significant number.
_SEPARATORS = re.compile(r"[ ./\-]")
_SWISS = re.compile(r"(?:\+41|0041|0)([1-9][0-9]{8})")


def _parse(raw: str, region: str) -> PhoneNumber | None:
    """Parse and validate a number, or None."""
    text = raw.strip()
    if not _ALLOWED.fullmatch(text):
        return None
    swiss = _SWISS.fullmatch(_SEPARATORS.sub("", text)) if region == "CH" else None
    if swiss is not None:
        number = PhoneNumber(country_code=41, national_number=int(swiss.group(1)))
        return number if phonenumbers.is_valid_number(number) else None
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return number


def normalise_phone(raw: str, default_region: str = "CH") -> str | None:
    """Return the number in E.164 ("+41791234567"), or None when it is not a valid number.

    Accepted notations (Swiss default region): "079 123 45 67", "079/123.45.67",
    "+41 79 123 45 67", "+41 (0)79 123 45 67", "0041 79 123 45 67" and also the country
    code without "+" or "00" ("41791234567"): a Swiss national number always starts with 0,
    so digits starting with the country code cannot be mistaken for one; phonenumbers
    accepts it only when the result is a valid number. Foreign numbers need "+" or "00"
    ("+49 151 23456789", "0049 151 23456789"). Letters and extensions are refused.
    """
    number = _parse(raw, default_region)
    if number is None:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    """Tell whether a number is a mobile number (MOBILE or FIXED_LINE_OR_MOBILE)."""
    return why_not_mobile(e164) is None


@lru_cache(maxsize=4096)  # the gate asks again for every SMS step of the same customer
def why_not_mobile(e164: str) -> str | None:
    """Why no SMS may go to the number in a mobile column ("… is a fixed line, not a mobile: no SMS"), or None.

    The CRM's mobile column may hold a landline or a service number; such a number stays usable
    for calls, only SMS needs a mobile."""
    number = _parse(e164, "CH")
    if number is None:
        return "the number in the mobile column is not a valid phone number: no SMS"
    kind = phonenumbers.number_type(number)
    if kind in _MOBILE_TYPES:
        return None
    what = _TYPE_NAMES.get(kind, "not known to be a mobile")
    return f"the number in the mobile column is {what}, not a mobile: no SMS"


def national_notation(e164: str) -> str:
    """Display notation: Swiss numbers as "079 123 45 67", foreign ones as "+49 1512 3456789".

    Raises ValueError when the input is not a valid phone number (the message carries no digits).
    """
    number = _parse(e164, "CH")
    if number is None:
        raise ValueError("not a valid phone number")
    if phonenumbers.region_code_for_number(number) == "CH":
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
