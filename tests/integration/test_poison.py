"""Poison messages on the local runtime: a message that can never succeed fails alone (partial batch
response), comes back until the queue's maxReceiveCount, then waits in that queue's DLQ; the rest of its
batch is processed the first time and nothing else is lost."""

from __future__ import annotations

import json
from typing import Any

from infra.template import load_template
from shared.aws import client
from shared.domain.segment import in_control_group
from tests.integration import helpers as h

NOW = h.local(h.MONDAY, 9)


def _max_receive(queue: str) -> int:
    """The template's own figure, not the runtime's copy of it."""
    return int(load_template()["Resources"][queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"])


def _connected(household_id: str) -> dict[str, Any]:
    return {"version": "1", "correlation_id": household_id, "household_id": household_id,
            "connected_at": "2026-06-01T10:00:00+02:00", "marketable_from": "2026-06-01",
            "max_down_mbps": 10000, "canton": "ZH", "commune": "Zürich"}


def _record_invocations(runtime: Any, function: str) -> list[tuple[list[str], set[str]]]:
    """(message ids delivered, message ids reported failed) of each invocation of `function`."""
    seen: list[tuple[list[str], set[str]]] = []
    invoke = runtime.invoke

    def recording(spec: Any, event: dict[str, Any]) -> Any:
        result = invoke(spec, event)
        if spec.logical_id == function:
            seen.append(([r["messageId"] for r in event["Records"]],
                         {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}))
        return result

    runtime.invoke = recording
    return seen


def _dlq_messages(stack: Any, dlq: str) -> list[dict[str, Any]]:
    sqs = client("sqs")
    messages: dict[str, dict[str, Any]] = {}
    while True:
        batch = sqs.receive_message(QueueUrl=stack.queue_urls[dlq], MaxNumberOfMessages=10, VisibilityTimeout=60,
                                    AttributeNames=["All"]).get("Messages", [])
        if not batch:
            return list(messages.values())
        messages.update({m["MessageId"]: m for m in batch})


def test_poison_reaches_the_dlq_after_max_receive_without_blocking_its_batch(stack, runtime) -> None:
    # Given eight connected households on the bus, and two messages in the segmenter's queue that can never
    # succeed: a valid envelope whose detail lacks required fields, and a body that is not JSON at all
    good = [f"H-poison-good-{i}" for i in range(8)]
    for household_id in good:
        h.seed_household(household_id, language=None)
    h.seed_customer(good[0], "C-0", has_internet=True, internet_down_mbps=100)
    events = client("events")
    bus = stack.attrs[("Bus", "Name")]
    entries = [{"Source": "channel-dispatch", "DetailType": "HouseholdConnected", "Detail": json.dumps(_connected(g)),
                "EventBusName": bus, "Time": NOW} for g in good[:4]]
    entries.append({"Source": "channel-dispatch", "DetailType": "HouseholdConnected", "EventBusName": bus,
                    "Detail": json.dumps({"version": "1", "correlation_id": "H-bad", "household_id": "H-bad"}),
                    "Time": NOW})
    entries += [{"Source": "channel-dispatch", "DetailType": "HouseholdConnected",
                 "Detail": json.dumps(_connected(g)), "EventBusName": bus, "Time": NOW} for g in good[4:]]
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
    unparseable = client("sqs").send_message(QueueUrl=stack.queue_urls["SegmenterQueue"],
                                             MessageBody="{not json")["MessageId"]
    seen = _record_invocations(runtime, "SegmenterFunction")

    # When the runtime delivers until every queue is drained
    runtime.start_clock(NOW)
    runtime.drain()

    # Then the first invocation carried all ten and failed only the two poison messages
    first_ids, first_failed = seen[0]
    assert len(first_ids) == 10 and len(first_failed) == 2 and unparseable in first_failed
    poison = first_failed
    # ... every good message was processed exactly once, in that first invocation
    delivered = [mid for ids, _ in seen for mid in ids]
    assert all(delivered.count(mid) == 1 for mid in first_ids if mid not in poison)
    # ... each poison message was received exactly maxReceiveCount times, failing every time
    max_receive = _max_receive("SegmenterQueue")
    assert max_receive == 5
    for mid in poison:
        assert delivered.count(mid) == max_receive
        assert all(mid in failed for ids, failed in seen if mid in ids)
    assert len(seen) == max_receive  # the retries came back alone: nothing else was held up with them
    # ... and both wait in the segmenter's DLQ, unchanged, with nothing in any other DLQ
    depths = runtime.dlq_depths()
    assert depths["SegmenterDLQ"] == 2 and sum(depths.values()) == 2
    dead = _dlq_messages(stack, "SegmenterDLQ")
    assert {m["MessageId"] for m in dead} == poison
    bodies = sorted(m["Body"] for m in dead)
    assert bodies[1] == "{not json" and json.loads(bodies[0])["detail"]["household_id"] == "H-bad"
    assert all(int(m["Attributes"]["ApproximateReceiveCount"]) > max_receive for m in dead)
    # ... and nothing else was lost: every good household was segmented and went on (a journey or a reason)
    assert runtime.stats.failed_messages == 2 * max_receive and runtime.errors == []
    for household_id in good:
        item = h.household(household_id)
        assert item is not None and item["target_group"] in ("upgrade", "prospect")
        if in_control_group(h.CAMPAIGN_ID, household_id, 5):
            assert [d["decision"] for d in h.decisions(household_id)] == ["control_group"]
        else:
            assert h.journey(household_id) is not None
    assert h.household(good[0])["target_group"] == "upgrade"
