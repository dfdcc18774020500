"""The call list's rules: which days have a list, in which order waiting calls get the day's places (the
call centre's capacity), and when a call that never got a place is given up.

Pure: the call-list exporter applies them to its queue in DynamoDB, `dispatch plan` to its forecast.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.domain.windows import ContactWindow, is_public_holiday


def list_made_on(day: date) -> bool:
    """A list is made every day but Sundays and (federal) public holidays; cantonal ones are the gate's."""
    return day.weekday() != 6 and not is_public_holiday(day, None)


def listing_order(requested_at: str, expected_value_chf: float, request_id: str) -> tuple[str, float, str]:
    """Roll-over first: the oldest request day first, then the best expected value, then the request's own order
    (`requested_at` ISO 8601, `request_id` beginning with the request's UTC time)."""
    return (requested_at[:10], -float(expected_value_chf), request_id)


def has_place(listed: int, per_day: int) -> bool:
    """Whether the day's list, holding `listed` rows, takes one more (`calls.per_day`)."""
    return listed < per_day


def waited_too_long(requested_at: datetime, now: datetime, repeat_every_days: int) -> bool:
    """A call still waiting for a place when its journey's next cycle would begin is given up (skipped)."""
    return now - requested_at >= timedelta(days=repeat_every_days)


def window_start(window: ContactWindow, day: date, tz: ZoneInfo) -> datetime:
    """When the day's calls may start: the call window's opening on that weekday (the gate judges it)."""
    hours = window.hours_on(day) or window.weekdays
    return datetime.combine(day, hours.start, tzinfo=tz)
