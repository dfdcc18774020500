"""The suppression table: who may no longer be contacted, on which channel, and households that ordered.

One item per subject (`customer#<id>`, `household#<id>`, or an erasure's hashed address or number).
`channels` is the set of channels the subject objected to (`all` for every channel; at household level
`partially_addressed` for a resident's objection to mail, which stops the letters "to the residents").
A household item also keeps `ordered_at` once anybody there ordered: no contact after an order, also
when the order came before the household's journey existed or after its last step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.aws import client
from shared.domain.gate import PARTIALLY_ADDRESSED
from shared.stores.dynamo import from_item, to_item, to_value

__all__ = ["PARTIALLY_ADDRESSED", "household_blocker", "record_order", "suppress"]


def household_subject(household_id: str) -> str:
    return f"household#{household_id}"


def customer_subject(customer_id: str) -> str:
    return f"customer#{customer_id}"


def suppress(table: str, subject: str, channel: str, at: datetime, source: str = "response") -> None:
    """Add `channel` to what `subject` objected to (idempotent)."""
    client("dynamodb").update_item(
        TableName=table,
        Key=to_item({"subject": subject}),
        UpdateExpression="ADD channels :c SET updated_at = :at, #source = if_not_exists(#source, :src)",
        ExpressionAttributeNames={"#source": "source"},
        ExpressionAttributeValues={":c": {"SS": [channel]}, ":at": to_value(at.isoformat()),
                                   ":src": to_value(source)},
    )


def record_order(table: str, household_id: str, at: datetime) -> None:
    """The household ordered at `at` (the earliest order is kept)."""
    client("dynamodb").update_item(
        TableName=table,
        Key=to_item({"subject": household_subject(household_id)}),
        UpdateExpression="SET ordered_at = if_not_exists(ordered_at, :at), updated_at = :at",
        ExpressionAttributeValues={":at": to_value(at.isoformat())},
    )


def household_item(table: str, household_id: str) -> dict[str, Any] | None:
    item = client("dynamodb").get_item(TableName=table, Key=to_item({"subject": household_subject(household_id)}),
                                       ConsistentRead=True).get("Item")
    return from_item(item) if item else None


def journey_blocker(item: dict[str, Any] | None) -> str | None:
    """Why a household's suppression item forbids any journey (an order, an objection to every channel)."""
    if not item:
        return None
    if item.get("ordered_at"):
        return f"ordered ({item['ordered_at']}): no contact after an order"
    if "all" in set(item.get("channels", [])):
        return "objection to all channels"
    return None


def household_blocker(table: str, household_id: str) -> str | None:
    """Why this household may get no journey now (pre-order, objection to everything), or None."""
    return journey_blocker(household_item(table, household_id))
