"""The contact-history lake: its one schema in shared/lake.py, the template's Glue table and Firehose stream built
on it, the stream filters, and what the lake function makes of the tables' stream records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from boto3.dynamodb.types import TypeSerializer
from moto.events.models import EventPattern

from functions.lake.logic import lake_rows
from infra.template import functions, load_template
from shared.lake import COLUMN_NAMES, COLUMNS, PARTITION_KEYS, RECORD_TYPES

TZ = ZoneInfo("Europe/Zurich")
TABLES = {"contacts": "contacts", "households": "households", "journeys": "journeys"}
_ser = TypeSerializer()


def _image(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if item is None else {k: _ser.serialize(v) for k, v in item.items()}


def record(table: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None, seq: int = 1,
           ttl: bool = False) -> dict[str, Any]:
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    item = new or old or {}
    keys = {k: item[k] for k in ("household_id", "sk") if k in item}
    rec: dict[str, Any] = {
        "eventName": name, "eventSource": "aws:dynamodb",
        "eventSourceARN": f"arn:aws:dynamodb:eu-central-2:123456789012:table/{table}/stream/2026-01-01T00:00:00",
        "dynamodb": {"Keys": _image(keys), "SequenceNumber": str(seq), "ApproximateCreationDateTime": 1781000000,
                     **({"NewImage": _image(new)} if new else {}), **({"OldImage": _image(old)} if old else {})}}
    if ttl:
        rec["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return rec


def rows(*records: dict[str, Any]) -> list[dict[str, Any]]:
    return list(lake_rows(records, TABLES, TZ))


CLAIM = {"household_id": "HH-1", "sk": "contact#j#c01#s01#a01", "contact_id": "c-1", "journey_id": "j",
         "target_group": "upgrade", "channel": "email", "cycle": 1, "step": 1, "attempt": 1, "offer_id": "o",
         "cost_chf": "0.002", "at": "2026-06-08T09:00:00+02:00", "status": "claimed", "customer_id": "C-1",
         "email": "anna@example.ch"}


# ------------------------------------------------------------------ one schema


def test_the_glue_table_is_the_schema_of_shared_lake() -> None:
    table = load_template()["Resources"]["LakeTable"]["Properties"]["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert columns == list(COLUMNS)
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == list(PARTITION_KEYS)
    assert table["Parameters"]["projection.record_type.values"].split(",") == list(RECORD_TYPES)


def test_firehose_partitions_by_the_partition_keys_and_converts_with_the_glue_table() -> None:
    resources = load_template()["Resources"]
    destination = resources["LakeStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    for key, _ in PARTITION_KEYS:
        assert f"{key}=!{{partitionKeyFromQuery:{key}}}" in destination["Prefix"]
    query = destination["ProcessingConfiguration"]["Processors"][0]["Parameters"][0]["ParameterValue"]
    assert query == "{" + ", ".join(f"{k}: .{k}" for k, _ in PARTITION_KEYS) + "}"
    schema = destination["DataFormatConversionConfiguration"]["SchemaConfiguration"]
    assert schema["TableName"] == {"Ref": "LakeTable"}


def test_the_lake_bucket_expires_like_every_store_of_personal_data() -> None:
    rules = load_template()["Resources"]["LakeBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    history = next(r for r in rules if r.get("Prefix") == "history/")
    assert history["ExpirationInDays"] == {"Ref": "LakeRetentionDays"}
    assert load_template()["Parameters"]["LakeRetentionDays"]["Default"] == 730  # the config's retention_days


# ------------------------------------------------------------------ the stream filters


def _filters() -> list[EventPattern]:
    spec = next(f for f in functions(load_template()) if f.logical_id == "LakeFunction")
    contacts = next(s for s in spec.streams if s.table == "ContactsTable")
    return [EventPattern.load(p) for p in contacts.filters]


@pytest.mark.parametrize(("new", "old", "passes"), [
    ({**CLAIM, "status": "claimed"}, None, False),  # a claim is not a contact yet
    ({**CLAIM, "status": "sent"}, {**CLAIM, "status": "claimed"}, True),  # now it is
    (None, {**CLAIM, "status": "sent"}, True),  # a contact deleted (erasure) is a change the lake must see
    ({**CLAIM, "status": "withdrawn"}, {**CLAIM, "status": "claimed"}, False),
    ({"household_id": "HH-1", "sk": "pressure", "status": "sent"}, None, False),  # not a contact item
    ({"household_id": "HH-1", "sk": "decision#2026#x", "decision": "skipped"}, None, True),
    ({"household_id": "HH-1", "sk": "response#2026#x", "type": "order"}, None, True),
])
def test_the_contacts_stream_filter_lets_through_what_the_lake_reads(new: Any, old: Any, passes: bool) -> None:
    event = record("contacts", new, old)
    assert any(p.matches_event(event) for p in _filters()) is passes


# ------------------------------------------------------------------ the rows


def test_a_contact_is_a_row_when_it_is_sent_and_only_then() -> None:
    assert rows(record("contacts", {**CLAIM, "status": "claimed"})) == []
    [row] = rows(record("contacts", {**CLAIM, "status": "sent"}, {**CLAIM, "status": "claimed"}, seq=7))
    assert row["record_type"] == "contact" and row["op"] == "upsert" and row["status"] == "sent"
    assert row["item_key"] == CLAIM["sk"] and row["seq"] == "7".zfill(40)
    assert row["at"] == "2026-06-08 07:00:00.000000"  # UTC
    assert row["local_day"] == "2026-06-08" and row["day"] == "2026-06-08"
    assert row["cost_chf"] == 0.002 and row["cycle"] == 1
    [gone] = rows(record("contacts", None, {**CLAIM, "status": "sent"}, seq=8))
    assert gone["op"] == "remove" and gone["item_key"] == CLAIM["sk"]


def test_no_row_names_a_person() -> None:
    household = {"household_id": "HH-1", "street": "Bahnhofstrasse", "house_number": "1", "commune": "Baden",
                 "canton": "AG", "postcode": "5400", "connected_at": "2026-06-01T10:00:00+02:00",
                 "marketable_from": "2026-06-05", "target_group": "switch", "control_group": False,
                 "first_name": "Anna", "last_name": "Muster", "email": "anna@example.ch", "mobile": "+41791234567"}
    out = rows(record("households", household), record("contacts", {**CLAIM, "status": "sent"}))
    assert len(out) == 2
    for row in out:
        assert set(row) == {"record_type", "day", *COLUMN_NAMES}
        text = json.dumps(row)
        for personal in ("Anna", "Muster", "anna@example.ch", "+41791234567", "Bahnhofstrasse", "C-1"):
            assert personal not in text
    household_row = out[0]
    assert household_row["connected_day"] == "2026-06-01" and household_row["marketable_day"] == "2026-06-05"
    assert household_row["connected_at"] == "2026-06-01 08:00:00.000000"


def test_a_change_the_report_does_not_read_makes_no_row() -> None:
    journey = {"household_id": "HH-1", "journey_id": "j", "status": "live", "offer_id": "o",
               "target_group": "upgrade", "cycle": 1, "step": 1, "cycle_started_at": "2026-06-08T00:00:00+02:00"}
    assert rows(record("journeys", {**journey, "step": 2}, journey)) == []  # a step taken
    [ended] = rows(record("journeys", {**journey, "status": "ended", "end_reason": "ordered",
                                       "ended_at": "2026-06-20T10:00:00+02:00"}, journey))
    assert ended["status"] == "ended" and ended["end_reason"] == "ordered" and ended["day"] == "2026-06-20"
    household = {"household_id": "HH-1", "commune": "Baden", "street": "A", "target_group": "none"}
    assert rows(record("households", {**household, "street": "B"}, household)) == []
    [segmented] = rows(record("households", {**household, "target_group": "upgrade"}, household))
    assert segmented["target_group"] == "upgrade"
    [first] = rows(record("households", household))
    assert first["target_group"] is None  # 'none' is not a segment


def test_a_removal_by_ttl_stays_in_the_lake_until_its_own_retention() -> None:
    assert rows(record("contacts", None, {**CLAIM, "status": "sent"}, ttl=True)) == []


def test_the_day_of_a_row_without_a_time_is_the_stream_records() -> None:
    decision = {"household_id": "HH-1", "sk": "decision#segment", "decision": "not_eligible", "reason": "r"}
    [row] = rows(record("contacts", decision))
    assert row["at"] is None
    assert row["day"] == datetime.fromtimestamp(1781000000, UTC).astimezone(TZ).date().isoformat()


def test_rows_firehose_cannot_convert_or_deliver_raise_an_alarm() -> None:
    resources = load_template()["Resources"]
    stream_name = resources["LakeStream"]["Properties"]["DeliveryStreamName"]
    metrics = resources["LakeDeliveryAlarm"]["Properties"]["Metrics"]
    watched = {m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
               for m in metrics if "MetricStat" in m}
    assert watched == {"FailedConversion.Records": stream_name, "PartitionCountExceeded": stream_name}
    assert resources["LakeDeliveryAlarm"]["Properties"]["Threshold"] == 0
