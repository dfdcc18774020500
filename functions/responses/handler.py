"""Lambda entry point: ResponseReceived events and response/call-outcome file drops."""

from __future__ import annotations

from shared.campaign import campaign
from shared.events import S3_SOURCE, ResponseReceived
from shared.handler import Envelope, lambda_handler
from shared.settings import settings


def on_response(envelope: Envelope) -> None:
    from functions.responses.logic import apply_drop, apply_response

    s = settings()
    if envelope.source == S3_SOURCE:
        from functions.ingest.logic import write_rejected

        bucket, key = envelope.detail["bucket"]["name"], envelope.detail["object"]["key"]
        _, rejected = apply_drop(s, campaign(), bucket, key)
        write_rejected(bucket, key, rejected)
        return
    apply_response(s, campaign(), ResponseReceived.model_validate(envelope.detail))


handler = lambda_handler("responses", on_event=on_response)
