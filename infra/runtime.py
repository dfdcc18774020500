"""The local runtime: plays Lambda's part on an AWS endpoint, on a simulated clock.

It polls each function's SQS queues with the template's batch size, invokes the handler in-process
with a Lambda-shaped SQS event, deletes what succeeded, returns what failed (`batchItemFailures`,
or the whole batch when the handler raises) for redelivery until `maxReceiveCount` moves it to the
dead-letter queue, and fires every schedule of the template on the simulated clock. File drops are
announced as S3 "Object Created" events stamped with that clock.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from infra.provision import Stack
from infra.template import FunctionSpec, functions
from shared.aws import add_client_hook, client, remove_client_hook

# Same instant: responses take effect before anything else, then the flow in its natural order.
PRIORITY = ["ResponsesFunction", "IngestFunction", "SegmenterFunction", "OfferPickerFunction", "JourneyFunction",
            "EmailFunction", "SmsFunction", "PrintBatcherFunction", "CallListExporterFunction"]


@dataclass
class Stats:
    invocations: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    failed_messages: int = 0
    handler_errors: int = 0
    schedule_firings: int = 0
    schedule_skips: int = 0

    def count(self, function: str) -> None:
        self.invocations[function] = self.invocations.get(function, 0) + 1


class _Context:
    """Just enough of the Lambda context object for Powertools."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:local:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


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
                 env_overrides: dict[str, str] | None = None) -> None:
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
        os.environ.update(env_overrides or {})
        add_client_hook(self._watch)

    # ------------------------------------------------------------------ Lambda's part
    def handler(self, spec: FunctionSpec) -> Callable[[dict[str, Any], Any], Any]:
        if spec.logical_id not in self.handlers:
            module_name, attribute = spec.handler.rsplit(".", 1)
            self.handlers[spec.logical_id] = getattr(importlib.import_module(module_name), attribute)
        return self.handlers[spec.logical_id]

    def invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> Any:
        self.stats.count(spec.logical_id)
        return self.handler(spec)(event, _Context(spec.logical_id))

    def _watch(self, created: Any) -> None:
        """Queues can only fill through these calls: poll again only after one of them."""
        for name in ("after-call.events.PutEvents", "after-call.sqs.SendMessage", "after-call.sqs.SendMessageBatch",
                     "after-call.sqs.ChangeMessageVisibilityBatch"):
            created.meta.events.register(name, self._mark_dirty)

    def _mark_dirty(self, **_: Any) -> None:
        self.dirty = True

    def mark_dirty(self) -> None:
        self.dirty = True

    def drain(self, max_passes: int = 10_000) -> None:
        """Deliver until every queue is empty (or only holds messages on their way to a DLQ)."""
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
                return
        raise RuntimeError("queues did not drain: a message loop?")

    def _receive(self, queue: str, batch_size: int) -> list[dict[str, Any]]:
        response = client("sqs").receive_message(
            QueueUrl=self.stack.queue_urls[queue], MaxNumberOfMessages=min(batch_size, 10),
            AttributeNames=["All"], MessageAttributeNames=["All"])
        return list(response.get("Messages", []))

    def _deliver(self, spec: FunctionSpec, queue: str, messages: list[dict[str, Any]]) -> None:
        arn = self.stack.attrs[(queue, "Arn")]
        records = [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
            "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": self.stack.region,
        } for m in messages]
        self.stats.messages += len(records)
        self.activity += 1
        try:
            result = self.invoke(spec, {"Records": records}) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception as exc:
            self.stats.handler_errors += 1
            self._report(spec.logical_id, exc)
            failed = {r["messageId"] for r in records}
        self.stats.failed_messages += len(failed)
        sqs = client("sqs")
        url = self.stack.queue_urls[queue]
        done = [m for m in messages if m["MessageId"] not in failed]
        retry = [m for m in messages if m["MessageId"] in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        if retry:
            # On the simulated clock the visibility timeout has passed by the next poll: make them visible now.
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(retry)])
            self.dirty = True

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
            self.activity += 1
            result: Any = None
            try:
                result = self.invoke(task.function, event)
            except Exception as exc:
                self._report(task.function.logical_id, exc)
            task.due = task.next_at(task.due)
            self.drain()
            self._remember_idle(task, result)

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
        for _queue, dlq in self.stack.dlq_of.items():
            attributes = sqs.get_queue_attributes(QueueUrl=self.stack.queue_urls[dlq],
                                                  AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
            depths[dlq] = int(attributes["ApproximateNumberOfMessages"])
        return depths

    def close(self) -> None:
        remove_client_hook(self._watch)
        self._pool.shutdown(wait=False)


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
