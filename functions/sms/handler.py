"""Lambda entry point: ContactRequested{channel: sms} -> gate (window, caps) -> SNS."""

from __future__ import annotations

from shared.events import ContactRequested
from shared.handler import Envelope, lambda_handler, read_contexts_ahead
from shared.settings import settings


def on_request(envelope: Envelope) -> None:
    from functions.sms.logic import SmsChannel
    from shared.campaign import campaign
    from shared.channels.delivery import SnsSmsSender
    from shared.clock import effect_time
    from shared.dispatch import handle_request

    handle_request(settings(), campaign(), ContactRequested.model_validate(envelope.detail), effect_time(envelope.time),
                   SmsChannel(SnsSmsSender()))


handler = lambda_handler("sms", on_event=on_request, prepare=read_contexts_ahead)
