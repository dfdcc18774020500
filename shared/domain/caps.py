"""Contact pressure caps: at most M contacts in any rolling D-day window, per channel and overall."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Contact = tuple[str, datetime]


@dataclass(frozen=True)
class Cap:
    """No half-open window [t, t + days) may contain more than max contacts."""

    max: int
    days: int

    def __post_init__(self) -> None:
        if self.max < 0:
            raise ValueError(f"cap max {self.max}: expected 0 or more contacts")
        if self.days < 1:
            raise ValueError(f"cap days {self.days}: expected 1 or more days")

    @property
    def span(self) -> timedelta:
        return timedelta(days=self.days)


@dataclass(frozen=True)
class CapPolicy:
    """Caps per channel (a channel not listed has none) and one cap over all channels together."""

    per_channel: Mapping[str, Cap]
    all_channels: Cap

    def caps_for(self, channel: str) -> list[tuple[Cap, bool]]:
        """The caps a contact on channel must keep, each with whether it counts that channel only."""
        caps = [(self.all_channels, False)]
        if channel in self.per_channel:
            caps.append((self.per_channel[channel], True))
        return caps

    def switched_off(self, channel: str) -> str | None:
        """Why no contact on channel may ever go out (a cap of max 0 switches it off), or None.

        Not a deferral: no later instant would keep such a cap, so the gate skips the step with
        this reason and the journey goes on to its next one."""
        if self.all_channels.max == 0:
            return "every channel switched off (caps.all_channels.max = 0)"
        own = self.per_channel.get(channel)
        if own is not None and own.max == 0:
            return f"channel {channel} switched off (caps.per_channel.{channel}.max = 0)"
        return None

    @property
    def longest_span(self) -> timedelta:
        return max(
            [self.all_channels.span, *(cap.span for cap in self.per_channel.values())]
        )


def _utc(at: datetime) -> datetime:
    # Everything is compared in UTC: arithmetic on a zoneinfo datetime is wall-clock arithmetic,
    # which would make a 7-day window 167 or 169 hours long across a DST change.
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(
            f"contact time {at.isoformat()}: expected a timezone-aware datetime"
        )
    return at.astimezone(UTC)


def _sorted_times(history: Iterable[Contact], channel: str | None) -> list[datetime]:
    return sorted(_utc(at) for ch, at in history if channel is None or ch == channel)


def _keeps_cap(times: Sequence[datetime], at: datetime, cap: Cap) -> bool:
    """Whether no window containing at already holds cap.max contacts of times (sorted, UTC)."""
    span = cap.span
    # A window containing at can be slid right until it starts at at or at a contact in
    # (at - span, at] without losing any contact, so those starts are the only ones to check.
    earlier = times[bisect_right(times, at - span) : bisect_right(times, at)]
    return all(bisect_left(times, start + span) - bisect_left(times, start) < cap.max for start in [*earlier, at])


def _checks(
    history: Sequence[Contact], channel: str, policy: CapPolicy
) -> list[tuple[list[datetime], Cap]]:
    return [
        (_sorted_times(history, channel if same_channel else None), cap)
        for cap, same_channel in policy.caps_for(channel)
    ]


def allowed(
    history: Sequence[Contact], channel: str, at: datetime, policy: CapPolicy
) -> bool:
    """Whether one more contact on channel at at keeps every cap that applies to it.

    history may hold future (reserved) contacts; they count like past ones. Only windows that
    contain at are judged: a history that already breaks a cap elsewhere does not block at.
    """
    candidate = _utc(at)
    return all(
        _keeps_cap(times, candidate, cap)
        for times, cap in _checks(history, channel, policy)
    )


def earliest_allowed(
    history: Sequence[Contact], channel: str, at: datetime, policy: CapPolicy
) -> datetime:
    """at if allowed, else the earliest later instant at which a contact on channel is allowed.

    The blocked instants form open intervals that end D days after some contact, so the answer
    is exactly the first such end that is allowed. The result is in at's timezone.
    """
    checks = _checks(history, channel, policy)
    candidate = _utc(at)
    ends = sorted(
        {
            t + cap.span
            for times, cap in checks
            for t in times
            if t + cap.span > candidate
        }
    )
    for instant in [candidate, *ends]:
        if all(_keeps_cap(times, instant, cap) for times, cap in checks):
            return instant.astimezone(at.tzinfo)
    raise ValueError(
        f"channel {channel!r}: no contact allowed after {at.isoformat()}: "
        f"{policy.switched_off(channel) or 'no instant keeps the caps'}"
    )


def prune(
    history: Iterable[Contact], now: datetime, policy: CapPolicy
) -> list[Contact]:
    """The contacts that can still affect a decision at or after now, sorted by time.

    A decision at a looks back at most the longest cap span, so a contact at or before
    now - longest span can never be inside a window with it again.
    """
    horizon = _utc(now) - policy.longest_span
    kept = [(channel, at) for channel, at in history if _utc(at) > horizon]
    return sorted(kept, key=lambda contact: (_utc(contact[1]), contact[0]))


def blocking_caps(history: Sequence[Contact], channel: str, at: datetime, policy: CapPolicy) -> list[str]:
    """The caps a contact at `at` would break, in words for a decision's reason."""
    unlimited = Cap(max=len(history) + 1, days=1)
    found = []
    for cap, own in policy.caps_for(channel):
        alone = CapPolicy(per_channel={channel: cap}, all_channels=unlimited) if own else \
            CapPolicy(per_channel={}, all_channels=cap)
        if not allowed(history, channel, at, alone):
            scope = channel if own else "all channels"
            found.append(f"{scope}: at most {cap.max} in {cap.days} days")
    return found
