"""The local runtime reads the tables' streams as Lambda's event source mappings do: the lake function gets what
its filters let through, and a batch that fails every retry is recorded on the mapping's on-failure queue."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.aws import client
from shared.stores.dynamo import to_item


def _put(table: str, item: dict[str, Any]) -> None:
    client("dynamodb").put_item(TableName=table, Item=to_item(item))


def _lake_rows(bucket: str) -> list[dict[str, Any]]:
    s3 = client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return [json.loads(line) for k in keys
            for line in s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode().splitlines() if line]


CONTACT = {"household_id": "HH-1", "sk": "contact#j#c01#s01#a01", "contact_id": "c-1", "channel": "email",
           "cycle": 1, "step": 1, "at": "2026-06-08T09:00:00+02:00", "cost_chf": "0.002"}


def test_the_lake_gets_a_contact_once_it_is_sent(stack: Any, runtime: Any) -> None:
    table = stack.refs["ContactsTable"]
    _put(table, {**CONTACT, "status": "claimed"})
    _put(table, {"household_id": "HH-1", "sk": "pressure", "n": 1})
    runtime.poll_streams()
    assert _lake_rows(stack.refs["LakeBucket"]) == []  # a claim and the pressure item: nothing for the lake
    _put(table, {**CONTACT, "status": "sent"})
    assert runtime.poll_streams() == 1  # only the new change is read again
    [row] = _lake_rows(stack.refs["LakeBucket"])
    assert (row["record_type"], row["contact_id"], row["status"]) == ("contact", "c-1", "sent")


def test_a_batch_that_fails_every_retry_is_recorded_on_the_dlq(stack: Any, runtime: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import functions.lake.handler as lake

    calls = []

    def broken(event: dict[str, Any], context: Any) -> None:
        calls.append(len(event["Records"]))
        raise RuntimeError("Firehose is down")

    monkeypatch.setattr(lake, "handler", broken)
    runtime.handlers.pop("LakeFunction", None)
    _put(stack.refs["ContactsTable"], {**CONTACT, "status": "sent"})
    runtime.poll_streams()
    assert calls == [1] * 6  # the first attempt and MaximumRetryAttempts: 5
    messages = client("sqs").receive_message(QueueUrl=stack.queue_urls["LakeDLQ"]).get("Messages", [])
    [message] = messages
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == stack.attrs[("ContactsTable", "StreamArn")]
    assert "c-1" not in message["Body"]  # the batch's place in the stream, not its data
    assert runtime.errors and "LakeFunction" in runtime.errors[-1]


def test_the_lake_dlq_counts_among_the_dead_letter_queues_of_a_run(runtime: Any) -> None:
    assert runtime.dlq_depths()["LakeDLQ"] == 0


def test_each_stack_has_a_lake_database_of_its_own(aws: None) -> None:
    from infra.provision import provision

    names = {provision(name, "eu-central-2").refs["LakeDatabase"] for name in ("shop-a", "shop-b")}
    assert names == {"shop_a_lake", "shop_b_lake"}  # Athena's names: no '-' (a !Join of a !Split)


def test_a_write_without_a_message_reaches_the_lake_at_the_next_drain(stack: Any, runtime: Any) -> None:
    # a print cut-off or call export writes contacts and sends nothing: the lake must still get them
    runtime.dirty = False
    _put(stack.refs["ContactsTable"], {**CONTACT, "status": "sent"})
    runtime.drain()
    assert [r["contact_id"] for r in _lake_rows(stack.refs["LakeBucket"])] == ["c-1"]
