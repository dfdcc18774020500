"""Lambda entry point: ResponseReceived and ErasureRequested events, response/call-outcome file drops."""

from __future__ import annotations

from shared.events import ERASURE_REQUESTED, S3_SOURCE, ErasureRequested, ResponseReceived
from shared.handler import Envelope, lambda_handler, logger_for
from shared.settings import settings


def on_response(envelope: Envelope) -> None:
    from functions.responses.logic import apply_drop, apply_response
    from shared.campaign import campaign

    s = settings()
    if envelope.source == S3_SOURCE:
        from functions.ingest.logic import write_rejected

        bucket, key = envelope.detail["bucket"]["name"], envelope.detail["object"]["key"]
        _, rejected = apply_drop(s, campaign(), bucket, key)
        write_rejected(bucket, key, rejected)
        return
    if envelope.detail_type == ERASURE_REQUESTED:
        _erase(ErasureRequested.model_validate(envelope.detail), envelope)
        return
    apply_response(s, campaign(), ResponseReceived.model_validate(envelope.detail))


def _erase(request: ErasureRequested, envelope: Envelope) -> None:
    from shared.erasure import UnknownCustomer, erase_customer

    try:
        report = erase_customer(settings(), request.customer_id, envelope.time)
    except UnknownCustomer:
        # Not a retry case: nothing is kept under this id. Ids only in the log, never the person.
        logger_for("responses").warning("erasure of an unknown customer", extra={"customer_id": request.customer_id})
        return
    logger_for("responses").info("customer erased", extra={"customer_id": request.customer_id,
                                                           "rows_removed": report.rows_removed,
                                                           "files": len(report.files)})


handler = lambda_handler("responses", on_event=on_response)
