"""What every Lambda handler needs, written once: the event envelope, the SQS batch loop with
partial batch responses, scheduled tasks, a logger that never sees personal data, and the business
metrics (`shared.metrics`) written once per invocation."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.stores.records import parse_time

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class Envelope:
    """An EventBridge event as delivered through SQS: its name, its time ("now") and its detail."""

    source: str
    detail_type: str
    time: datetime
    detail: dict[str, Any]

    @classmethod
    def from_body(cls, body: str) -> Envelope:
        event = json.loads(body)
        if event.get("Type") == "Notification" and "TopicArn" in event:
            return cls._from_sns(event)
        return cls(
            source=event["source"],
            detail_type=event["detail-type"],
            time=parse_time(event["time"]),
            detail=event.get("detail") or {},
        )

    @classmethod
    def _from_sns(cls, notification: dict[str, Any]) -> Envelope:
        """An SNS notification delivered to a queue (an SMS reply): its message as the detail, its time as now."""
        from shared.events import SNS_NOTIFICATION, SNS_SOURCE

        try:
            message = json.loads(notification.get("Message") or "{}")
        except json.JSONDecodeError:
            message = {"message": notification.get("Message")}
        return cls(source=SNS_SOURCE, detail_type=SNS_NOTIFICATION, time=parse_time(notification["Timestamp"]),
                   detail=message if isinstance(message, dict) else {"message": message})


def logger_for(service: str) -> Logger:
    return Logger(service=service, log_uncaught_exceptions=True)


def lambda_handler(
    service: str,
    on_event: Callable[[Envelope], None] | None = None,
    tasks: Mapping[str, Callable[[datetime], Any]] | None = None,
    prepare: Callable[[Sequence[Envelope]], None] | None = None,
) -> LambdaHandler:
    """A handler for SQS batches of bus events, for scheduled tasks, or both (routed by shape).

    Each SQS batch gets an `Outbox` (shared.batching): what the records write and publish through
    it is sent once for the whole batch. `prepare` sees the batch's envelopes first (to read what
    all records need in one request); if it fails, each record reads its own.
    """
    logger = logger_for(service)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from shared.metrics import collecting

        with collecting():
            return route(event, context)

    def route(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if "Records" in event:
            if on_event is None:
                raise ValueError(f"{service} does not consume queue messages")
            return _process_batch(event, context, on_event, logger, prepare)
        task = str(event.get("task", ""))
        if tasks is None or task not in tasks:
            raise ValueError(f"{service}: unknown scheduled task {task!r}")
        now = parse_time(str(event["scheduled_time"]))
        logger.info("scheduled task", extra={"task": task, "scheduled_time": now.isoformat()})
        result = tasks[task](now)
        return {"task": task, "result": result}

    return handler


def _process_batch(
    event: dict[str, Any], context: Any, on_event: Callable[[Envelope], None], logger: Logger,
    prepare: Callable[[Sequence[Envelope]], None] | None,
) -> dict[str, Any]:
    from shared.batching import Outbox, using_outbox

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    outbox = Outbox()
    positions = itertools.count()

    def record_handler(record: SQSRecord) -> None:
        envelope = Envelope.from_body(record.body)
        logger.debug("event", extra={"detail_type": envelope.detail_type, "message_id": record.message_id})
        # By position: the same message twice in one batch (SQS delivers at least once) are two records,
        # and the second one failing must not take the first one's effects with it.
        key = f"{record.message_id}#{next(positions)}"
        outbox.begin(key)
        try:
            on_event(envelope)
        except Exception as exc:
            outbox.discard(key)
            # The type and our own message only: a provider's message could quote an address.
            logger.warning("record failed", extra={"detail_type": envelope.detail_type,
                                                   "message_id": record.message_id, "error": type(exc).__name__},
                           exc_info=logger.log_level <= 10)  # tracebacks only when debugging
            raise

    with using_outbox(outbox):
        if prepare is not None:
            _prepare(event, prepare, logger)
        response: dict[str, Any] = dict(process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context))
        flushed = outbox.flush()
    failures: list[dict[str, str]] = list(response.get("batchItemFailures", []))
    known = {f["itemIdentifier"] for f in failures}
    for message_id in sorted({key.rsplit("#", 1)[0] for key in flushed.failed} - known):
        logger.warning("record's writes or events not sent", extra={"message_id": message_id})
        failures.append({"itemIdentifier": message_id})
    response["batchItemFailures"] = failures
    return response


def _prepare(event: dict[str, Any], prepare: Callable[[Sequence[Envelope]], None], logger: Logger) -> None:
    try:
        prepare([Envelope.from_body(r["body"]) for r in event["Records"]])
    except Exception as exc:  # only an optimisation: each record reads what it needs on its own
        logger.warning("batch read ahead failed", extra={"error": type(exc).__name__})


def read_contexts_ahead(envelopes: Sequence[Envelope]) -> None:
    """The channel functions' `prepare`: what the contact gate needs for the whole batch, read at once."""
    from shared.dispatch import read_ahead

    read_ahead(envelopes)
