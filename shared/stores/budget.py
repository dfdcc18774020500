"""The budget table: per calendar month, N shard items (month, shard), each with what it may still spend.

No item is written by every contact: a contact takes its cost from its household's home shard (or a
neighbour's) as one more part of the transaction that claims it, conditioned on the shard having it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.aws import client
from shared.domain.budget import Share, shard_limits
from shared.stores.dynamo import query_all, to_item

DEFAULT_BUDGET_SHARDS = 16
# A reservation may span every shard; with the claim's own parts it stays under the 100 of a transaction.
MAX_BUDGET_SHARDS = 64


def budget_shards() -> int:
    """Shards per month (template parameter BudgetShards): more spread the writes of a busy month."""
    return max(1, min(MAX_BUDGET_SHARDS, int(os.environ.get("BUDGET_SHARDS", DEFAULT_BUDGET_SHARDS))))


def shard_key(shard: int) -> str:
    return f"{shard:02d}"


@dataclass(frozen=True)
class Reservation:
    """What one contact takes from the month's budget, shard by shard."""

    month: str
    shares: tuple[Share, ...]

    def parts(self, table: str) -> list[tuple[str, dict[str, Any]]]:
        """Transaction parts: each share leaves its shard only if the shard still holds it."""
        return [("Update", {
            "TableName": table, "Key": to_item({"month": self.month, "shard": shard_key(shard)}),
            "UpdateExpression": "SET remaining_micro_chf = remaining_micro_chf - :c ADD spent_micro_chf :c",
            "ConditionExpression": "remaining_micro_chf >= :c",
            "ExpressionAttributeValues": {":c": {"N": str(amount)}},
        }) for shard, amount in self.shares]

    def claim_fields(self) -> dict[str, Any]:
        return {"budget_month": self.month, "budget_shares": {shard_key(s): a for s, a in self.shares}}


# What the shards of a month held when last read here, less what this process took since. Only a guide
# for choosing shards: each share is still conditioned on its shard holding it, a lost race drops the
# month from here (`forget`), and a month that looks short is read again before anyone is deferred.
_known: dict[tuple[str, str], dict[int, int]] = {}
_known_lock = threading.Lock()


def month_remaining(table: str, month: str, monthly_micro: int, *, fresh: bool = True) -> dict[int, int]:
    """What each shard of the month may still spend; a month's shards are created on its first contact.
    With `fresh=False`, what this process last knew, if it knows the month."""
    if not fresh:
        with _known_lock:
            known = _known.get((table, month))
        if known is not None:
            return dict(known)
    remaining = _read_month(table, month, monthly_micro)
    with _known_lock:
        _known[(table, month)] = dict(remaining)
    return remaining


def taken(table: str, reservation: Reservation) -> None:
    """A committed reservation: what this process knows of the month is lower by it."""
    with _known_lock:
        known = _known.get((table, reservation.month))
        if known is not None:
            for shard, amount in reservation.shares:
                known[shard] = known.get(shard, 0) - amount


def forget(table: str, month: str) -> None:
    """Another contact drew on the month since it was read: read it again next time."""
    with _known_lock:
        _known.pop((table, month), None)


def _read_month(table: str, month: str, monthly_micro: int) -> dict[int, int]:
    items = _month_items(table, month)
    count = int(items[0]["shards"]) if items else budget_shards()  # a month keeps the split it started with
    missing = set(range(count)) - {int(i["shard"]) for i in items}
    if missing:
        limits = shard_limits(monthly_micro, count)
        for shard in sorted(missing):
            _allocate(table, month, shard, limits[shard], count)
        items = _month_items(table, month)
    return {int(i["shard"]): int(i["remaining_micro_chf"]) for i in items}


def _month_items(table: str, month: str) -> list[dict[str, Any]]:
    return query_all(TableName=table, KeyConditionExpression="#month = :m", ConsistentRead=True,
                     ExpressionAttributeNames={"#month": "month"}, ExpressionAttributeValues={":m": {"S": month}})


def _allocate(table: str, month: str, shard: int, limit: int, count: int) -> None:
    """Create a shard with its part of the budget, unless a parallel invocation just did."""
    from botocore.exceptions import ClientError

    item = {"month": month, "shard": shard_key(shard), "limit_micro_chf": limit, "remaining_micro_chf": limit,
            "spent_micro_chf": 0, "shards": count}
    try:
        client("dynamodb").put_item(TableName=table, Item=to_item(item),
                                    ConditionExpression="attribute_not_exists(#shard)",
                                    ExpressionAttributeNames={"#shard": "shard"})
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def release(table: str, claim: Mapping[str, Any]) -> None:
    """Give a contact's reservation back (it never left): the shards may spend it again."""
    from shared.domain.budget import MICRO
    from shared.metrics import BUDGET_RESERVED, emit

    shares = claim.get("budget_shares") or {}
    if shares:
        emit(BUDGET_RESERVED, -sum(int(a) for a in shares.values()) / MICRO)
    for shard, amount in shares.items():
        client("dynamodb").update_item(
            TableName=table, Key=to_item({"month": claim["budget_month"], "shard": shard}),
            UpdateExpression="SET remaining_micro_chf = remaining_micro_chf + :c ADD spent_micro_chf :minus",
            ExpressionAttributeValues={":c": {"N": str(amount)}, ":minus": {"N": str(-int(amount))}})
