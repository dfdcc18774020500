"""The local runtime: plays Lambda's part on an AWS endpoint, on a simulated clock.

It polls each function's SQS queues with the template's batch size, invokes the handler in-process
with a Lambda-shaped SQS event, deletes what succeeded, returns what failed (`batchItemFailures`,
or the whole batch when the handler raises) for redelivery until `maxReceiveCount` moves it to the
dead-letter queue, and fires every schedule of the template on the simulated clock. Once the queues are
empty it reads each DynamoDB stream a function maps (its filters, batch size, retries, on-failure queue).
File drops are announced as S3 "Object Created" events stamped with that clock.

Time that passes in AWS between a failure and the redelivery (the queue's visibility timeout) passes here
too, for what measures it: a claim's lease (shared.dispatch) is wall-clock time since the claim, so when
failed messages go back to their queue, the claims their invocations left behind are aged by the
visibility timeout, as the claim would have aged in AWS by the time the message comes back.
A failed scheduled invocation is retried twice, as Lambda retries an asynchronous invocation.
With a `Chaos` (infra.chaos) the runtime also injects faults: duplicate deliveries, crashes, batch failures.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from infra.chaos import Chaos, SimulatedCrash
from infra.lambda_context import LambdaContext
from infra.provision import Stack
from infra.template import FunctionSpec, StreamSource, functions
from shared.aws import add_client_hook, client, remove_client_hook
from shared.clock import set_clock

# Same instant: responses take effect before anything else, then the flow in its natural order.
PRIORITY = ["ResponsesFunction", "IngestFunction", "SegmenterFunction", "OfferPickerFunction", "JourneyFunction",
            "EmailFunction", "SmsFunction", "PrintBatcherFunction", "CallListExporterFunction"]
ASYNC_RETRIES = 2  # Lambda retries a failed asynchronous invocation (EventBridge Scheduler's) twice
DEFAULT_VISIBILITY_TIMEOUT = 30
CLAIM_STAMP = "claimed_epoch"  # the wall-clock stamp a claim's lease is measured from (shared.dispatch)
SCHEDULED_TASKS_DLQ = "ScheduledTasksDLQ"  # the scheduled functions' on-failure destination (template.yaml)
COPY_ATTRIBUTE = "chaos-duplicate"  # marks a duplicate delivery the runtime sent itself
Claim = tuple[str, str, str]  # table, household_id, sk


@dataclass
class Stats:
    invocations: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    failed_messages: int = 0
    handler_errors: int = 0
    schedule_firings: int = 0
    schedule_skips: int = 0
    schedule_retries: int = 0
    schedule_dropped: int = 0  # failed on every attempt
    crashes: int = 0
    claims_aged: int = 0

    def count(self, function: str) -> None:
        self.invocations[function] = self.invocations.get(function, 0) + 1


@dataclass
class StreamReader:
    """Where an event source mapping is in its table's stream (one shard per table in the emulator)."""

    function: FunctionSpec
    source: StreamSource
    arn: str
    iterators: list[str]
    patterns: list[Any]


@dataclass
class ScheduledTask:
    function: FunctionSpec
    name: str
    next_at: Callable[[datetime], datetime]
    input: dict[str, Any]
    due: datetime | None = None
    idle_until: datetime | None = None  # the function said: nothing for me before then ...
    idle_activity: int = -1  # ... as long as nothing else has happened since


class LocalRuntime:
    def __init__(self, stack: Stack, on_error: Callable[[str, BaseException], None] | None = None,
                 env_overrides: dict[str, str] | None = None, chaos: Chaos | None = None) -> None:
        self.stack = stack
        self.specs = sorted(functions(stack.template),
                            key=lambda f: PRIORITY.index(f.logical_id) if f.logical_id in PRIORITY else 99)
        self.env: dict[str, str] = {}
        for spec in self.specs:
            self.env.update(stack.environment(spec.environment))
        self.handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
        self.stats = Stats()
        self.activity = 0
        self.dirty = True
        self.now = datetime(1970, 1, 1, tzinfo=UTC)
        self.on_error = on_error
        self.errors: list[str] = []
        self._pool = ThreadPoolExecutor(max_workers=8)
        self._lock = threading.Lock()
        self.tasks = [ScheduledTask(spec, s.name, _next_fire(stack.resolve(s.expression),
                                                             ZoneInfo(stack.resolve(s.timezone))), s.input)
                      for spec in self.specs for s in spec.schedules]
        os.environ.update(self.env)
        # Athena on an emulator answers no rows: the report function runs the same queries on DuckDB here.
        os.environ["LAKE_ENGINE"] = "duckdb"
        os.environ.update(env_overrides or {})
        self.visibility = {q: int(self.stack.template["Resources"][q].get("Properties", {}).get(
            "VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT)) for q in self.stack.queue_urls}
        self._invoking: int | None = None  # the thread of the invocation under way
        self._claims: list[Claim] = []  # claims the invocation under way wrote
        self._claims_of: dict[tuple[str, str], set[Claim]] = {}  # (queue, body) -> claims its invocations wrote
        self._seen: dict[tuple[str, str], int] = {}  # (queue, body) -> messages with that body so far
        self._keys: dict[str, str] = {}  # message id -> a key that is the same in every run of the same inputs
        self.chaos = chaos
        self.streams = self._stream_readers()
        self.table_writes = 1  # DynamoDB writes seen (a first read of the streams is always due) ...
        self.streams_read_at = 0  # ... and how many of them the last read of the streams followed
        set_clock(lambda: self.now)  # effects happen on the simulated clock (shared.clock)
        add_client_hook(self._watch)
        if chaos is not None:
            chaos.queue_names = {url: logical for logical, url in stack.queue_urls.items()}
            add_client_hook(chaos.install)

    # ------------------------------------------------------------------ Lambda's part
    def handler(self, spec: FunctionSpec) -> Callable[[dict[str, Any], Any], Any]:
        if spec.logical_id not in self.handlers:
            module_name, attribute = spec.handler.rsplit(".", 1)
            self.handlers[spec.logical_id] = getattr(importlib.import_module(module_name), attribute)
        return self.handlers[spec.logical_id]

    def invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> Any:
        self.stats.count(spec.logical_id)
        return self.handler(spec)(event, LambdaContext(spec.logical_id))

    def _watch(self, created: Any) -> None:
        """Queues can only fill through these calls: poll again only after one of them."""
        for name in ("after-call.events.PutEvents", "after-call.sqs.SendMessage", "after-call.sqs.SendMessageBatch",
                     "after-call.sqs.ChangeMessageVisibilityBatch"):
            created.meta.events.register(name, self._mark_dirty)
        for operation in ("TransactWriteItems", "PutItem", "BatchWriteItem"):
            created.meta.events.register(f"before-parameter-build.dynamodb.{operation}", self._note_claims)
        # Streams can only grow through these: read them again only after one of them.
        for operation in ("TransactWriteItems", "PutItem", "BatchWriteItem", "UpdateItem", "DeleteItem"):
            created.meta.events.register(f"after-call.dynamodb.{operation}", self._note_table_write)

    def _note_claims(self, params: dict[str, Any], **_: Any) -> None:
        """Remember the claims an invocation writes (items stamped for a lease), to age them on redelivery."""
        if self._invoking != threading.get_ident():
            return
        items = [(p["Put"]["TableName"], p["Put"]["Item"]) for p in params.get("TransactItems", []) if "Put" in p]
        if "Item" in params:
            items.append((params.get("TableName", ""), params["Item"]))
        for table, requests in (params.get("RequestItems") or {}).items():
            items += [(table, r["PutRequest"]["Item"]) for r in requests if "PutRequest" in r]
        for table, item in items:
            if CLAIM_STAMP in item and item.get("status", {}).get("S") == "claimed" and "sk" in item \
                    and "household_id" in item:
                self._claims.append((table, str(item["household_id"].get("S")), str(item["sk"].get("S"))))

    def _run_invocation(self, spec: FunctionSpec, event: dict[str, Any]) -> Any:
        self._invoking = threading.get_ident()
        try:
            return self.invoke(spec, event)
        finally:
            self._invoking = None

    def _mark_dirty(self, **_: Any) -> None:
        self.dirty = True

    def _note_table_write(self, **_: Any) -> None:
        self.table_writes += 1

    def mark_dirty(self) -> None:
        self.dirty = True

    def drain(self, max_passes: int = 10_000) -> None:
        """Deliver until every queue is empty (or only holds messages on their way to a DLQ), then what the
        tables' streams hold for the functions that read them (a scheduled task may have written to a table
        without sending a message)."""
        if not self.dirty:
            self._poll_streams_if_written()
            if not self.dirty:
                return
        for _ in range(max_passes):
            self.dirty = False
            sources = [(spec, q) for spec in self.specs for q in spec.queues]
            batches = list(self._pool.map(lambda sq: self._receive(sq[1].queue, sq[1].batch_size), sources))
            delivered = False
            for (spec, source), messages in zip(sources, batches, strict=True):
                if messages:
                    delivered = True
                    self._deliver(spec, source.queue, messages)
            if not delivered and not self.dirty:
                self._poll_streams_if_written()
                if not self.dirty:
                    return
        raise RuntimeError("queues did not drain: a message loop?")

    # ------------------------------------------------------------------ DynamoDB streams
    def _stream_readers(self) -> list[StreamReader]:
        from moto.events.models import EventPattern  # the emulator's own event-pattern matcher

        readers = []
        for spec in self.specs:
            for source in spec.streams:
                arn = self.stack.attrs[(source.table, "StreamArn")]
                streams = client("dynamodbstreams")
                shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
                iterators = [streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                             for shard in shards]
                readers.append(StreamReader(spec, source, arn, iterators,
                                            [EventPattern.load(p) for p in source.filters]))
        return readers

    def _poll_streams_if_written(self) -> None:
        if self.streams and self.table_writes != self.streams_read_at:
            self.streams_read_at = self.table_writes
            self.poll_streams()

    def poll_streams(self) -> int:
        """Invoke each stream's function with what its stream holds that its filters let through, in batches of
        its mapping's size; a batch that fails every retry is recorded on its on-failure queue. The records read."""
        read = 0
        for reader in self.streams:
            for index, iterator in enumerate(reader.iterators):
                while iterator:
                    response = client("dynamodbstreams").get_records(ShardIterator=iterator, Limit=1000)
                    iterator = response.get("NextShardIterator") or ""
                    reader.iterators[index] = iterator
                    records = [self._stream_record(r, reader.arn) for r in response.get("Records", [])]
                    if not records:
                        break
                    read += len(records)
                    wanted = [r for r in records if not reader.patterns or
                              any(p.matches_event(r) for p in reader.patterns)]
                    for start in range(0, len(wanted), reader.source.batch_size):
                        self._deliver_stream(reader, wanted[start:start + reader.source.batch_size])
        return read

    def _stream_record(self, record: dict[str, Any], arn: str) -> dict[str, Any]:
        """boto3's stream record in the shape Lambda hands a function (epoch seconds, the stream's ARN)."""
        stream = dict(record.get("dynamodb") or {})
        created = stream.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            stream["ApproximateCreationDateTime"] = created.timestamp()
        return {**record, "dynamodb": stream, "eventSourceARN": arn, "awsRegion": self.stack.region}

    def _deliver_stream(self, reader: StreamReader, batch: list[dict[str, Any]]) -> None:
        attempts = 1 + (reader.source.max_retries if reader.source.max_retries >= 0 else 2)
        self.activity += 1
        for _ in range(attempts):
            try:
                self._run_invocation(reader.function, {"Records": batch})
                return
            except Exception as exc:
                self.stats.handler_errors += 1
                failure = exc
        self._report(reader.function.logical_id, failure)
        url = self.stack.queue_urls.get(reader.source.on_failure or "")
        if url is not None:  # what Lambda records: the batch's place in the stream, not its data
            stream = [r["dynamodb"] for r in batch]
            client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({
                "requestContext": {"functionArn": reader.function.logical_id, "condition": "RetryAttemptsExhausted",
                                   "approximateInvokeCount": attempts},
                "DDBStreamBatchInfo": {"streamArn": reader.arn, "batchSize": len(batch),
                                       "startSequenceNumber": stream[0].get("SequenceNumber"),
                                       "endSequenceNumber": stream[-1].get("SequenceNumber")}}))

    def _receive(self, queue: str, batch_size: int) -> list[dict[str, Any]]:
        response = client("sqs").receive_message(
            QueueUrl=self.stack.queue_urls[queue], MaxNumberOfMessages=min(batch_size, 10),
            AttributeNames=["All"], MessageAttributeNames=["All"])
        return list(response.get("Messages", []))

    def _deliver(self, spec: FunctionSpec, queue: str, messages: list[dict[str, Any]]) -> None:
        arn = self.stack.attrs[(queue, "Arn")]
        keys = [self._key(queue, m) for m in messages]
        records = [self._record(m, arn) for m in messages]
        later = self._duplicates(messages, keys, records, arn)
        self.stats.messages += len(records)
        self.activity += 1
        invocation = "|".join(f"{key}#{_receive_count(m)}" for m, key in zip(messages, keys, strict=True))
        self._claims = []
        failed = self._invoke_batch(spec, records, invocation, [m["MessageId"] for m in messages])
        written, self._claims = self._claims, []
        for m in messages if written else ():
            self._claims_of.setdefault(self._body(queue, m), set()).update(written)
        self.stats.failed_messages += len(failed)
        sqs = client("sqs")
        url = self.stack.queue_urls[queue]
        done = [m for m in messages if m["MessageId"] not in failed]
        retry = [m for m in messages if m["MessageId"] in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
            if self.chaos is not None:
                self.chaos.mark_completed(m["MessageId"] for m in done)
        if retry:
            # The visibility timeout passes before they come back: for the claims they left, too.
            self._age_claims(queue, retry)
            # On the simulated clock the visibility timeout has passed by the next poll: make them visible now.
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(retry)])
            self.dirty = True
        for m in later:  # the same message again, in a later batch
            sent = sqs.send_message(QueueUrl=url, MessageBody=m["Body"], MessageAttributes={
                COPY_ATTRIBUTE: {"DataType": "String", "StringValue": m["MessageId"]}})
            if self.chaos is not None:
                self.chaos.record("duplicate_later_batch", [sent["MessageId"]])
            self.dirty = True

    def _duplicates(self, messages: list[dict[str, Any]], keys: list[str], records: list[dict[str, Any]],
                    arn: str) -> list[dict[str, Any]]:
        """Chaos: messages delivered twice, in this batch (added to `records`) or later (returned)."""
        later: list[dict[str, Any]] = []
        if self.chaos is None:
            return later
        for m, key in zip(messages, keys, strict=True):
            if COPY_ATTRIBUTE in (m.get("MessageAttributes") or {}):
                continue  # a duplicate is not duplicated again
            where = self.chaos.duplicate(key, _receive_count(m))
            if where == "same":  # delivered twice in this batch: the same message, the same id
                records.append(self._record(m, arn))
                self.chaos.record("duplicate_same_batch", [m["MessageId"]])
            elif where == "later":
                later.append(m)
        return later

    def _invoke_batch(self, spec: FunctionSpec, records: list[dict[str, Any]], invocation: str,
                      units: list[str]) -> set[str]:
        """Invoke the handler with a batch; the message ids that failed (all of them when the invocation did)."""
        everything = {r["messageId"] for r in records}
        chaos = self.chaos
        plan = chaos.begin(spec.logical_id, invocation, len(records), True, units) if chaos is not None else None
        try:
            if chaos is not None and plan is not None and plan.failure == "batch_failure" and plan.before_handler:
                chaos.fail_batch(plan)  # the invocation failed before the handler ran (init error, timeout)
                return everything
            result = self._run_invocation(spec, {"Records": records}) or {}
            if chaos is not None and plan is not None:
                if plan.failure == "batch_failure":
                    chaos.fail_batch(plan)  # the work was done, the answer lost (a timeout at the end)
                    return everything
                if chaos.crash_at_end(plan):
                    raise SimulatedCrash(f"{spec.logical_id}: died after its last effect")
            return {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except SimulatedCrash:
            self.stats.crashes += 1
            return everything
        except Exception as exc:
            self.stats.handler_errors += 1
            if plan is None or not plan.triggered:
                self._report(spec.logical_id, exc)
            return everything
        finally:
            if chaos is not None:
                chaos.end()

    def _record(self, m: dict[str, Any], arn: str) -> dict[str, Any]:
        return {
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
            "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": self.stack.region,
        }

    def _key(self, queue: str, m: dict[str, Any]) -> str:
        """The message by what it carries (its queue, its event without the random id, how many came
        before with the same), so that a run of the same inputs gives it the same key, and the same faults."""
        found = self._keys.get(m["MessageId"])
        if found is None:
            body = self._body(queue, m)
            self._seen[body] = self._seen.get(body, 0) + 1
            found = self._keys[m["MessageId"]] = f"{queue}:{body[1]}:{self._seen[body]}"
        return found

    def _body(self, queue: str, m: dict[str, Any]) -> tuple[str, str]:
        return _body_of(queue, m, self.stack.name)

    def _age_claims(self, queue: str, messages: list[dict[str, Any]]) -> None:
        """The claims left by earlier deliveries of these messages, older by the queue's visibility timeout.

        A claim still `claimed` now was written by an invocation that is over (one runs at a time here):
        in AWS it is the visibility timeout older when the message comes back; the lease decides the rest."""
        claims: set[Claim] = set().union(*(self._claims_of.get(self._body(queue, m), set()) for m in messages))
        seconds = self.visibility.get(queue, DEFAULT_VISIBILITY_TIMEOUT)
        ddb = client("dynamodb")
        for table, household_id, sk in sorted(claims):
            try:
                ddb.update_item(TableName=table, Key={"household_id": {"S": household_id}, "sk": {"S": sk}},
                                UpdateExpression="SET #stamp = #stamp - :age", ConditionExpression="#status = :claimed",
                                ExpressionAttributeNames={"#stamp": CLAIM_STAMP, "#status": "status"},
                                ExpressionAttributeValues={":age": {"N": str(seconds)}, ":claimed": {"S": "claimed"}})
                self.stats.claims_aged += 1
            except ddb.exceptions.ConditionalCheckFailedException:
                continue  # confirmed, reported ambiguous or failed since: nothing to age

    def _report(self, function: str, exc: BaseException) -> None:
        message = f"{function}: {type(exc).__name__}: {exc}"
        self.errors.append(message)
        if self.on_error:
            self.on_error(function, exc)

    # ------------------------------------------------------------------ the clock
    def start_clock(self, start: datetime) -> None:
        self.now = start
        for task in self.tasks:
            task.due = task.next_at(start - timedelta(seconds=1))

    def first_firing(self, at: datetime) -> datetime | None:
        """The first scheduled firing at or after `at` (whether or not the task will have work then)."""
        firings = [t.next_at(at - timedelta(microseconds=1)) for t in self.tasks]
        return min(firings) if firings else None

    def next_schedule(self) -> datetime | None:
        dues = [t.due for t in self.tasks if t.due is not None]
        return min(dues) if dues else None

    def fire_due(self, until: datetime) -> None:
        """Fire every schedule due at or before `until`, in time order, draining after each."""
        while True:
            due = [t for t in self.tasks if t.due is not None and t.due <= until]
            if not due:
                return
            task = min(due, key=lambda t: (t.due, self.specs.index(t.function)))
            assert task.due is not None
            self.now = task.due
            if task.idle_until is not None and task.idle_activity == self.activity and task.due < task.idle_until:
                self.stats.schedule_skips += 1  # provably nothing to do: the same state, nothing due yet
                task.due = task.next_at(task.due)
                continue
            event = {k: (v.replace("<aws.scheduler.scheduled-time>", _iso(task.due)) if isinstance(v, str) else v)
                     for k, v in task.input.items()}
            self.stats.schedule_firings += 1
            firing = f"{task.function.logical_id}:{task.name}:{_iso(task.due)}"
            result: Any = None
            for attempt in range(1 + ASYNC_RETRIES):
                self.activity += 1
                self.stats.schedule_retries += attempt > 0
                ok, result = self._fire(task, event, f"{firing}#{attempt}", firing)
                self.drain()  # what the attempt sent goes on while Lambda waits to retry (1 and 2 minutes)
                if ok:
                    break
            else:
                self.stats.schedule_dropped += 1
                self._on_failure(task, event)
            task.due = task.next_at(task.due)
            self._remember_idle(task, result)

    def _on_failure(self, task: ScheduledTask, event: dict[str, Any]) -> None:
        """Lambda's on-failure destination of an asynchronous invocation whose retries ran out (the template's
        ScheduledTasksDLQ): a record of the request, so a failed scheduled run is never lost in silence."""
        url = self.stack.queue_urls.get(SCHEDULED_TASKS_DLQ)
        if url is None:
            return
        record = {"version": "1.0", "timestamp": _iso(self.now),
                  "requestContext": {"functionArn": task.function.logical_id, "condition": "RetriesExhausted",
                                     "approximateInvokeCount": 1 + ASYNC_RETRIES},
                  "requestPayload": event, "responseContext": {"functionError": "Unhandled"}}
        client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record))

    def _fire(self, task: ScheduledTask, event: dict[str, Any], key: str, firing: str) -> tuple[bool, Any]:
        """One attempt of a scheduled (asynchronous) invocation: whether it succeeded, and its result."""
        chaos = self.chaos
        plan = chaos.begin(task.function.logical_id, key, 1, False, [firing]) if chaos is not None else None
        try:
            if chaos is not None and plan is not None and plan.failure == "batch_failure" and plan.before_handler:
                chaos.fail_batch(plan)
                return False, None
            result = self._run_invocation(task.function, event)
            if chaos is not None and plan is not None and plan.failure == "batch_failure":
                chaos.fail_batch(plan)
                return False, None
        except SimulatedCrash:
            self.stats.crashes += 1
            return False, None
        except Exception as exc:
            if plan is None or not plan.triggered:
                self._report(task.function.logical_id, exc)
            return False, None
        finally:
            if chaos is not None:
                chaos.end()
        if chaos is not None:
            chaos.mark_completed([firing])
        return True, result

    def _remember_idle(self, task: ScheduledTask, result: Any) -> None:
        hint = ((result or {}).get("result") or {}) if isinstance(result, dict) else {}
        idle = hint.get("idle_until") if isinstance(hint, dict) else None
        task.idle_until = datetime.fromisoformat(idle) if idle else (datetime.max.replace(tzinfo=UTC)
                                                                     if isinstance(hint, dict) and "idle_until" in hint
                                                                     else None)
        task.idle_activity = self.activity

    def drop(self, bucket: str, key: str, body: bytes, at: datetime) -> None:
        """Put a file and announce it as S3 would, at the simulated time."""
        client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        detail = {"version": "0", "bucket": {"name": bucket},
                  "object": {"key": key, "size": len(body)}, "reason": "PutObject"}
        response = client("events").put_events(Entries=[{
            "Source": "aws.s3", "DetailType": "Object Created", "Detail": json.dumps(detail),
            "Resources": [f"arn:aws:s3:::{bucket}"], "Time": at}])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"could not announce s3://{bucket}/{key}: {response['Entries']}")
        self.now = at
        self.activity += 1
        self.dirty = True

    def dlq_depths(self) -> dict[str, int]:
        sqs = client("sqs")
        depths = {}
        on_failure = {r.source.on_failure for r in self.streams if r.source.on_failure}
        if SCHEDULED_TASKS_DLQ in self.stack.queue_urls:
            on_failure.add(SCHEDULED_TASKS_DLQ)
        for dlq in sorted({*self.stack.dlq_of.values(), *on_failure}):
            attributes = sqs.get_queue_attributes(QueueUrl=self.stack.queue_urls[dlq],
                                                  AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
            depths[dlq] = int(attributes["ApproximateNumberOfMessages"])
        return depths

    def close(self) -> None:
        set_clock(None)
        remove_client_hook(self._watch)
        if self.chaos is not None:
            remove_client_hook(self.chaos.install)
        self._pool.shutdown(wait=False)


def _receive_count(m: dict[str, Any]) -> int:
    return int((m.get("Attributes") or {}).get("ApproximateReceiveCount", 1))


def _body_of(queue: str, m: dict[str, Any], stack_name: str = "") -> tuple[str, str]:
    """(queue, a digest of the event without its random id and with the stack's name taken out)."""
    body = m["Body"]
    try:
        event = json.loads(body)
        if isinstance(event, dict):
            event.pop("id", None)
            body = json.dumps(event, sort_keys=True)
    except ValueError:
        pass
    if stack_name:
        body = body.replace(stack_name, "<stack>").replace(stack_name.lower(), "<stack>")
    return queue, hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _next_fire(expression: str, tz: ZoneInfo) -> Callable[[datetime], datetime]:
    """The next firing strictly after a time, for `rate(...)` and AWS `cron(...)` expressions."""
    expression = expression.strip()
    if expression.startswith("rate(") and expression.endswith(")"):
        amount, unit = expression[5:-1].split()
        seconds = int(amount) * {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400,
                                 "days": 86400}[unit]
        step = timedelta(seconds=seconds)

        def next_rate(after: datetime) -> datetime:
            epoch = datetime(2000, 1, 1, tzinfo=UTC)
            return epoch + step * ((after - epoch) // step + 1)

        return next_rate
    if expression.startswith("cron(") and expression.endswith(")"):
        from croniter import croniter

        fields = expression[5:-1].split()
        if len(fields) != 6:
            raise ValueError(f"schedule {expression!r}: AWS cron needs 6 fields")
        minute, hour, dom, month, dow, _year = fields
        unix = " ".join([minute, hour, "*" if dom == "?" else dom, month, "*" if dow == "?" else dow])

        def next_cron(after: datetime) -> datetime:
            local = after.astimezone(tz)
            return croniter(unix, local).get_next(datetime).astimezone(UTC)

        return next_cron
    raise ValueError(f"schedule expression {expression!r}: expected rate(...) or cron(...)")
