"""Lambda entry point: HouseholdSegmented -> the household's journey, started (JourneyStarted)."""

from __future__ import annotations

from shared.bus import EventBridgePublisher
from shared.campaign import campaign
from shared.events import HouseholdSegmented
from shared.handler import Envelope, lambda_handler
from shared.settings import settings


def on_segmented(envelope: Envelope) -> None:
    from functions.offer_picker.logic import pick_and_start

    s = settings()
    pick_and_start(s, campaign(), HouseholdSegmented.model_validate(envelope.detail), envelope.time,
                   EventBridgePublisher(s.event_bus_name))


handler = lambda_handler("offer-picker", on_event=on_segmented)
