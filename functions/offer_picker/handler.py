"""Lambda entry point: HouseholdSegmented -> the household's journey, started or reconciled (JourneyStarted)."""

from __future__ import annotations

from collections.abc import Sequence

from shared.batching import batch_outbox
from shared.events import HouseholdSegmented
from shared.handler import Envelope, lambda_handler
from shared.settings import settings


def on_segmented(envelope: Envelope) -> None:
    from functions.offer_picker.logic import pick_and_start
    from shared.campaign import campaign

    pick_and_start(settings(), campaign(), HouseholdSegmented.model_validate(envelope.detail), envelope.time,
                   batch_outbox())


def read_ahead(envelopes: Sequence[Envelope]) -> None:
    from functions.offer_picker.logic import read_ahead as read_batch

    read_batch(envelopes)


handler = lambda_handler("offer-picker", on_event=on_segmented, prepare=read_ahead)
