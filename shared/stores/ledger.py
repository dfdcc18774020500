"""The contacts table: contact claims (the contact history), contact pressure, decisions, responses.

Everything about one household sits in one partition, so the claim of a step, the cap check on
the household's pressure item and the journey's move are one atomic TransactWriteItems request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.aws import client
from shared.stores.dynamo import to_item, to_value
from shared.stores.records import PRESSURE_SK, parse_time

Entry = tuple[str, datetime]


@dataclass(frozen=True)
class Pressure:
    """The household's recent and reserved contacts, with the version that guards its update."""

    household_id: str
    history: tuple[Entry, ...]
    version: int

    @classmethod
    def from_item(cls, household_id: str, item: dict[str, Any] | None) -> Pressure:
        if not item:
            return cls(household_id, (), 0)
        history = tuple(
            (str(e).split("|", 1)[0], parse_time(str(e).split("|", 1)[1])) for e in item.get("history", [])
        )
        return cls(household_id, history, int(item.get("version", 0)))


def pressure_update(table: str, pressure: Pressure, history: Sequence[Entry]) -> dict[str, Any]:
    """Replace the pressure history if nobody else changed it since it was read."""
    encoded = [f"{channel}|{at.isoformat()}" for channel, at in history]
    update: dict[str, Any] = {
        "TableName": table,
        "Key": to_item({"household_id": pressure.household_id, "sk": PRESSURE_SK}),
        "UpdateExpression": "SET history = :h, version = :next",
        "ExpressionAttributeValues": {":h": to_value(encoded), ":next": to_value(pressure.version + 1)},
    }
    if pressure.version == 0:
        update["ConditionExpression"] = "attribute_not_exists(version)"
    else:
        update["ConditionExpression"] = "version = :seen"
        update["ExpressionAttributeValues"][":seen"] = to_value(pressure.version)
    return update


def claim_put(table: str, claim: dict[str, Any]) -> dict[str, Any]:
    """Claim a contact: the Put fails when the step was claimed before (redelivery, a parallel run)."""
    return {"TableName": table, "Item": to_item(claim), "ConditionExpression": "attribute_not_exists(sk)"}


def plain_put(table: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"TableName": table, "Item": to_item(item)}


class TransactionCancelled(Exception):
    """A transaction's condition failed; `reasons` holds one code per part ('None' where it passed)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


def transact(parts: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """TransactWriteItems with parts given as (operation, body): Put, Update, ConditionCheck, Delete."""
    from botocore.exceptions import ClientError

    try:
        client("dynamodb").transact_write_items(TransactItems=[{op: body} for op, body in parts])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
        if not reasons:
            reasons = _reasons_from_message(str(exc.response["Error"].get("Message", "")), len(parts))
        raise TransactionCancelled(reasons) from exc


def _reasons_from_message(message: str, count: int) -> list[str]:
    # Some emulators put the reasons only in the message: "... reasons [None, ConditionalCheckFailed]".
    if "[" in message and "]" in message:
        inner = message[message.rindex("[") + 1 : message.rindex("]")]
        found = [part.strip() for part in inner.split(",")]
        if len(found) == count:
            return found
    return ["Unknown"] * count


def claim_update(table: str, household_id: str, sk: str, **attributes: Any) -> dict[str, Any]:
    """The Update that sets these attributes of a claim (for a transaction, or on its own)."""
    return {
        "TableName": table,
        "Key": to_item({"household_id": household_id, "sk": sk}),
        "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in attributes),
        "ExpressionAttributeNames": {f"#{k}": k for k in attributes},
        "ExpressionAttributeValues": {f":{k}": to_value(v) for k, v in attributes.items()},
    }


def update_claim(table: str, household_id: str, sk: str, **attributes: Any) -> None:
    client("dynamodb").update_item(**claim_update(table, household_id, sk, **attributes))


def put_item(table: str, item: dict[str, Any]) -> None:
    client("dynamodb").put_item(TableName=table, Item=to_item(item))
