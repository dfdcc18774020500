"""Lambda entry point: S3 drop notifications (feed/, crm/) -> households and customers."""

from __future__ import annotations

from shared.bus import EventBridgePublisher
from shared.events import CRM_PREFIX, FEED_PREFIX
from shared.handler import Envelope, lambda_handler
from shared.settings import settings


def on_drop(envelope: Envelope) -> None:
    from functions.ingest.logic import dropped_object, ingest_drop, refuse_drop
    from shared.inputs import InputFileError

    drop = dropped_object(envelope.detail, (FEED_PREFIX, CRM_PREFIX))
    if drop is None:
        return
    bucket, key = drop
    s = settings()
    try:
        ingest_drop(s, bucket, key, envelope.time, EventBridgePublisher(s.event_bus_name))
    except InputFileError as exc:  # the file as a whole: retrying cannot help, the DLQ would only hide it
        refuse_drop(bucket, key, str(exc))
    except UnicodeDecodeError as exc:
        refuse_drop(bucket, key, f"s3://{bucket}/{key}:0: not UTF-8 (byte {exc.start + 1} of its chunk)")


handler = lambda_handler("ingest", on_event=on_drop)
