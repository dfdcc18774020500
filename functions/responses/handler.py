"""Lambda entry point: ResponseReceived and ErasureRequested events, response/call-outcome file drops, and AWS's
feedback (SES bounces and complaints, SMS replies)."""

from __future__ import annotations

from shared.events import (
    CALL_OUTCOMES_PREFIX,
    ERASURE_REQUESTED,
    RESPONSES_PREFIX,
    S3_SOURCE,
    SES_SOURCE,
    SNS_SOURCE,
    ErasureRequested,
    ResponseReceived,
)
from shared.handler import Envelope, lambda_handler, logger_for
from shared.settings import settings


def on_response(envelope: Envelope) -> None:
    from functions.responses.logic import apply_response
    from shared.campaign import campaign

    s = settings()
    if envelope.source == S3_SOURCE:
        _apply_file(envelope)
        return
    if envelope.source in (SES_SOURCE, SNS_SOURCE):
        _apply_feedback(envelope)
        return
    if envelope.detail_type == ERASURE_REQUESTED:
        _erase(ErasureRequested.model_validate(envelope.detail), envelope)
        return
    apply_response(s, campaign(), ResponseReceived.model_validate(envelope.detail))


def _apply_file(envelope: Envelope) -> None:
    """A responses file or call-centre upload: keys decoded as S3 sends them, folders and strangers ignored,
    a file unusable as a whole set aside with its reason (never retried into the DLQ)."""
    from functions.ingest.logic import dropped_object, refuse_drop, write_rejected
    from functions.responses.logic import apply_drop
    from shared.campaign import campaign
    from shared.inputs import InputFileError

    drop = dropped_object(envelope.detail, (RESPONSES_PREFIX, CALL_OUTCOMES_PREFIX))
    if drop is None:
        return
    bucket, key = drop
    try:
        _, rejected = apply_drop(settings(), campaign(), bucket, key)
    except InputFileError as exc:
        refuse_drop(bucket, key, str(exc))
        return
    except UnicodeDecodeError as exc:
        refuse_drop(bucket, key, f"s3://{bucket}/{key}:0: not UTF-8 (byte {exc.start + 1} of its chunk)")
        return
    write_rejected(bucket, key, rejected)


def _apply_feedback(envelope: Envelope) -> None:
    """AWS's own feedback: an SES bounce or complaint (EventBridge), an SMS reply (SNS)."""
    from functions.responses.feedback import email_feedback, sms_reply

    if envelope.source == SES_SOURCE:
        outcome = email_feedback(settings(), envelope.detail_type, envelope.detail, envelope.time)
    else:
        outcome = sms_reply(settings(), envelope.detail, envelope.time)
    logger_for("responses").info("provider feedback", extra={"source": envelope.source, "outcome": outcome})


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
