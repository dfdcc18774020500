"""Unit tests for contact windows, Sundays and Swiss public holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import windows
from shared.domain.windows import (
    ZURICH,
    ContactWindow,
    DayWindow,
    is_open,
    is_public_holiday,
    next_opening,
    parse_day_window,
)

SMS = ContactWindow.from_spec("08:00-20:00", "09:00-16:00")
CALL_NO_SATURDAY = ContactWindow.from_spec("08:00-20:30", None)


def zurich(
    year: int, month: int, day: int, hour: int, minute: int, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ZURICH)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- parsing -----------------------------------------------------------------------------


def test_given_a_valid_spec_when_parsed_then_start_and_end() -> None:
    assert parse_day_window("08:00-20:30") == DayWindow(time(8, 0), time(20, 30))
    assert parse_day_window(" 09:00 - 16:00 ") == DayWindow(time(9, 0), time(16, 0))


@pytest.mark.parametrize(
    "spec",
    ["8-20", "08:00", "20:00-08:00", "08:00-08:00", "24:00-25:00", "08:60-09:00", ""],
)
def test_given_a_bad_spec_when_parsed_then_error_names_value_and_expectation(
    spec: str,
) -> None:
    with pytest.raises(ValueError) as error:
        parse_day_window(spec)
    assert repr(spec) in str(error.value)
    assert "HH:MM-HH:MM with start before end" in str(error.value)


def test_given_specs_when_contact_window_built_then_saturday_may_be_closed() -> None:
    assert SMS.saturday == DayWindow(time(9, 0), time(16, 0))
    assert CALL_NO_SATURDAY.saturday is None


# --- holidays ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "canton"),
    [
        (date(2026, 5, 14), None),  # Ascension, federal
        (date(2026, 8, 1), None),  # National Day
        (date(2026, 12, 25), "GE"),
        (date(2026, 5, 25), "ZH"),  # Whit Monday
        (date(2026, 5, 25), "VD"),
        (date(2026, 1, 2), "VD"),  # Berchtoldstag
        (date(2026, 1, 2), "BE"),
        (date(2026, 12, 31), "GE"),  # Restauration genevoise
        (date(2026, 1, 6), "TI"),  # Epiphany
        (date(2026, 5, 1), "ZH"),  # Labour Day
    ],
)
def test_given_a_public_holiday_when_checked_then_true(
    day: date, canton: str | None
) -> None:
    assert is_public_holiday(day, canton)


@pytest.mark.parametrize(
    ("day", "canton"),
    [
        (date(2026, 1, 2), "ZH"),  # Berchtoldstag is no public holiday in Zurich ...
        (date(2026, 1, 2), "GE"),  # ... nor in Geneva
        (date(2026, 12, 31), "ZH"),
        (date(2026, 5, 1), "GE"),  # Labour Day only in some cantons
        (date(2026, 5, 25), None),  # Whit Monday is cantonal, not federal
        (date(2026, 5, 13), "ZH"),
    ],
)
def test_given_an_ordinary_day_when_checked_then_false(
    day: date, canton: str | None
) -> None:
    assert not is_public_holiday(day, canton)


def test_given_a_lowercase_canton_then_accepted() -> None:
    assert is_public_holiday(date(2026, 1, 2), "vd")


@pytest.mark.parametrize("canton", ["XX", "Stadt Zurich", "", "CH"])
def test_given_an_unknown_canton_then_error(canton: str) -> None:
    with pytest.raises(ValueError, match="canton"):
        is_public_holiday(date(2026, 1, 2), canton)


# --- is_open -----------------------------------------------------------------------------


def test_given_a_weekday_then_open_from_start_until_before_end() -> None:
    # Wednesday 2026-06-03
    assert not is_open(SMS, zurich(2026, 6, 3, 7, 59), "ZH")
    assert is_open(SMS, zurich(2026, 6, 3, 8, 0), "ZH")
    assert is_open(SMS, zurich(2026, 6, 3, 19, 59, 59), "ZH")
    assert not is_open(SMS, zurich(2026, 6, 3, 20, 0), "ZH")


def test_given_a_sunday_then_closed_all_day() -> None:
    assert not is_open(SMS, zurich(2026, 6, 7, 12, 0), "ZH")


def test_given_a_saturday_then_saturday_hours_or_closed() -> None:
    assert not is_open(SMS, zurich(2026, 6, 6, 8, 59), "ZH")
    assert is_open(SMS, zurich(2026, 6, 6, 9, 0), "ZH")
    assert not is_open(SMS, zurich(2026, 6, 6, 16, 0), "ZH")
    assert not is_open(CALL_NO_SATURDAY, zurich(2026, 6, 6, 12, 0), "ZH")


def test_given_a_holiday_then_closed() -> None:
    assert not is_open(SMS, zurich(2026, 5, 14, 12, 0), None)  # Ascension
    assert not is_open(SMS, zurich(2025, 8, 1, 12, 0), "TI")  # 1 August, a Friday
    assert not is_open(SMS, zurich(2026, 5, 25, 12, 0), "ZH")  # Whit Monday


def test_given_a_cantonal_holiday_then_closed_there_only() -> None:
    # Friday 2026-01-02, Berchtoldstag in Vaud, a working day in Geneva
    assert not is_open(SMS, zurich(2026, 1, 2, 10, 0), "VD")
    assert is_open(SMS, zurich(2026, 1, 2, 10, 0), "GE")


def test_given_utc_input_then_judged_on_local_wall_clock() -> None:
    # 06:30 UTC in summer is 08:30 in Zurich, in winter 07:30
    assert is_open(SMS, utc(2026, 6, 3, 6, 30), "ZH")
    assert not is_open(SMS, utc(2026, 1, 14, 6, 30), "ZH")


def test_given_a_naive_datetime_then_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(SMS, datetime(2026, 6, 3, 10, 0), "ZH")


# --- next_opening ------------------------------------------------------------------------


def test_given_open_then_next_opening_is_the_same_instant_in_the_zone() -> None:
    at = utc(2026, 6, 3, 10, 0)
    result = next_opening(SMS, at, "ZH")
    assert result == at
    assert result.tzinfo is ZURICH


@pytest.mark.parametrize(
    ("window", "at", "canton", "expected"),
    [
        (
            SMS,
            zurich(2026, 6, 3, 6, 0),
            "ZH",
            zurich(2026, 6, 3, 8, 0),
        ),  # early morning
        (SMS, zurich(2026, 6, 3, 20, 0), "ZH", zurich(2026, 6, 4, 8, 0)),  # evening
        (SMS, zurich(2026, 6, 5, 21, 0), "ZH", zurich(2026, 6, 6, 9, 0)),  # Fri -> Sat
        (SMS, zurich(2026, 6, 6, 16, 0), "ZH", zurich(2026, 6, 8, 8, 0)),  # Sat -> Mon
        (CALL_NO_SATURDAY, zurich(2026, 6, 5, 21, 0), "ZH", zurich(2026, 6, 8, 8, 0)),
        # Ascension Thursday, then Friday
        (SMS, zurich(2026, 5, 13, 20, 0), None, zurich(2026, 5, 15, 8, 0)),
        # Whitsun weekend in Zurich: Saturday closed after 16:00, Sunday, Whit Monday
        (SMS, zurich(2026, 5, 23, 17, 0), "ZH", zurich(2026, 5, 26, 8, 0)),
        # Christmas and Saint Stephen in Bern, then the weekend, then Berchtoldstag
        (SMS, zurich(2026, 12, 24, 21, 0), "BE", zurich(2026, 12, 28, 8, 0)),
        (SMS, zurich(2026, 12, 31, 21, 0), "BE", zurich(2027, 1, 4, 8, 0)),
        (SMS, zurich(2026, 12, 31, 21, 0), "GE", zurich(2027, 1, 2, 9, 0)),
    ],
)
def test_given_closed_then_next_opening_is_the_next_window_start(
    window: ContactWindow, at: datetime, canton: str | None, expected: datetime
) -> None:
    assert next_opening(window, at, canton) == expected


def test_given_spring_dst_sunday_2026_03_29_then_monday_opens_at_0800_summer_time() -> (
    None
):
    # Given Saturday evening before the clocks go forward
    result = next_opening(SMS, zurich(2026, 3, 28, 17, 0), "ZH")
    # Then Monday 08:00 local, which is 06:00 UTC
    assert result.astimezone(UTC) == utc(2026, 3, 30, 6, 0)
    assert (result.hour, result.minute, result.utcoffset()) == (
        8,
        0,
        timedelta(hours=2),
    )
    # And from the skipped hour itself
    assert next_opening(SMS, utc(2026, 3, 29, 1, 0), "ZH").astimezone(UTC) == utc(
        2026, 3, 30, 6, 0
    )


def test_given_autumn_dst_sunday_2026_10_25_then_monday_opens_at_0800_winter_time() -> (
    None
):
    result = next_opening(SMS, zurich(2026, 10, 24, 16, 0), "ZH")
    assert result.astimezone(UTC) == utc(2026, 10, 26, 7, 0)
    assert (result.hour, result.minute, result.utcoffset()) == (
        8,
        0,
        timedelta(hours=1),
    )
    # And from inside the repeated hour (second pass, 02:30 winter time)
    second_pass = utc(2026, 10, 25, 1, 30)
    assert next_opening(SMS, second_pass, "ZH").astimezone(UTC) == utc(
        2026, 10, 26, 7, 0
    )


JERUSALEM = ZoneInfo(
    "Asia/Jerusalem"
)  # clocks go forward on Friday 2026-03-27, 02:00 -> 03:00
CAIRO = ZoneInfo(
    "Africa/Cairo"
)  # 2026-04-24 00:00 -> 01:00 (Fri); 2026-10-29 24:00 -> 23:00 (Thu)


def test_given_a_start_in_the_skipped_hour_then_the_window_opens_at_the_jump() -> None:
    window = ContactWindow.from_spec("02:30-05:00", None)
    result = next_opening(
        window, datetime(2026, 3, 27, 0, 0, tzinfo=JERUSALEM), None, JERUSALEM
    )
    assert result.astimezone(UTC) == utc(
        2026, 3, 27, 0, 0
    )  # 03:00 local, just after the jump
    assert (result.hour, result.minute) == (3, 0)


def test_given_a_skipped_local_midnight_then_the_window_opens_at_the_jump() -> None:
    window = ContactWindow.from_spec("00:30-06:00", None)
    at = datetime(2026, 4, 23, 23, 0, tzinfo=CAIRO)  # Thursday, after the window
    result = next_opening(window, at, None, CAIRO)
    assert result.astimezone(UTC) == utc(2026, 4, 23, 22, 0)  # Friday 01:00 local


def test_given_a_repeated_hour_then_the_window_opens_again_in_the_second_pass() -> None:
    window = ContactWindow.from_spec("23:10-23:50", None)
    first_pass_late = utc(2026, 10, 29, 20, 55)  # Thursday 23:55 summer time: closed
    assert not is_open(window, first_pass_late, None, CAIRO)
    result = next_opening(window, first_pass_late, None, CAIRO)
    # Then 23:10 winter time the same evening, not the next day
    assert result.astimezone(UTC) == utc(2026, 10, 29, 21, 10)
    assert (result.hour, result.minute, result.fold) == (23, 10, 1)


def test_given_a_repeated_hour_then_the_clock_going_back_can_reopen_the_window() -> (
    None
):
    window = ContactWindow.from_spec("22:00-23:30", None)
    first_pass_late = utc(2026, 10, 29, 20, 45)  # Thursday 23:45 summer time: closed
    result = next_opening(window, first_pass_late, None, CAIRO)
    # Then at 24:00 summer time the clock shows 23:00 again, inside the window
    assert result.astimezone(UTC) == utc(2026, 10, 29, 21, 0)


def test_given_a_wall_clock_time_that_does_not_exist_then_judged_on_the_real_instant() -> (
    None
):
    # Given 02:30 on the day Jerusalem skips 02:00-03:00: Python reads it as 00:30 UTC,
    # which the local clock shows as 03:30
    skipped = datetime(2026, 3, 27, 2, 30, tzinfo=JERUSALEM)
    window = ContactWindow.from_spec("03:00-04:00", None)
    assert is_open(window, skipped, None, JERUSALEM)
    assert next_opening(window, skipped, None, JERUSALEM).astimezone(UTC) == utc(
        2026, 3, 27, 0, 30
    )


def test_given_no_opening_within_the_search_bound_then_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a search bound too short to get past the weekend
    monkeypatch.setattr(windows, "SEARCH_DAYS", 0)
    with pytest.raises(ValueError, match="no contact window opening within 0 days"):
        next_opening(CALL_NO_SATURDAY, zurich(2026, 6, 6, 12, 0), "ZH")


def test_given_a_naive_datetime_when_next_opening_then_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_opening(SMS, datetime(2026, 6, 3, 10, 0), "ZH")


# --- properties --------------------------------------------------------------------------


def _dst_changes(tz: ZoneInfo, years: range) -> list[datetime]:
    """UTC instants at which tz changes its offset, to within an hour."""
    changes = []
    t = utc(years.start, 1, 1)
    end = utc(years.stop, 1, 1)
    while t < end:
        if (
            t.astimezone(tz).utcoffset()
            != (t + timedelta(hours=1)).astimezone(tz).utcoffset()
        ):
            changes.append(t)
        t += timedelta(hours=1)
    return changes


ZONES = [ZURICH, JERUSALEM, CAIRO]
DST_CHANGES = [
    (tz, change) for tz in ZONES for change in _dst_changes(tz, range(2025, 2028))
]

minutes_of_day = st.integers(0, 24 * 60 - 2)


@st.composite
def day_windows(draw: st.DrawFn) -> DayWindow:
    start = draw(minutes_of_day)
    end = draw(st.integers(start + 1, 24 * 60 - 1))
    return DayWindow(time(start // 60, start % 60), time(end // 60, end % 60))


contact_windows = st.one_of(
    st.just(SMS),
    st.just(CALL_NO_SATURDAY),
    st.builds(ContactWindow, day_windows(), st.none() | day_windows()),
)
cantons = st.sampled_from([None, "ZH", "GE", "VD", "BE", "TI"])
anywhere_in_time = st.tuples(
    st.sampled_from(ZONES),
    st.datetimes(datetime(2000, 1, 1), datetime(2040, 12, 31), timezones=st.just(UTC)),
)
near_a_dst_change = st.builds(
    lambda change, minutes: (change[0], change[1] + timedelta(minutes=minutes)),
    st.sampled_from(DST_CHANGES),
    st.integers(-3 * 24 * 60, 24 * 60),
)


@settings(max_examples=200, deadline=None)
@given(
    window=contact_windows,
    zone_and_at=st.one_of(anywhere_in_time, near_a_dst_change),
    canton=cantons,
)
def test_property_next_opening_is_open_not_before_at_and_nothing_opens_earlier(
    window: ContactWindow, zone_and_at: tuple[ZoneInfo, datetime], canton: str | None
) -> None:
    tz, at = zone_and_at
    result = next_opening(window, at, canton, tz)
    assert result.tzinfo is tz
    assert is_open(window, result, canton, tz)
    # Compare in UTC: Python compares datetimes sharing a zone by wall clock, ignoring fold.
    result_utc = result.astimezone(UTC)
    assert result_utc >= at
    if result_utc > at:
        # exact: the instant just before is closed
        assert not is_open(window, result_utc - timedelta(microseconds=1), canton, tz)
        probe = at
        while probe < result_utc:
            assert not is_open(window, probe, canton, tz)
            probe += timedelta(minutes=10)


@settings(max_examples=200, deadline=None)
@given(
    window=contact_windows, zone_and_at=st.one_of(anywhere_in_time, near_a_dst_change)
)
def test_property_is_open_follows_the_local_wall_clock(
    window: ContactWindow, zone_and_at: tuple[ZoneInfo, datetime]
) -> None:
    tz, at = zone_and_at
    local = at.astimezone(tz)
    hours = window.hours_on(local.date())
    expected = (
        hours is not None
        and not is_public_holiday(local.date(), None)
        and hours.start <= local.time() < hours.end
    )
    assert is_open(window, at, None, tz) == expected
