"""The print cut-off: when a letter leaves — the first working-day cut-off at or after the piece is batched."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

CUT_OFF_DAYS = range(0, 5)  # Monday to Friday, as the template's cut-off schedule (PrintCutOffCron)


def next_cut_off(at: datetime, clock: time, tz: ZoneInfo) -> datetime:
    """The first cut-off (`clock`, local time in `tz`) at or after `at`, on a working day."""
    local = at.astimezone(tz)
    day = local.date()
    for offset in range(0, 8):
        candidate = datetime.combine(day + timedelta(days=offset), clock, tzinfo=tz)
        if candidate.weekday() in CUT_OFF_DAYS and candidate >= local:
            return candidate
    raise RuntimeError("no cut-off within a week")
