"""Lambda entry point: ContactRequested{channel: print} -> open batch; scheduled cut-off -> vendor files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.events import ContactRequested
from shared.handler import Envelope, lambda_handler, read_contexts_ahead
from shared.settings import settings


def on_request(envelope: Envelope) -> None:
    from functions.print_batcher.logic import PrintChannel
    from shared.campaign import campaign
    from shared.clock import effect_time
    from shared.dispatch import handle_request

    s = settings()
    handle_request(s, campaign(), ContactRequested.model_validate(envelope.detail), effect_time(envelope.time),
                   PrintChannel(s))


def run_cut_off(now: datetime) -> list[dict[str, Any]]:
    from functions.print_batcher.logic import cut_off
    from shared.campaign import campaign

    return cut_off(settings(), campaign(), now)


handler = lambda_handler("print-batcher", on_event=on_request, prepare=read_contexts_ahead,
                         tasks={"cut-off": run_cut_off})
