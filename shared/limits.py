"""Service size limits, checked before a request leaves: an event or item too large is refused whole,
with a message naming what and how big, never quoting the content (it may hold personal data).

- EventBridge: one PutEvents entry, and the whole request, at most 256 KB, the entry's size counted
  as AWS documents it (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html):
  Time 14 bytes when given, plus the UTF-8 bytes of Source, DetailType, Detail and every Resources entry.
- DynamoDB: one item at most 400 KB, its size counted as AWS documents it
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
  per attribute the UTF-8 bytes of its name plus its value's size; strings their UTF-8 bytes, binary
  its raw bytes, numbers 1 byte per two significant digits plus 1, null and Boolean 1 byte, sets the
  sum of their members, lists and maps 3 bytes plus 1 byte and the size of each element (a map
  element counting its key too).

The project refuses rather than offloads: every event detail it publishes is made of ids (at most 64
characters), codes, numbers and times, so a detail near 256 KB can only be a bug; refused, the SQS
record that produced it fails and ends in its dead-letter queue instead of going on truncated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

EVENT_MAX_BYTES = 256 * 1024  # one PutEvents entry, and the sum of a request's entries
PUT_EVENTS_MAX_ENTRIES = 10
ITEM_MAX_BYTES = 400 * 1024  # one DynamoDB item, names and values
_TIME_BYTES = 14


class LimitExceeded(ValueError):
    """Something is larger than the service accepts: refused whole, never truncated."""

    def __init__(self, what: str, size: int, limit: int, service: str, hint: str = "") -> None:
        self.what, self.size, self.limit = what, size, limit
        super().__init__(f"{what}: {size:,} bytes, over {service}'s limit of {limit:,} bytes; "
                         f"refused, not truncated{hint}")


class EventTooLarge(LimitExceeded):
    def __init__(self, detail_type: str, size: int, limit: int = EVENT_MAX_BYTES) -> None:
        super().__init__(f"{detail_type} event", size, limit, "EventBridge PutEvents")


class ItemTooLarge(LimitExceeded):
    def __init__(self, table: str | None, size: int, largest: Sequence[tuple[str, int]],
                 limit: int = ITEM_MAX_BYTES) -> None:
        self.table = table
        names = ", ".join(f"{name} {bytes_:,} B" for name, bytes_ in largest)
        where = f"item for table {table}" if table else "DynamoDB item"
        super().__init__(where, size, limit, "DynamoDB", f" (largest attributes: {names})" if names else "")


# --------------------------------------------------------------------------- EventBridge


def event_entry_size(entry: Mapping[str, Any]) -> int:
    """The size of one PutEvents entry as EventBridge counts it."""
    size = _TIME_BYTES if entry.get("Time") is not None else 0
    size += _utf8(entry["Source"]) + _utf8(entry["DetailType"])
    if entry.get("Detail") is not None:
        size += _utf8(entry["Detail"])
    size += sum(_utf8(r) for r in entry.get("Resources") or () if r is not None)
    return size


def check_event_entry(entry: Mapping[str, Any], limit: int = EVENT_MAX_BYTES) -> int:
    size = event_entry_size(entry)
    if size > limit:
        raise EventTooLarge(str(entry.get("DetailType", "?")), size, limit)
    return size


def put_events_batches(entries: Sequence[Mapping[str, Any]], limit: int = EVENT_MAX_BYTES,
                       max_entries: int = PUT_EVENTS_MAX_ENTRIES) -> list[list[dict[str, Any]]]:
    """PutEvents requests of at most `max_entries` entries and `limit` bytes in all.

    Every entry is checked before any request is made: one oversize entry refuses the lot."""
    sizes = [check_event_entry(e, limit) for e in entries]
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    total = 0
    for entry, size in zip(entries, sizes, strict=True):
        if current and (len(current) == max_entries or total + size > limit):
            batches.append(current)
            current, total = [], 0
        current.append(dict(entry))
        total += size
    if current:
        batches.append(current)
    return batches


# --------------------------------------------------------------------------- DynamoDB


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """The size of an item in DynamoDB's wire form ({"name": {"S": "..."}, ...}) as DynamoDB counts it."""
    return sum(_utf8(name) + attribute_value_size(value) for name, value in item.items())


def attribute_value_size(value: Mapping[str, Any]) -> int:
    """The size of one AttributeValue (without its name)."""
    (kind, raw), = value.items()
    if kind == "S":
        return _utf8(raw)
    if kind == "N":
        return number_size(raw)
    if kind == "B":
        return _raw_len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(v) for v in raw)
    if kind == "NS":
        return sum(number_size(v) for v in raw)
    if kind == "BS":
        return sum(_raw_len(v) for v in raw)
    if kind == "L":
        return 3 + sum(1 + attribute_value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + _utf8(k) + attribute_value_size(v) for k, v in raw.items())
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeros trimmed, at most 38) plus 1."""
    mantissa = text.strip().lstrip("+-").split("e")[0].split("E")[0].replace(".", "")
    digits = min(len(mantissa.strip("0")), 38)
    return (digits + 1) // 2 + 1


def check_item(item: Mapping[str, Mapping[str, Any]], table: str | None = None, limit: int = ITEM_MAX_BYTES) -> int:
    size = item_size(item)
    if size > limit:
        per_attribute = sorted(((name, _utf8(name) + attribute_value_size(v)) for name, v in item.items()),
                               key=lambda pair: -pair[1])
        raise ItemTooLarge(table, size, per_attribute[:3], limit)
    return size


def _raw_len(value: Any) -> int:
    """Binary as the SDK takes it: bytes, or boto3's Binary wrapper."""
    return len(value) if isinstance(value, (bytes, bytearray)) else len(bytes(value))


def _utf8(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))
