"""Lambda entry point: ContactRequested{channel: call} -> call queue; scheduled export -> the day's list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.events import ContactRequested
from shared.handler import Envelope, lambda_handler, read_contexts_ahead
from shared.settings import settings


def on_request(envelope: Envelope) -> None:
    from functions.call_list_exporter.logic import CallChannel
    from shared.campaign import campaign
    from shared.clock import effect_time
    from shared.dispatch import handle_request

    s = settings()
    handle_request(s, campaign(), ContactRequested.model_validate(envelope.detail), effect_time(envelope.time),
                   CallChannel(s))


def run_export(now: datetime) -> dict[str, Any]:
    from functions.call_list_exporter.logic import export
    from shared.campaign import campaign

    return export(settings(), campaign(), now)


handler = lambda_handler("call-list-exporter", on_event=on_request, prepare=read_contexts_ahead,
                         tasks={"export": run_export})
