"""Publishing events: a port the domain talks to, with an EventBridge adapter and an in-memory fake."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from shared.events import SOURCE, EventDetail, detail_type_of

PUT_EVENTS_MAX = 10
MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class Outgoing:
    detail: EventDetail
    time: datetime

    def entry(self, bus_name: str) -> dict[str, object]:
        return {
            "Source": SOURCE,
            "DetailType": detail_type_of(self.detail),
            "Detail": self.detail.model_dump_json(),
            "EventBusName": bus_name,
            "Time": self.time,
        }


class Publisher(Protocol):
    def publish(self, events: Sequence[Outgoing]) -> None: ...


class PublishError(RuntimeError):
    """Some events could not be put on the bus after retries."""


def put_entries(entries: Sequence[dict[str, object]]) -> dict[int, str]:
    """PutEvents by ten within 256 KB, failed entries retried; what still failed, by index: its ErrorCode.

    An entry over 256 KB raises EventTooLarge before anything is sent."""
    from shared.aws import client
    from shared.limits import put_events_batches

    events_client = client("events")
    failed: dict[int, str] = {}
    start = 0
    for batch in put_events_batches(entries, max_entries=PUT_EVENTS_MAX):
        pending = list(range(start, start + len(batch)))
        start += len(batch)
        codes: dict[int, str] = {}
        for _ in range(MAX_ATTEMPTS):
            response = events_client.put_events(Entries=[entries[i] for i in pending])
            codes = {i: str(out["ErrorCode"]) for i, out in zip(pending, response["Entries"], strict=True)
                     if out.get("ErrorCode")}
            pending = list(codes)
            if not pending:
                break
        failed.update(codes)
    return failed


class EventBridgePublisher:
    """PutEvents in batches of ten; failed entries are retried, then raised, never dropped."""

    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def publish(self, events: Sequence[Outgoing]) -> None:
        failed = put_entries([e.entry(self.bus_name) for e in events])
        if failed:
            codes = sorted(set(failed.values()))
            raise PublishError(f"{len(failed)} events not accepted by the bus: {', '.join(codes)}")


@dataclass
class InMemoryPublisher:
    """For unit tests: remembers what would have been published."""

    sent: list[Outgoing] = field(default_factory=list)

    def publish(self, events: Sequence[Outgoing]) -> None:
        self.sent.extend(events)

    def details(self) -> list[dict[str, object]]:
        return [json.loads(e.detail.model_dump_json()) for e in self.sent]
