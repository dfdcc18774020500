"""DynamoDB plumbing shared by the stores: item (de)serialisation and batched writes and reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from shared.aws import client

_BATCH_WRITE_MAX = 25
_BATCH_GET_MAX = 100
_MAX_ROUNDS = 8


def _serializer() -> Any:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


def _deserializer() -> Any:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_item(data: Mapping[str, Any], table: str | None = None) -> dict[str, Any]:
    """A plain dict as a DynamoDB item; None values are left out (absent, not NULL).

    An item over DynamoDB's 400 KB is refused here (ItemTooLarge), before any request is made."""
    from shared.limits import check_item

    serializer = _serializer()
    item = {k: serializer.serialize(_plain(v)) for k, v in data.items() if v is not None}
    check_item(item, table)
    return item


def to_value(value: Any) -> dict[str, Any]:
    return dict(_serializer().serialize(_plain(value)))


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    deserializer = _deserializer()
    out: dict[str, Any] = {}
    for key, raw in item.items():
        value = deserializer.deserialize(raw)
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        elif isinstance(value, set):
            value = sorted(value)
        out[key] = value
    return out


def batch_put(table: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """BatchWriteItem by 25, re-sending unprocessed items; returns how many were written."""
    ddb = client("dynamodb")
    chunk: list[dict[str, Any]] = []
    written = 0
    for row in rows:
        chunk.append({"PutRequest": {"Item": to_item(row, table)}})
        if len(chunk) == _BATCH_WRITE_MAX:
            written += _write_chunk(ddb, table, chunk)
            chunk = []
    if chunk:
        written += _write_chunk(ddb, table, chunk)
    return written


def _write_chunk(ddb: Any, table: str, chunk: list[dict[str, Any]]) -> int:
    pending: dict[str, Any] = {table: chunk}
    for _ in range(_MAX_ROUNDS):
        response = ddb.batch_write_item(RequestItems=pending)
        pending = response.get("UnprocessedItems") or {}
        if not pending:
            return len(chunk)
    raise RuntimeError(f"{table}: {len(pending[table])} items still unprocessed after {_MAX_ROUNDS} rounds")


def batch_get(keys_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """BatchGetItem across tables (100 keys a request), re-asking for unprocessed keys."""
    ddb = client("dynamodb")
    found: dict[str, list[dict[str, Any]]] = {t: [] for t in keys_by_table}
    flat = [(t, k) for t, keys in keys_by_table.items() for k in _unique(keys)]
    for start in range(0, len(flat), _BATCH_GET_MAX):
        request: dict[str, Any] = {}
        for table, key in flat[start : start + _BATCH_GET_MAX]:
            request.setdefault(table, {"Keys": []})["Keys"].append(to_item(key))
        for _ in range(_MAX_ROUNDS):
            response = ddb.batch_get_item(RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                found[table].extend(from_item(i) for i in items)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
    return found


def _unique(keys: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    seen: set[tuple[tuple[str, Any], ...]] = set()
    out = []
    for key in keys:
        marker = tuple(sorted(key.items()))
        if marker not in seen:
            seen.add(marker)
            out.append(key)
    return out


def query_all(**kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a Query, as plain dicts."""
    ddb = client("dynamodb")
    items: list[dict[str, Any]] = []
    while True:
        response = ddb.query(**kwargs)
        items.extend(from_item(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def scan_all(table: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a Scan (operations tooling only: exports and erasure, never a hot path)."""
    ddb = client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs["TableName"] = table
    while True:
        response = ddb.scan(**kwargs)
        items.extend(from_item(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
