"""Lambda entry point: ContactRequested{channel: email} -> gate -> SES v2."""

from __future__ import annotations

from shared.events import ContactRequested
from shared.handler import Envelope, lambda_handler, read_contexts_ahead
from shared.settings import settings


def on_request(envelope: Envelope) -> None:
    from functions.email.logic import EmailChannel
    from shared.campaign import campaign
    from shared.channels.delivery import SesEmailSender
    from shared.clock import effect_time
    from shared.dispatch import handle_request

    s = settings()
    handle_request(s, campaign(), ContactRequested.model_validate(envelope.detail), effect_time(envelope.time),
                   EmailChannel(s, SesEmailSender(s.mail_configuration_set)))


handler = lambda_handler("email", on_event=on_request, prepare=read_contexts_ahead)
