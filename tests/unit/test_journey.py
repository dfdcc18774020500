"""The dialogue's timetable: first step at marketable_from, steps by day offset, cycles repeat."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from shared.config import DispatchConfig
from shared.domain.journey import Position, first_position, marketable_instant, next_position, parse_marketable

TZ = ZoneInfo("Europe/Zurich")
UPGRADE = DispatchConfig().journeys["upgrade"]  # email d0, print d7, call d14; every 75 days, 3 cycles


def test_the_first_step_waits_for_marketable_from_at_local_midnight() -> None:
    position = first_position(date(2026, 3, 20), datetime(2026, 3, 10, 9, tzinfo=TZ), TZ)
    assert position.due_at == datetime(2026, 3, 20, 0, 0, tzinfo=TZ)


def test_marketable_from_as_an_instant_opens_at_that_instant() -> None:
    """Issue 13.3: a date-time marketable_from is an instant, not rounded to a day."""
    opens = datetime(2026, 3, 20, 6, 30, tzinfo=UTC)
    position = first_position(opens, datetime(2026, 3, 20, 0, 0, tzinfo=TZ), TZ)
    assert position.due_at == opens
    assert first_position(opens, opens + timedelta(hours=1), TZ).due_at == opens + timedelta(hours=1)


def test_marketable_instant_of_every_stored_spelling() -> None:
    plus_one = timezone(timedelta(hours=1))
    assert marketable_instant("2026-03-20", TZ) == datetime(2026, 3, 20, tzinfo=TZ)
    assert marketable_instant(date(2026, 3, 20), TZ) == datetime(2026, 3, 20, tzinfo=TZ)
    assert marketable_instant("2027-03-10T00:00:00+01:00", TZ) == datetime(2027, 3, 10, tzinfo=plus_one)
    assert marketable_instant("2027-03-10T05:00:00Z", TZ) == datetime(2027, 3, 10, 5, tzinfo=UTC)
    assert parse_marketable("2026-03-20") == date(2026, 3, 20)


def test_a_household_already_marketable_starts_now() -> None:
    now = datetime(2026, 3, 21, 9, 30, tzinfo=TZ)
    assert first_position(date(2026, 3, 20), now, TZ).due_at == now


def test_steps_follow_their_day_offsets_and_cycles_repeat_until_the_last() -> None:
    start = datetime(2026, 3, 2, 0, 0, tzinfo=TZ)
    position: Position | None = Position(1, 1, start, start)
    seen = []
    while position is not None:
        seen.append((position.cycle, position.step, position.due_at))
        position = next_position(UPGRADE, position, TZ)
    assert [(c, s) for c, s, _ in seen] == [(c, s) for c in (1, 2, 3) for s in (1, 2, 3)]
    assert seen[1][2] == datetime(2026, 3, 9, 0, 0, tzinfo=TZ)
    assert seen[3][2] == start + timedelta(days=75)  # cycle 2 starts repeat_every_days later
    assert seen[6][2] == start + timedelta(days=150)


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)))
def test_a_step_keeps_its_local_hour_across_daylight_saving(naive: datetime) -> None:
    start = naive.replace(tzinfo=TZ)
    nxt = next_position(UPGRADE, Position(1, 1, start, start), TZ)
    assert nxt is not None
    local = nxt.due_at.astimezone(TZ)
    assert (local.hour, local.minute) == (start.hour, start.minute)
    assert local.date() == start.date() + timedelta(days=7)


def test_the_gate_defers_until_a_marketable_instant_stored_as_text() -> None:
    """Issue 13.3 downstream: the household item keeps the instant as given; the gate holds a contact until it."""
    from dataclasses import replace

    from shared.dispatch import place_of
    from shared.domain.gate import timing
    from tests.unit.test_gate import POLICY, ask

    place = place_of({"household_id": "H1", "marketable_from": "2026-03-10T06:00:00Z", "canton": "ZH"})
    opens = datetime(2026, 3, 10, 6, tzinfo=UTC)
    assert place.marketable_from == opens
    before = timing(replace(ask("email"), place=place, at=opens - timedelta(minutes=1)), POLICY)
    assert before is not None and (before.action, before.until) == ("defer", opens)
    assert timing(replace(ask("email"), place=place, at=opens), POLICY) is None
    assert place_of({"household_id": "H1", "marketable_from": "2026-03-10", "canton": "ZH"}).marketable_from == date(
        2026, 3, 10)
