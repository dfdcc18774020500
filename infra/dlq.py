"""`dispatch dlq list|redrive`: what waits in the dead-letter queues of a stack, and moving it back.

The queues are found on a deployed stack (CloudFormation's resources, else the names infra/provision
gives: `<stack>-<LogicalId>`) or taken from a provisioned `Stack` in this process (a run's embedded
stack); which DLQ serves which queue comes from the queues' own RedrivePolicy, else from template.yaml.

Listing never prints a message's detail (it may hold personal data): only its id, detail-type, source
queue, first-receive time and receive count. Listing receives the messages to read their attributes
and makes them visible again at once; it deletes nothing.

Redrive is receive, send, delete in batches of ten: the original body and message attributes go back
to the source queue, and a message leaves the DLQ only after its send succeeded (at-least-once: a
failed delete can duplicate a message, never lose one). SQS's StartMessageMoveTask would do the same
server-side, but moto (the embedded endpoint) does not implement it, so it is not used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.template import load_template, logical_id_of

_BATCH = 10
_SEND_BATCH_BYTES = 256 * 1024  # SendMessageBatch: the sum of the batch's bodies and attributes
_LEASE_SECONDS = 120  # how long a received DLQ message stays hidden while it is listed or moved
_EMPTY_RETRIES = 3  # short polls may come back empty while messages remain: ask again this often
UNKNOWN = "?"


class DlqError(Exception):
    """The stack or queue asked for is not there: a one-line message for the command line."""


@dataclass(frozen=True)
class Queue:
    name: str  # the template's logical id
    url: str
    arn: str


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str
    url: str
    arn: str
    sources: tuple[Queue, ...]  # the queues whose RedrivePolicy sends here

    def source_of(self, attributes: dict[str, str]) -> Queue | None:
        """The queue a message came from: SQS's DeadLetterQueueSourceArn, else the only source there is."""
        arn = attributes.get("DeadLetterQueueSourceArn")
        if arn:
            return next((q for q in self.sources if q.arn == arn), None)
        return self.sources[0] if len(self.sources) == 1 else None


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    detail_type: str
    source: str
    first_received: datetime | None
    receive_count: int


@dataclass
class Redriven:
    dlq: str
    moved: dict[str, int] = field(default_factory=dict)  # per source queue
    failed: int = 0  # sends refused: the messages stay in the DLQ
    unknown_source: int = 0  # no way to tell where they came from: they stay in the DLQ
    not_deleted: int = 0  # sent but still in the DLQ: they will be delivered twice (at-least-once)


# --------------------------------------------------------------------------- finding the queues


def dead_letter_queues(stack_name: str) -> list[DeadLetterQueue]:
    """Every DLQ of a deployed stack, with the queues it serves."""
    urls = _cloudformation_queue_urls(stack_name) or _provisioned_queue_urls(stack_name)
    if not urls:
        raise DlqError(f"no queues of stack {stack_name!r} at this endpoint (wrong --stack-name or --endpoint-url?)")
    return _pair(urls)


def dead_letter_queues_of(stack: Any) -> list[DeadLetterQueue]:
    """Every DLQ of a stack provisioned in this process (infra.provision.Stack)."""
    return _pair(dict(stack.queue_urls), stack.template)


def _cloudformation_queue_urls(stack_name: str) -> dict[str, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    from shared.aws import client

    try:
        resources = client("cloudformation").describe_stack_resources(StackName=stack_name)["StackResources"]
    except (ClientError, BotoCoreError):
        return {}  # provisioned by infra/provision (moto, LocalStack): no CloudFormation stack
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources
            if r.get("ResourceType") == "AWS::SQS::Queue" and r.get("PhysicalResourceId")}


def _provisioned_queue_urls(stack_name: str) -> dict[str, str]:
    """infra/provision names a queue `<stack>-<LogicalId>` (logical ids have no '-': another stack's are left out)."""
    from shared.aws import client

    prefix = f"{stack_name}-"
    urls = {}
    for page in client("sqs").get_paginator("list_queues").paginate(QueueNamePrefix=prefix):
        for url in page.get("QueueUrls", []):
            logical_id = url.rsplit("/", 1)[-1][len(prefix):]
            if logical_id and "-" not in logical_id:
                urls[logical_id] = url
    return urls


def _pair(urls: dict[str, str], template: dict[str, Any] | None = None) -> list[DeadLetterQueue]:
    from shared.aws import client

    sqs = client("sqs")
    queues: dict[str, Queue] = {}
    target_of: dict[str, str] = {}  # source logical id -> DLQ arn or logical id
    for name, url in urls.items():
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])
        attributes = attributes.get("Attributes", {})
        queues[name] = Queue(name, url, attributes["QueueArn"])
        if attributes.get("RedrivePolicy"):
            target_of[name] = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    if not target_of:  # an endpoint that does not keep RedrivePolicy: the template says what goes where
        target_of = {k: v for k, v in _declared_redrive(template or load_template()).items() if k in queues}
    by_arn = {q.arn: q for q in queues.values()}
    sources: dict[str, list[Queue]] = {}
    for name, target in target_of.items():
        dlq = by_arn.get(target) or queues.get(target)
        if dlq is not None:
            sources.setdefault(dlq.name, []).append(queues[name])
    # A dead-letter queue no queue redrives to: a function's on-failure destination (ScheduledTasksDLQ).
    for name in queues:
        if name.endswith("DLQ") and name not in sources and name not in target_of:
            sources[name] = []
    return [DeadLetterQueue(n, queues[n].url, queues[n].arn, tuple(sorted(s, key=lambda q: q.name)))
            for n, s in sorted(sources.items())]


def _declared_redrive(template: dict[str, Any]) -> dict[str, str]:
    """template.yaml's pairs (source logical id -> DLQ logical id), for an endpoint that drops RedrivePolicy."""
    pairs = {}
    for logical_id, resource in template["Resources"].items():
        redrive = resource.get("Properties", {}).get("RedrivePolicy") if resource.get("Type") == "AWS::SQS::Queue" \
            else None
        if redrive:
            pairs[logical_id] = logical_id_of(redrive["deadLetterTargetArn"])
    return pairs


def select(dlqs: Sequence[DeadLetterQueue], name: str | None) -> list[DeadLetterQueue]:
    """All DLQs, or the one named by its logical id, its source queue's, or its physical queue name."""
    if name is None:
        return list(dlqs)
    for dlq in dlqs:
        names = {dlq.name, dlq.url.rsplit("/", 1)[-1]} | {q.name for q in dlq.sources} | \
                {q.url.rsplit("/", 1)[-1] for q in dlq.sources}
        if name in names:
            return [dlq]
    known = ", ".join(d.name for d in dlqs)
    raise DlqError(f"no dead-letter queue {name!r} (known: {known})")


# --------------------------------------------------------------------------- listing


def depth(dlq: DeadLetterQueue) -> tuple[int, int]:
    """(waiting, in flight) messages."""
    from shared.aws import client

    attributes = client("sqs").get_queue_attributes(
        QueueUrl=dlq.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    values = attributes.get("Attributes", {})
    return (int(values.get("ApproximateNumberOfMessages", 0)),
            int(values.get("ApproximateNumberOfMessagesNotVisible", 0)))


def peek(dlq: DeadLetterQueue) -> list[DeadLetter]:
    """What waits in a DLQ, without the content; every message is made visible again afterwards."""
    from shared.aws import client

    sqs = client("sqs")
    letters: dict[str, DeadLetter] = {}
    handles: list[str] = []
    try:
        for batch in _receive_all(dlq):
            for m in batch:
                handles.append(m["ReceiptHandle"])
                if m["MessageId"] not in letters:
                    letters[m["MessageId"]] = _letter(dlq, m)
    finally:
        for start in range(0, len(handles), _BATCH):
            sqs.change_message_visibility_batch(QueueUrl=dlq.url, Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(handles[start:start + _BATCH])])
    return sorted(letters.values(), key=lambda d: (d.first_received or datetime.min.replace(tzinfo=UTC),
                                                   d.message_id))


def _letter(dlq: DeadLetterQueue, message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    source = dlq.source_of(attributes)
    first = int(attributes.get("ApproximateFirstReceiveTimestamp") or 0)
    return DeadLetter(
        message_id=message["MessageId"],
        detail_type=_detail_type(message.get("Body", "")),
        source=source.name if source else UNKNOWN,
        first_received=datetime.fromtimestamp(first / 1000, UTC) if first else None,
        receive_count=int(attributes.get("ApproximateReceiveCount") or 0),
    )


def _detail_type(body: str) -> str:
    """The event's name only: the rest of the body is never read out."""
    try:
        event = json.loads(body)
    except ValueError:
        return "(not JSON)"
    value = event.get("detail-type") if isinstance(event, dict) else None
    if isinstance(value, str) and value:
        return value[:64]
    payload = event.get("requestPayload") if isinstance(event, dict) else None  # Lambda's on-failure record
    task = payload.get("task") if isinstance(payload, dict) else None
    if isinstance(task, str) and task:
        return f"scheduled {task[:40]}"
    batch = event.get("DDBStreamBatchInfo") if isinstance(event, dict) else None  # a stream mapping's on-failure
    if isinstance(batch, dict):
        return f"stream batch of {int(batch.get('batchSize') or 0)} records"
    return "(no detail-type)"


def _receive_all(dlq: DeadLetterQueue) -> Iterator[list[dict[str, Any]]]:
    """Batches of up to ten, each message hidden for the lease, until the queue shows nothing more."""
    from shared.aws import client

    sqs = client("sqs")
    empty = 0
    while True:
        batch = sqs.receive_message(QueueUrl=dlq.url, MaxNumberOfMessages=_BATCH, VisibilityTimeout=_LEASE_SECONDS,
                                    WaitTimeSeconds=1 if empty else 0, AttributeNames=["All"],
                                    MessageAttributeNames=["All"]).get("Messages", [])
        if batch:
            empty = 0
            yield batch
            continue
        empty += 1
        if depth(dlq)[0] == 0 or empty > _EMPTY_RETRIES:
            return


# --------------------------------------------------------------------------- redrive


def redrive(dlq: DeadLetterQueue) -> Redriven:
    """Move every message of a DLQ back to the queue it came from; delete each only once it is sent."""
    from shared.aws import client

    sqs = client("sqs")
    result = Redriven(dlq.name)
    kept: list[str] = []  # receipt handles of messages that stay: made visible again at the end
    seen: set[str] = set()
    try:
        for batch in _receive_all(dlq):
            fresh = [m for m in batch if m["MessageId"] not in seen]
            kept += [m["ReceiptHandle"] for m in batch if m["MessageId"] in seen]
            if not fresh:
                break  # only messages already tried this time round: they stay
            seen.update(m["MessageId"] for m in fresh)
            by_source: dict[str, tuple[Queue, list[dict[str, Any]]]] = {}
            for m in fresh:
                source = dlq.source_of(m.get("Attributes", {}))
                if source is None:
                    result.unknown_source += 1
                    kept.append(m["ReceiptHandle"])
                else:
                    by_source.setdefault(source.name, (source, []))[1].append(m)
            for source, messages in by_source.values():
                for chunk in _send_chunks(messages):
                    kept += _move(sqs, dlq, source, chunk, result)
    finally:
        for start in range(0, len(kept), _BATCH):
            sqs.change_message_visibility_batch(QueueUrl=dlq.url, Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(kept[start:start + _BATCH])])
    return result


def _move(sqs: Any, dlq: DeadLetterQueue, source: Queue, messages: list[dict[str, Any]],
          result: Redriven) -> list[str]:
    """Send one batch to the source queue, delete what was sent; the receipt handles of what stays."""
    response = sqs.send_message_batch(QueueUrl=source.url,
                                      Entries=[_resend_entry(str(i), m, source) for i, m in enumerate(messages)])
    sent = {int(s["Id"]) for s in response.get("Successful", [])}
    result.failed += len(messages) - len(sent)
    if sent:
        result.moved[source.name] = result.moved.get(source.name, 0) + len(sent)
        deleted = sqs.delete_message_batch(QueueUrl=dlq.url, Entries=[
            {"Id": str(i), "ReceiptHandle": messages[i]["ReceiptHandle"]} for i in sorted(sent)])
        result.not_deleted += len(deleted.get("Failed", []))
    return [m["ReceiptHandle"] for i, m in enumerate(messages) if i not in sent]


def _resend_entry(entry_id: str, message: dict[str, Any], source: Queue) -> dict[str, Any]:
    """The original body and message attributes (and trace header); FIFO keeps group and dedup ids."""
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": message["Body"]}
    attributes = {name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                  for name, value in (message.get("MessageAttributes") or {}).items()}
    if attributes:
        entry["MessageAttributes"] = attributes
    system = message.get("Attributes", {})
    if system.get("AWSTraceHeader"):
        entry["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": "String",
                                                               "StringValue": system["AWSTraceHeader"]}}
    if source.url.endswith(".fifo"):
        entry["MessageGroupId"] = system.get("MessageGroupId", "redrive")
        entry["MessageDeduplicationId"] = system.get("MessageDeduplicationId") or message["MessageId"]
    return entry


def _send_chunks(messages: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Ten a batch at most, and within SendMessageBatch's payload limit (a larger message goes alone)."""
    from shared.batching import chunks

    return chunks(messages, _BATCH, _SEND_BATCH_BYTES, lambda m: len(m["Body"].encode("utf-8")) + len(
        json.dumps(m.get("MessageAttributes") or {})))


# --------------------------------------------------------------------------- the command


def add_commands(sub: Any) -> None:
    dlq = sub.add_parser("dlq", help="dead-letter queues of a deployed stack: list, redrive")
    actions = dlq.add_subparsers(dest="action", required=True)
    for name, text in (("list", "every DLQ with its depth and, per message, id, detail-type, source, first receive"),
                       ("redrive", "move messages back to the queue they came from")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--stack-name", required=True, help="the deployed stack's name")
        action.add_argument("--endpoint-url", help="the stack's AWS endpoint (moto server, LocalStack; omit for AWS)")
        action.add_argument("--queue", help="only this DLQ (its logical id, e.g. EmailDLQ, or its source queue's)")


def command(args: argparse.Namespace) -> int:
    if args.endpoint_url:
        from infra.embedded import use_endpoint

        use_endpoint(args.endpoint_url)
    try:
        dlqs = select(dead_letter_queues(args.stack_name), args.queue)
    except DlqError as exc:
        print(f"dispatch dlq {args.action}: {exc}", file=sys.stderr)
        return 2
    if args.action == "list":
        print_listing(dlqs)
        return 0
    for d in dlqs:
        if not d.sources:
            print(f"{d.name}: not redriven: failed scheduled runs, kept for the record and the alarm; "
                  "the task runs again at its next schedule")
    results = [redrive(d) for d in dlqs if d.sources]
    for r in results:
        print(describe(r))
    moved = sum(sum(r.moved.values()) for r in results)
    stayed = sum(r.failed + r.unknown_source for r in results)
    print(f"redriven: {moved} messages from {len(results)} dead-letter queues, {stayed} left in place")
    return 0 if stayed == 0 else 1


# What a DLQ no queue redrives to receives (template.yaml's on-failure destinations); never redriven, only kept.
_ON_FAILURE_OF = {"ScheduledTasksDLQ": "scheduled runs", "LakeDLQ": "the lake's stream batches"}


def print_listing(dlqs: Sequence[DeadLetterQueue]) -> None:
    total = holding = 0
    for dlq in dlqs:
        letters = peek(dlq)
        in_flight = depth(dlq)[1]
        sources = ("for " + ", ".join(q.name for q in dlq.sources) if dlq.sources
                   else f"on-failure destination of {_ON_FAILURE_OF.get(dlq.name, 'failed invocations')}")
        busy = f", {in_flight} in flight" if in_flight else ""
        print(f"{dlq.name} ({sources}): {len(letters)} messages{busy}")
        for d in letters:
            first = d.first_received.strftime("%Y-%m-%dT%H:%M:%SZ") if d.first_received else "never received"
            print(f"  {d.message_id}  {d.detail_type:<20} from {d.source:<16} first received {first}  "
                  f"received {d.receive_count}x")
        total += len(letters)
        holding += bool(letters)
    print(f"{total} messages in {holding} of {len(dlqs)} dead-letter queues")


def describe(result: Redriven) -> str:
    moved = ", ".join(f"{n} moved to {q}" for q, n in sorted(result.moved.items())) or "nothing to move"
    notes = [f"{result.failed} not accepted by the source queue (left in the DLQ)"] if result.failed else []
    if result.unknown_source:
        notes.append(f"{result.unknown_source} of unknown source (left in the DLQ)")
    if result.not_deleted:
        notes.append(f"{result.not_deleted} sent but not deleted (will be delivered twice)")
    return f"{result.dlq}: {moved}" + (f"; {'; '.join(notes)}" if notes else "")
