"""The dialogue's timetable: when each step of each cycle is due, and what comes after it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.config import JourneyConfig


@dataclass(frozen=True)
class Position:
    """Where a journey stands: cycle and step are 1-based; due_at is when the step may go out."""

    cycle: int
    step: int
    cycle_started_at: datetime
    due_at: datetime


def parse_marketable(value: str) -> date | datetime:
    """A stored `marketable_from`: 'YYYY-MM-DD' (a date) or a full ISO 8601 date-time with offset (an instant)."""
    if len(value) == 10:
        return date.fromisoformat(value)
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"marketable_from {value!r}: a date-time needs an offset or Z")
    return parsed


def marketable_instant(value: str | date | datetime, tz: ZoneInfo) -> datetime:
    """Fair play: the first instant at which any operator may market to the household.

    A date opens at 00:00 in the campaign's time zone; a date-time (with its offset) is that instant.
    """
    if isinstance(value, str):
        value = parse_marketable(value)
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), tzinfo=tz)


def marketable_start(marketable_from: date | datetime, tz: ZoneInfo) -> datetime:
    """Fair play: the first instant at which any operator may market to the household."""
    return marketable_instant(marketable_from, tz)


def first_position(marketable_from: date | datetime, now: datetime, tz: ZoneInfo) -> Position:
    start = max(now, marketable_start(marketable_from, tz))
    return Position(cycle=1, step=1, cycle_started_at=start, due_at=start)


def step_due(cycle_started_at: datetime, day: int) -> datetime:
    """Day offsets count calendar days in local time, so a step keeps its hour across DST."""
    local = cycle_started_at
    return (local + timedelta(days=day)).astimezone(local.tzinfo)


def next_position(journey: JourneyConfig, current: Position, tz: ZoneInfo) -> Position | None:
    """The step after `current`, or None after the last step of the last cycle."""
    started = current.cycle_started_at.astimezone(tz)
    if current.step < len(journey.steps):
        step = current.step + 1
        return Position(current.cycle, step, started, step_due(started, journey.steps[step - 1].day))
    if current.cycle >= journey.max_cycles:
        return None
    restarted = step_due(started, journey.repeat_every_days)
    return Position(current.cycle + 1, 1, restarted, step_due(restarted, journey.steps[0].day))
