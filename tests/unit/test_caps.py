"""Unit tests for contact pressure caps over rolling windows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.caps import Cap, CapPolicy, allowed, earliest_allowed, prune

ZURICH = ZoneInfo("Europe/Zurich")
CHANNELS = ("email", "sms", "print", "call")

# The contract's default caps.
DEFAULT_POLICY = CapPolicy(
    per_channel={
        "email": Cap(max=1, days=7),
        "sms": Cap(max=1, days=7),
        "print": Cap(max=1, days=14),
        "call": Cap(max=1, days=7),
    },
    all_channels=Cap(max=3, days=30),
)

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=ZURICH)  # a Monday
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


# --- brute-force reference ---------------------------------------------------------------


def reference_violations(
    history: Sequence[tuple[str, datetime]], policy: CapPolicy
) -> int:
    """How many (cap, window) pairs are over their max, every window aligned to a contact.

    Aligning a window's start to its earliest contact loses none of its contacts, so these
    windows are enough to see every excess.
    """
    # In UTC: Python compares and subtracts datetimes sharing a zone by wall clock.
    utc = [(ch, at.astimezone(UTC)) for ch, at in history]
    scopes: list[tuple[Cap, list[datetime]]] = [
        (policy.all_channels, [at for _, at in utc])
    ]
    for channel, cap in policy.per_channel.items():
        scopes.append((cap, [at for ch, at in utc if ch == channel]))
    excess = 0
    for cap, times in scopes:
        for start in times:
            inside = [t for t in times if start <= t < start + timedelta(days=cap.days)]
            excess += len(inside) > cap.max
    return excess


def reference_allowed(
    history: Sequence[tuple[str, datetime]],
    channel: str,
    at: datetime,
    policy: CapPolicy,
) -> bool:
    """Adding the contact creates no excess in any window that contains it."""
    at = at.astimezone(UTC)
    history = [(ch, t.astimezone(UTC)) for ch, t in history]
    scopes: list[tuple[Cap, list[datetime]]] = [
        (policy.all_channels, [t for _, t in history] + [at])
    ]
    if channel in policy.per_channel:
        same = [t for ch, t in history if ch == channel]
        scopes.append((policy.per_channel[channel], [*same, at]))
    for cap, times in scopes:
        span = timedelta(days=cap.days)
        for start in times:
            window = [t for t in times if start <= t < start + span]
            if start <= at < start + span and len(window) > cap.max:
                return False
    return True


# --- concrete cases ----------------------------------------------------------------------


def test_given_no_history_when_checked_then_allowed() -> None:
    assert allowed([], "email", T0, DEFAULT_POLICY)
    assert earliest_allowed([], "email", T0, DEFAULT_POLICY) == T0


def test_given_an_email_when_another_within_seven_days_then_blocked_until_exactly_seven() -> (
    None
):
    history = [("email", T0)]
    # When a second email is asked for a second before seven days, Then it is blocked
    assert not allowed(history, "email", T0 + 7 * DAY - SECOND, DEFAULT_POLICY)
    # Then exactly seven days later is a new window
    assert allowed(history, "email", T0 + 7 * DAY, DEFAULT_POLICY)
    assert earliest_allowed(history, "email", T0 + DAY, DEFAULT_POLICY) == T0 + 7 * DAY


def test_given_an_email_when_sms_the_same_day_then_only_the_all_channels_cap_applies() -> (
    None
):
    assert allowed([("email", T0)], "sms", T0, DEFAULT_POLICY)


def test_given_three_contacts_in_thirty_days_when_a_fourth_then_blocked_by_all_channels() -> (
    None
):
    history = [("email", T0), ("sms", T0 + 2 * DAY), ("print", T0 + 9 * DAY)]
    at = T0 + 16 * DAY
    assert not allowed(history, "call", at, DEFAULT_POLICY)
    # Then the call waits until the first contact drops out of the 30-day window
    assert earliest_allowed(history, "call", at, DEFAULT_POLICY) == T0 + 30 * DAY


def test_given_a_reserved_future_print_when_print_earlier_then_the_reservation_counts() -> (
    None
):
    # Given a print piece reserved for tonight's cut-off
    cut_off = T0.replace(hour=17)
    history = [("print", cut_off)]
    # When another print is asked for this morning, Then it is blocked by the reservation
    assert not allowed(history, "print", T0, DEFAULT_POLICY)
    assert earliest_allowed(history, "print", T0, DEFAULT_POLICY) == cut_off + 14 * DAY


def test_given_a_future_contact_when_blocked_then_the_gap_before_it_is_not_enough() -> (
    None
):
    # Given email on day 0 and day 10, a new email on day 3 would share a window with day 0,
    # and any instant before day 10 + 7 shares one with day 0 or day 10.
    history = [("email", T0), ("email", T0 + 10 * DAY)]
    assert (
        earliest_allowed(history, "email", T0 + 3 * DAY, DEFAULT_POLICY)
        == T0 + 17 * DAY
    )


def test_given_a_channel_without_its_own_cap_then_only_all_channels_counts() -> None:
    policy = CapPolicy(per_channel={}, all_channels=Cap(max=2, days=7))
    history = [("email", T0)]
    assert allowed(history, "email", T0, policy)
    assert not allowed([*history, ("email", T0)], "email", T0, policy)


def test_given_a_week_across_dst_when_capped_then_seven_days_are_168_hours() -> None:
    # Given an email on Wednesday before the spring DST change
    sent = datetime(2026, 3, 25, 10, 0, tzinfo=ZURICH)
    result = earliest_allowed([("email", sent)], "email", sent, DEFAULT_POLICY)
    # Then the next one is 168 hours later, which is 11:00 local after the clocks moved
    assert result.astimezone(UTC) - sent.astimezone(UTC) == timedelta(hours=168)
    assert result.astimezone(UTC) == datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    assert result.utcoffset() == timedelta(hours=2)


def test_given_a_cap_of_zero_when_earliest_allowed_then_error() -> None:
    policy = CapPolicy(
        per_channel={"call": Cap(max=0, days=7)}, all_channels=Cap(3, 30)
    )
    assert not allowed([], "call", T0, policy)
    with pytest.raises(ValueError, match="call"):
        earliest_allowed([], "call", T0, policy)


def test_given_a_cap_of_zero_then_its_channel_is_switched_off_and_the_others_are_not() -> None:
    # Given sms capped at 0, and a policy whose cross-channel cap is 0
    sms_off = CapPolicy(per_channel={**DEFAULT_POLICY.per_channel, "sms": Cap(max=0, days=7)},
                        all_channels=Cap(3, 30))
    all_off = CapPolicy(per_channel=DEFAULT_POLICY.per_channel, all_channels=Cap(max=0, days=30))
    # Then sms is off with the reason naming the setting; email is not; every channel is off with all_channels 0
    assert sms_off.switched_off("sms") == "channel sms switched off (caps.per_channel.sms.max = 0)"
    assert sms_off.switched_off("email") is None
    assert DEFAULT_POLICY.switched_off("sms") is None
    assert all_off.switched_off("print") == "every channel switched off (caps.all_channels.max = 0)"


def test_given_naive_datetime_then_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        allowed([], "email", datetime(2026, 5, 4, 10, 0), DEFAULT_POLICY)


def test_given_an_invalid_cap_then_error() -> None:
    with pytest.raises(ValueError, match="days"):
        Cap(max=1, days=0)
    with pytest.raises(ValueError, match="max"):
        Cap(max=-1, days=7)


def test_given_old_and_recent_contacts_when_pruned_then_only_those_within_30_days_remain() -> (
    None
):
    now = T0 + 40 * DAY
    history = [
        ("sms", now + DAY),  # reserved
        ("email", T0),  # 40 days old: gone
        ("print", now - 30 * DAY),  # exactly 30 days: can no longer share a window
        ("call", now - 30 * DAY + SECOND),
        ("email", now - DAY),
    ]
    assert prune(history, now, DEFAULT_POLICY) == [
        ("call", now - 30 * DAY + SECOND),
        ("email", now - DAY),
        ("sms", now + DAY),
    ]


# --- properties --------------------------------------------------------------------------

BASE = datetime(2026, 1, 5, tzinfo=UTC)

caps = st.builds(Cap, max=st.integers(1, 3), days=st.integers(1, 14))
policies = st.builds(
    CapPolicy,
    per_channel=st.dictionaries(st.sampled_from(CHANNELS), caps, max_size=4),
    all_channels=st.builds(Cap, max=st.integers(1, 5), days=st.integers(1, 30)),
)
# Contact times on a quarter-hour grid over 60 days, some in the zone, some in UTC.
instants = st.builds(
    lambda quarters, zone: (BASE + timedelta(minutes=15 * quarters)).astimezone(zone),
    st.integers(0, 60 * 96),
    st.sampled_from([UTC, ZURICH]),
)
contacts = st.tuples(st.sampled_from(CHANNELS), instants)
histories = st.lists(contacts, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    history=histories, channel=st.sampled_from(CHANNELS), at=instants, policy=policies
)
def test_property_allowed_matches_the_brute_force_reference(
    history: list[tuple[str, datetime]], channel: str, at: datetime, policy: CapPolicy
) -> None:
    assert allowed(history, channel, at, policy) == reference_allowed(
        history, channel, at, policy
    )


@settings(max_examples=200, deadline=None)
@given(
    history=histories, channel=st.sampled_from(CHANNELS), at=instants, policy=policies
)
def test_property_earliest_allowed_is_allowed_and_nothing_earlier_is(
    history: list[tuple[str, datetime]], channel: str, at: datetime, policy: CapPolicy
) -> None:
    at = at.astimezone(UTC)  # probes are computed in UTC, not on the wall clock
    result = earliest_allowed(history, channel, at, policy)
    assert result >= at
    assert reference_allowed(history, channel, result, policy)
    if result > at:
        # exact: the instant just before is still blocked
        assert not reference_allowed(
            history, channel, result - timedelta(microseconds=1), policy
        )
        steps = 48
        for k in range(1, steps):
            probe = at + (result - at) * k / steps
            assert not reference_allowed(history, channel, probe, policy)


@settings(max_examples=200, deadline=None)
@given(
    requests=st.lists(st.tuples(st.sampled_from(CHANNELS), instants), max_size=12),
    policy=policies,
)
def test_property_placing_every_request_at_earliest_allowed_never_breaks_a_cap(
    requests: list[tuple[str, datetime]], policy: CapPolicy
) -> None:
    # Given requests in any order, including ones before contacts already reserved
    history: list[tuple[str, datetime]] = []
    for channel, at in requests:
        # When each is placed at its earliest allowed instant
        history.append((channel, earliest_allowed(history, channel, at, policy)))
        # Then no window of any cap holds more than its max
        assert reference_violations(history, policy) == 0


@settings(max_examples=200, deadline=None)
@given(
    history=histories,
    channel=st.sampled_from(CHANNELS),
    now=instants,
    later=st.integers(0, 40 * 96),
    policy=policies,
)
def test_property_pruning_changes_no_decision_at_or_after_now(
    history: list[tuple[str, datetime]],
    channel: str,
    now: datetime,
    later: int,
    policy: CapPolicy,
) -> None:
    at = now.astimezone(UTC) + timedelta(minutes=15 * later)
    pruned = prune(history, now, policy)
    assert [at for _, at in pruned] == sorted(at for _, at in pruned)
    assert allowed(pruned, channel, at, policy) == allowed(history, channel, at, policy)
    assert earliest_allowed(pruned, channel, at, policy) == earliest_allowed(
        history, channel, at, policy
    )
