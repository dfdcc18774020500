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


class EventBridgePublisher:
    """PutEvents in batches of ten; failed entries are retried, then raised, never dropped."""

    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def publish(self, events: Sequence[Outgoing]) -> None:
        from shared.aws import client
        from shared.limits import put_events_batches

        events_client = client("events")
        # Batches of ten within 256 KB; an entry over 256 KB raises EventTooLarge before anything is sent.
        for pending in put_events_batches([e.entry(self.bus_name) for e in events], max_entries=PUT_EVENTS_MAX):
            for _ in range(MAX_ATTEMPTS):
                response = events_client.put_events(Entries=pending)
                if not response.get("FailedEntryCount"):
                    break
                pending = [e for e, r in zip(pending, response["Entries"], strict=True) if r.get("ErrorCode")]
            else:
                codes = sorted({str(r.get("ErrorCode")) for r in response["Entries"] if r.get("ErrorCode")})
                raise PublishError(f"{len(pending)} events not accepted by the bus: {', '.join(codes)}")


@dataclass
class InMemoryPublisher:
    """For unit tests: remembers what would have been published."""

    sent: list[Outgoing] = field(default_factory=list)

    def publish(self, events: Sequence[Outgoing]) -> None:
        self.sent.extend(events)

    def details(self) -> list[dict[str, object]]:
        return [json.loads(e.detail.model_dump_json()) for e in self.sent]
