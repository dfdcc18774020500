"""The monthly budget in exact integer micro-francs: its split over shards and how a contact's cost is taken."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

# Micro-francs, not centimes: unit costs like email's CHF 0.002 are fractions of a centime.
MICRO = 1_000_000
Share = tuple[int, int]  # (shard, micro-francs taken from it)


def micro_chf(chf: float, *, round_up: bool) -> int:
    """CHF as integer micro-francs; costs round up and budgets down, so rounding never overspends."""
    exact = Decimal(str(chf)) * MICRO
    return int(exact.to_integral_value(rounding=ROUND_CEILING if round_up else ROUND_FLOOR))


def chf_text(micro: int) -> str:
    """Micro-francs as francs for people: two decimals, more only where the amount has them."""
    amount = Decimal(micro) / MICRO
    return f"{amount:.2f}" if amount == amount.quantize(Decimal("0.01")) else f"{amount.normalize():f}"


def shard_limits(monthly_micro: int, shards: int) -> list[int]:
    """The month's budget split over the shards: as even as integers allow, summing exactly to it."""
    base, extra = divmod(monthly_micro, shards)
    return [base + (1 if shard < extra else 0) for shard in range(shards)]


def shard_order(household_id: str, shards: int) -> list[int]:
    """The shards a household's contacts draw on: its home shard (a stable hash) first, then the next ones
    round the ring, so households spread over the shards and a short home shard borrows from its neighbours."""
    home = int.from_bytes(hashlib.sha256(household_id.encode("utf-8")).digest()[:8], "big") % shards
    return [(home + step) % shards for step in range(shards)]


def plan_shares(remaining: Mapping[int, int], order: Sequence[int], cost: int) -> list[Share] | None:
    """How to take `cost` from the shards, in `order`: the whole cost from the first that can pay it,
    else in parts from several, so no money is stranded in shards too small for one contact.
    None when all the shards together cannot pay: the month is short."""
    if cost <= 0:
        return []
    whole = next((shard for shard in order if remaining.get(shard, 0) >= cost), None)
    if whole is not None:
        return [(whole, cost)]
    shares: list[Share] = []
    left = cost
    for shard in order:
        take = min(left, max(0, remaining.get(shard, 0)))
        if take:
            shares.append((shard, take))
            left -= take
        if left == 0:
            return shares
    return None


def month_of(at: datetime, tz: ZoneInfo) -> str:
    """The calendar month in the campaign's time zone that a contact made at `at` is paid from."""
    return at.astimezone(tz).strftime("%Y-%m")


def next_month_start(at: datetime, tz: ZoneInfo) -> datetime:
    """00:00 local time on the first day of the month after `at`'s."""
    local = at.astimezone(tz)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=tz)


def spending_pace(spent_micro: int, monthly_micro: int, at: datetime, tz: ZoneInfo) -> float:
    """How fast the month's budget goes: the share spent divided by the share of the month's days begun at
    `at` (its own day included, so a day may spend its day's share). Above 1: faster than the month."""
    import calendar

    if monthly_micro <= 0:
        return 0.0
    local = at.astimezone(tz)
    days = calendar.monthrange(local.year, local.month)[1]
    return (spent_micro / monthly_micro) / (local.day / days)
