"""Size limits: EventBridge entries and DynamoDB items measured as AWS documents it, refused whole when
too large, with a message that names what and how big but never quotes the content."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from shared import limits
from shared.bus import EventBridgePublisher, Outgoing
from shared.events import HouseholdConnected
from shared.limits import (
    EVENT_MAX_BYTES,
    ITEM_MAX_BYTES,
    EventTooLarge,
    ItemTooLarge,
    check_item,
    event_entry_size,
    item_size,
    number_size,
    put_events_batches,
)
from shared.stores.dynamo import to_item

NOW = datetime(2026, 6, 8, 9, tzinfo=UTC)


# ------------------------------------------------------------------ EventBridge
def test_entry_size_as_aws_counts_it() -> None:
    # Time 14 + Source + DetailType + Detail + each resource, UTF-8 bytes; EventBusName does not count
    entry = {"Time": NOW, "Source": "channel-dispatch", "DetailType": "ContactMade", "Detail": '{"a":"ü"}',
             "Resources": ["arn:aws:s3:::b", None], "EventBusName": "a-very-long-bus-name"}
    assert event_entry_size(entry) == 14 + 16 + 11 + 10 + 14
    assert event_entry_size({"Source": "s", "DetailType": "d"}) == 2


def test_batches_keep_ten_entries_and_256_kb_per_request() -> None:
    small = {"Source": "s", "DetailType": "d", "Detail": "x" * 98}  # 100 bytes
    assert [len(b) for b in put_events_batches([small] * 23)] == [10, 10, 3]
    big = {"Source": "s", "DetailType": "d", "Detail": "x" * (100 * 1024)}  # ~100 KB: two fit, not three
    assert [len(b) for b in put_events_batches([big] * 5)] == [2, 2, 1]
    exactly = {"Source": "s", "DetailType": "d", "Detail": "x" * (EVENT_MAX_BYTES - 2)}
    assert put_events_batches([exactly]) == [[exactly]]


def _oversize_event() -> Outgoing:
    detail = HouseholdConnected(correlation_id="H-secret-1", household_id="H-secret-1", connected_at=NOW,
                                marketable_from=date(2026, 6, 10), max_down_mbps=10000, canton="ZH",
                                commune="Zürich-" + "x" * EVENT_MAX_BYTES)
    return Outgoing(detail, NOW)


def test_oversize_event_is_refused_before_anything_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []

    class Events:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            sent.append(Entries)
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"} for _ in Entries]}

    monkeypatch.setattr("shared.aws.client", lambda service: Events())
    good = Outgoing(HouseholdConnected(correlation_id="H-2", household_id="H-2", connected_at=NOW,
                                       marketable_from=date(2026, 6, 10), max_down_mbps=1000, canton="ZH",
                                       commune="Zürich"), NOW)
    with pytest.raises(EventTooLarge) as refused:
        EventBridgePublisher("bus").publish([good, _oversize_event()])
    message = str(refused.value)
    assert "HouseholdConnected event" in message and "262,144" in message and "refused, not truncated" in message
    assert f"{refused.value.size:,}" in message and refused.value.size > EVENT_MAX_BYTES
    assert "H-secret-1" not in message and "xxx" not in message and "Zürich" not in message
    assert sent == []  # not even the good one: the record fails whole and is retried, then dead-lettered
    EventBridgePublisher("bus").publish([good])
    assert len(sent) == 1


# ------------------------------------------------------------------ DynamoDB
def test_item_sizes_match_published_examples() -> None:
    # The ddb-calc README's book item: 137 bytes (list element overhead and trimmed zeros included)
    book = {"Id": {"N": "101"}, "Title": {"S": "Book 101 Title"}, "ISBN": {"S": "111-1111111111"},
            "Authors": {"L": [{"S": "Author1"}]}, "Price": {"N": "2"}, "Dimensions": {"S": "8.5 x 11.0 x 0.5"},
            "PageCount": {"N": "500"}, "InPublication": {"BOOL": True}, "ProductCategory": {"S": "Book"}}
    assert item_size(book) == 137
    # The ddbitemsizer README's slot item: 141 bytes
    slot = {"itemType": {"S": "SLOT"}, "id": {"S": "abc1231"}, "hostName": {"S": "Harry Mason"},
            "timeSlot": {"S": "February 23, 1999"}, "slotStatus": {"S": "OPEN"},
            "createdAt": {"S": "February 1, 1999"}, "updatedAt": {"S": "February 1, 1999"},
            "expiresAt": {"N": "2099"}}
    assert item_size(slot) == 141
    # dyno-item-size's README: string, number 27 and a 6-byte buffer are 32 bytes
    assert item_size({"string": {"S": "string"}, "number": {"N": "27"}, "buffer": {"B": b"buffer"}}) == 32


def test_item_size_rules() -> None:
    assert item_size({"é": {"S": "ü"}}) == 4  # UTF-8 bytes of name and value
    assert item_size({"n": {"NULL": True}, "b": {"BOOL": False}}) == 4
    assert item_size({"m": {"M": {}}, "l": {"L": []}}) == 8  # 3 bytes each, empty
    assert item_size({"m": {"M": {"ab": {"S": "xyz"}}}}) == 1 + 3 + 1 + 2 + 3  # + 1 byte and the key per element
    assert item_size({"s": {"SS": ["ab", "c"]}, "t": {"NS": ["1", "22"]}}) == 1 + 3 + 1 + 2 + 2
    assert [number_size(n) for n in ("0", "7", "12", "123", "-0.00120", "1E+5", "1" * 40)] == [1, 2, 2, 3, 2, 2, 20]


def test_serialised_items_are_measured_the_same() -> None:
    item = to_item({"household_id": "H-1", "sk": "pressure", "history": [["email", "2026-06-08T09:00:00+02:00"]],
                    "version": 3, "skip": None})
    assert item_size(item) == (12 + 3) + (2 + 8) + (7 + 3 + 1 + 3 + 1 + 5 + 1 + 25) + (7 + 2)


def test_oversize_item_is_refused_naming_table_and_largest_attributes() -> None:
    row = {"household_id": "H-secret-1", "street": "Bahnhofstrasse", "note": "ä" * (ITEM_MAX_BYTES // 2)}
    assert check_item(to_item({**row, "note": "ä" * (ITEM_MAX_BYTES // 2 - 100)})) < ITEM_MAX_BYTES
    with pytest.raises(ItemTooLarge) as refused:
        to_item(row, "dispatch-HouseholdsTable")
    message = str(refused.value)
    assert message.startswith("item for table dispatch-HouseholdsTable: 409,646 bytes, over DynamoDB's limit of "
                              "409,600 bytes; refused, not truncated (largest attributes: note 409,604 B")
    assert "H-secret-1" not in message and "Bahnhof" not in message and "ää" not in message
    with pytest.raises(ItemTooLarge, match=r"^DynamoDB item: "):
        to_item(row)


def test_limit_errors_are_value_errors() -> None:
    assert issubclass(limits.EventTooLarge, ValueError) and issubclass(limits.ItemTooLarge, ValueError)
