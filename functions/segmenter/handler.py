"""Lambda entry point: HouseholdConnected -> HouseholdSegmented (or a recorded reason why not)."""

from __future__ import annotations

from shared.batching import batch_outbox
from shared.events import HouseholdConnected
from shared.handler import Envelope, lambda_handler
from shared.settings import settings


def on_connected(envelope: Envelope) -> None:
    from functions.segmenter.logic import segment
    from shared.campaign import campaign

    segment(settings(), campaign(), HouseholdConnected.model_validate(envelope.detail), envelope.time,
            batch_outbox())


handler = lambda_handler("segmenter", on_event=on_connected)
