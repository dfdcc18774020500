"""`dispatch dlq list|redrive` on a stack: messages dead-lettered during an outage are listed without their
content, moved back to the queue they came from, and processed; the DLQ is empty afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.cli import main
from infra.dlq import dead_letter_queues, dead_letter_queues_of
from shared.aws import client
from shared.domain.segment import in_control_group
from tests.integration import helpers as h

NOW = h.local(h.MONDAY, 9)


def _connected(household_id: str) -> str:
    return json.dumps({"version": "1", "correlation_id": household_id, "household_id": household_id,
                       "connected_at": "2026-06-01T10:00:00+02:00", "marketable_from": "2026-06-01",
                       "max_down_mbps": 10000, "canton": "ZH", "commune": "Secretville"})


def _depth(stack: Any, queue: str) -> int:
    attributes = client("sqs").get_queue_attributes(QueueUrl=stack.queue_urls[queue],
                                                    AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _dispatch(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(["dlq", *argv, "--stack-name", "test"])
    return status, capsys.readouterr().out


def test_dead_letters_are_listed_redriven_and_processed(stack, runtime, monkeypatch, capsys) -> None:
    # Given an outage of the segmenter: twelve households connected while every attempt failed, so after
    # maxReceiveCount receives all twelve wait in its DLQ
    households = [f"H-dlq-{i}" for i in range(12)]
    for household_id in households:
        h.seed_household(household_id, language=None)

    def outage(*_: Any, **__: Any) -> None:
        raise RuntimeError("segmenter down")

    import functions.segmenter.logic as segmenter

    working = segmenter.segment
    monkeypatch.setattr(segmenter, "segment", outage)
    bus = stack.attrs[("Bus", "Name")]
    for start in (0, 10):
        client("events").put_events(Entries=[{
            "Source": "channel-dispatch", "DetailType": "HouseholdConnected", "Detail": _connected(hid),
            "EventBusName": bus, "Time": NOW} for hid in households[start:start + 10]])
    runtime.start_clock(NOW)
    runtime.drain()
    assert _depth(stack, "SegmenterDLQ") == 12 and h.household(households[0]).get("target_group") is None
    # ... and one message with attributes in the email DLQ, from another incident
    email_body = json.dumps({"detail-type": "ContactRequested", "source": "channel-dispatch",
                             "detail": {"household_id": "H-secret-mail"}})
    client("sqs").send_message(QueueUrl=stack.queue_urls["EmailDLQ"], MessageBody=email_body,
                               MessageAttributes={"origin": {"DataType": "String", "StringValue": "incident-7"}})
    # ... and a print cut-off that failed all of Lambda's attempts (its on-failure record)
    failure = json.dumps({"version": "1.0",
                          "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
                          "requestPayload": {"scheduled_time": "2026-06-08T15:00:00Z", "task": "cut-off"},
                          "responseContext": {"statusCode": 200, "functionError": "Unhandled"}})
    client("sqs").send_message(QueueUrl=stack.queue_urls["ScheduledTasksDLQ"], MessageBody=failure)
    # ... and a stream batch the lake function failed on every retry (its mapping's on-failure record)
    client("sqs").send_message(QueueUrl=stack.queue_urls["LakeDLQ"], MessageBody=json.dumps({
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
        "DDBStreamBatchInfo": {"streamArn": "arn:aws:dynamodb:eu-central-2:1:table/t/stream/x", "batchSize": 3}}))
    monkeypatch.setattr(segmenter, "segment", working)  # the outage is over

    # The stack's DLQs are found by its name as well as from the provisioned stack, with their sources
    by_name = dead_letter_queues("test")
    assert [(d.name, [q.name for q in d.sources]) for d in by_name] == [
        (d.name, [q.name for q in d.sources]) for d in dead_letter_queues_of(stack)]
    assert len(by_name) == len(stack.dlq_of) + 2 == 10
    assert [d.sources for d in by_name if d.name == "ScheduledTasksDLQ"] == [()]  # Lambda's on-failure destination
    assert [d.sources for d in by_name if d.name == "LakeDLQ"] == [()]  # the stream mappings' on-failure queue

    # When the DLQs are listed
    status, out = _dispatch(capsys, "list")
    # Then each message shows id, detail-type, source queue and first receive, and never its content
    assert status == 0
    lines = out.splitlines()
    assert "SegmenterDLQ (for SegmenterQueue): 12 messages" in lines
    assert "EmailDLQ (for EmailQueue): 1 messages" in lines
    assert "ScheduledTasksDLQ (on-failure destination of scheduled runs): 1 messages" in lines
    assert any("scheduled cut-off" in line for line in lines)
    assert "LakeDLQ (on-failure destination of the lake's stream batches): 1 messages" in lines
    assert any("stream batch of 3 records" in line for line in lines)
    assert lines[-1] == "15 messages in 4 of 10 dead-letter queues"
    rows = [line.split() for line in lines if line.startswith("  ")]
    segmenter_rows = [r for r in rows if r[1] == "HouseholdConnected"]
    assert len(segmenter_rows) == 12
    for row in segmenter_rows:
        assert row[2:4] == ["from", "SegmenterQueue"] and row[4:6] == ["first", "received"]
        assert row[6].startswith("20") and row[6].endswith("Z") and row[7] == "received"
    [email_row] = [r for r in rows if r[1] == "ContactRequested"]
    assert email_row[2:4] == ["from", "EmailQueue"]
    assert "H-dlq" not in out and "Secretville" not in out and "H-secret" not in out and "incident" not in out
    # ... and listing took nothing away
    assert _depth(stack, "SegmenterDLQ") == 12 and _depth(stack, "EmailDLQ") == 1

    # When the segmenter's DLQ alone is redriven (by its source queue's name)
    status, out = _dispatch(capsys, "redrive", "--queue", "SegmenterQueue")
    # Then all twelve went back, the other DLQ is untouched
    assert status == 0
    assert out.splitlines() == ["SegmenterDLQ: 12 moved to SegmenterQueue",
                                "redriven: 12 messages from 1 dead-letter queues, 0 left in place"]
    assert _depth(stack, "SegmenterDLQ") == 0 and _depth(stack, "EmailDLQ") == 1
    # ... and the runtime processes them: every household segmented and on its way, no DLQ refilled
    runtime.drain()
    for household_id in households:
        assert h.household(household_id)["target_group"] == "prospect"
        if not in_control_group(h.CAMPAIGN_ID, household_id, 5):
            assert h.journey(household_id) is not None
    assert _depth(stack, "SegmenterDLQ") == 0

    # When every DLQ is redriven, the email message goes back with its body and attributes
    status, out = _dispatch(capsys, "redrive")
    assert status == 0 and "EmailDLQ: 1 moved to EmailQueue" in out.splitlines()
    assert any(line.startswith("ScheduledTasksDLQ: not redriven") for line in out.splitlines())
    assert _depth(stack, "ScheduledTasksDLQ") == 1  # kept: there is no queue to send a failed run back to
    assert "IngestDLQ: nothing to move" in out.splitlines()
    [moved] = client("sqs").receive_message(QueueUrl=stack.queue_urls["EmailQueue"],
                                            MessageAttributeNames=["All"])["Messages"]
    assert moved["Body"] == email_body
    assert moved["MessageAttributes"]["origin"]["StringValue"] == "incident-7"
    depths = runtime.dlq_depths()
    assert depths.pop("ScheduledTasksDLQ") == 1 and depths.pop("LakeDLQ") == 1  # kept, listed
    assert sum(depths.values()) == 0


def test_unknown_queue_or_stack_is_a_one_line_error(stack, capsys) -> None:
    assert main(["dlq", "list", "--stack-name", "test", "--queue", "NoSuchDLQ"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dispatch dlq list: no dead-letter queue 'NoSuchDLQ' (known: CallDLQ, EmailDLQ")
    assert main(["dlq", "redrive", "--stack-name", "elsewhere"]) == 2
    assert "no queues of stack 'elsewhere'" in capsys.readouterr().err
