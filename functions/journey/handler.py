"""Lambda entry point: the scheduled journey tick."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.handler import lambda_handler
from shared.settings import settings


def run_tick(now: datetime) -> dict[str, Any]:
    from functions.journey.logic import tick
    from shared.campaign import campaign

    s = settings()
    requested, upcoming = tick(s, campaign(), now)
    # `idle_until` tells a scheduler nothing is due before then unless something else changes.
    return {"requested": requested, "idle_until": upcoming.isoformat() if upcoming else None}


handler = lambda_handler("journey", tasks={"tick": run_tick})
