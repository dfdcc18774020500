"""Lambda entry point: S3 drop notifications (feed/, crm/) -> households and customers."""

from __future__ import annotations

from shared.bus import EventBridgePublisher
from shared.handler import Envelope, lambda_handler
from shared.settings import settings


def on_drop(envelope: Envelope) -> None:
    from functions.ingest.logic import ingest_drop

    s = settings()
    detail = envelope.detail
    ingest_drop(s, detail["bucket"]["name"], detail["object"]["key"], envelope.time,
                EventBridgePublisher(s.event_bus_name))


handler = lambda_handler("ingest", on_event=on_drop)
