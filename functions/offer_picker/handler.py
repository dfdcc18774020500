"""Lambda entry point: HouseholdSegmented -> the household's journey, started (JourneyStarted)."""

from __future__ import annotations

from shared.batching import batch_outbox
from shared.events import HouseholdSegmented
from shared.handler import Envelope, lambda_handler
from shared.settings import settings


def on_segmented(envelope: Envelope) -> None:
    from functions.offer_picker.logic import pick_and_start
    from shared.campaign import campaign

    pick_and_start(settings(), campaign(), HouseholdSegmented.model_validate(envelope.detail), envelope.time,
                   batch_outbox())


handler = lambda_handler("offer-picker", on_event=on_segmented)
