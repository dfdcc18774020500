"""Contact windows for SMS and calls: local opening hours, closed on Sundays and Swiss public holidays."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

ZURICH = ZoneInfo("Europe/Zurich")

# How far next_opening looks ahead; a real configuration opens within a few days, so hitting
# this means the configuration or the calendar data is wrong.
SEARCH_DAYS = 30

_SPEC = re.compile(r"^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$")
_SUNDAY = 6
_SATURDAY = 5


@dataclass(frozen=True)
class DayWindow:
    """Opening hours of one day, [start, end) in local wall-clock time."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(
                f"contact window {self.start:%H:%M}-{self.end:%H:%M}: expected start before end"
            )

    def contains(self, wall_clock: time) -> bool:
        return self.start <= wall_clock < self.end


def parse_day_window(spec: str) -> DayWindow:
    """Parse "HH:MM-HH:MM" (e.g. "08:00-20:00") into a DayWindow."""
    expected = "expected HH:MM-HH:MM with start before end"
    match = _SPEC.match(spec)
    if match is None:
        raise ValueError(f"contact window {spec!r}: {expected}")
    sh, sm, eh, em = (int(group) for group in match.groups())
    try:
        start, end = time(sh, sm), time(eh, em)
    except ValueError:
        raise ValueError(f"contact window {spec!r}: {expected}") from None
    if not start < end:
        raise ValueError(f"contact window {spec!r}: {expected}")
    return DayWindow(start, end)


@dataclass(frozen=True)
class ContactWindow:
    """Weekday (Monday-Friday) and Saturday hours of one channel; None means closed on Saturdays."""

    weekdays: DayWindow
    saturday: DayWindow | None

    @classmethod
    def from_spec(cls, weekdays: str, saturday: str | None) -> ContactWindow:
        return cls(
            weekdays=parse_day_window(weekdays),
            saturday=None if saturday is None else parse_day_window(saturday),
        )

    def hours_on(self, day: date) -> DayWindow | None:
        """The hours that apply on day's weekday, ignoring holidays; None when closed."""
        weekday = day.weekday()
        if weekday == _SUNDAY:
            return None
        if weekday == _SATURDAY:
            return self.saturday
        return self.weekdays


@cache
def _cantons() -> frozenset[str]:
    from holidays.countries.switzerland import Switzerland

    # The package also knows "Stadt Zurich"; the feed only carries the 2-letter canton codes.
    return frozenset(code for code in Switzerland.subdivisions if len(code) == 2)


@cache
def _holiday_dates(canton: str | None, year: int) -> frozenset[date]:
    # Imported here rather than at the top: the holidays package loads every country's module
    # on first import (about a quarter of a second), which only callers that check a date pay.
    from holidays.countries.switzerland import Switzerland

    # Switzerland.__init__ is declared (*args, **kwargs) without types in the package.
    calendar = Switzerland(years=year, subdiv=canton)  # type: ignore[no-untyped-call]
    return frozenset(calendar.keys())


def is_public_holiday(day: date, canton: str | None) -> bool:
    """Whether day is a public holiday in canton (a 2-letter code); None means federal ones only."""
    code = None if canton is None else canton.strip().upper()
    if code is not None and code not in _cantons():
        raise ValueError(
            f"canton {canton!r}: expected a 2-letter Swiss canton code such as ZH, VD or TI"
        )
    return day in _holiday_dates(code, day.year)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"time {at.isoformat()}: expected a timezone-aware datetime")


def _hours_if_open_day(
    window: ContactWindow, day: date, canton: str | None
) -> DayWindow | None:
    hours = window.hours_on(day)
    if hours is None or is_public_holiday(day, canton):
        return None
    return hours


def _in_zone(at: datetime, tz: ZoneInfo) -> datetime:
    # Via UTC on purpose: astimezone() to the zone a datetime already has returns it unchanged,
    # even when its wall clock does not exist (spring gap) or has the wrong fold.
    return at.astimezone(UTC).astimezone(tz)


def is_open(
    window: ContactWindow, at: datetime, canton: str | None, tz: ZoneInfo = ZURICH
) -> bool:
    """Whether a contact at the aware instant at falls inside the window, in local time tz."""
    _require_aware(at)
    local = _in_zone(at, tz)
    hours = _hours_if_open_day(window, local.date(), canton)
    return hours is not None and hours.contains(local.time())


def _clock_change_between(lo: datetime, hi: datetime, tz: ZoneInfo) -> datetime:
    """The first instant in (lo, hi] (both UTC) whose offset in tz differs from lo's."""
    # zoneinfo exposes no list of transitions, so bisect on whole seconds, where they fall.
    offset_before = lo.astimezone(tz).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = (lo + (hi - lo) / 2).replace(microsecond=0)
        if mid.astimezone(tz).utcoffset() == offset_before:
            lo = mid
        else:
            hi = mid
    return hi


def _candidate_openings(
    window: ContactWindow, day: date, canton: str | None, tz: ZoneInfo
) -> list[datetime]:
    """UTC instants around day at which the window may open.

    The window opens where the wall clock reaches its start (twice when that hour repeats in
    autumn) or where the clock jumps (a start skipped in spring opens at the jump).
    """
    candidates: list[datetime] = []
    hours = _hours_if_open_day(window, day, canton)
    if hours is not None:
        start = datetime.combine(day, hours.start)
        candidates += [
            start.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)
        ]
    midnight = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    next_midnight = datetime.combine(
        day + timedelta(days=1), time(0), tzinfo=tz
    ).astimezone(UTC)
    if midnight.astimezone(tz).utcoffset() != next_midnight.astimezone(tz).utcoffset():
        candidates.append(_clock_change_between(midnight, next_midnight, tz))
    return sorted(candidates)


def next_opening(
    window: ContactWindow, at: datetime, canton: str | None, tz: ZoneInfo = ZURICH
) -> datetime:
    """at itself (in tz) if the window is open then, else the first later instant it opens."""
    _require_aware(at)
    if is_open(window, at, canton, tz):
        return _in_zone(at, tz)
    at_utc = at.astimezone(UTC)
    # Start a day early: a clock change around midnight is listed under the day before, and
    # one day more costs next to nothing.
    first_day = _in_zone(at, tz).date() - timedelta(days=1)
    for offset in range(SEARCH_DAYS + 2):
        day = first_day + timedelta(days=offset)
        for candidate in _candidate_openings(window, day, canton, tz):
            if candidate > at_utc and is_open(window, candidate, canton, tz):
                return candidate.astimezone(tz)
    raise ValueError(
        f"no contact window opening within {SEARCH_DAYS} days after {at.isoformat()}"
    )
