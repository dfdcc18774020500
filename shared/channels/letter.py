"""The fields of a letter and of a call-list row, as the print vendor and the call centre receive them: the
print batcher and the call-list exporter write them, `dispatch preview` shows them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.channels.copy import partially_addressed_addressee, salutation
from shared.domain.phone import national_notation, normalise_phone

CALL_LIST_COLUMNS = ["call_date", "priority", "customer_id", "household_id", "first_name", "last_name", "language",
                     "phone", "offer_id", "attempt"]


def letter_fields(kind: str, language: str, address: Mapping[str, Any], offer_id: str,
                  customer: Mapping[str, Any] | None) -> dict[str, Any]:
    """A piece's printed fields: partially addressed mail carries the address and the offer only (no personal
    data at all); a personalised letter adds the person's name and salutation."""
    fields: dict[str, Any] = {
        "kind": kind, "addressee": partially_addressed_addressee(language),
        "street": address["street"], "house_number": address["house_number"], "postcode": address["postcode"],
        "locality": address["locality"], "language": language, "offer_id": offer_id,
    }
    if kind == "personalised" and customer is not None:
        fields |= {"customer_id": customer["customer_id"], "salutation": salutation(language),
                   "first_name": customer.get("first_name", ""), "last_name": customer.get("last_name", ""),
                   "addressee": f"{customer.get('first_name', '')} {customer.get('last_name', '')}".strip()}
    return fields


def call_list_row(call_date: str, customer: Mapping[str, Any], household: Mapping[str, Any], customer_id: str | None,
                  household_id: str, offer_id: str, attempt: int) -> dict[str, Any]:
    """One call on a day's list (its priority is its place on the list); Swiss numbers in national notation."""
    phone = normalise_phone(customer.get("mobile") or "")
    return {"call_date": call_date, "customer_id": customer_id, "household_id": household_id,
            "first_name": customer.get("first_name", ""), "last_name": customer.get("last_name", ""),
            "language": household.get("language") or customer.get("language", ""),
            "phone": national_notation(phone) if phone else "", "offer_id": offer_id, "attempt": attempt}
