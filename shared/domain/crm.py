"""A CRM extract is a snapshot: what a new one changes against the customers we hold, and whether it is
plausible enough to apply (an extract that would retire an implausible share of the base is held).

Pure: keys and profiles in, the plan out. A key is (household_id, customer_id), the customers table's key;
a profile is whatever of a customer decides the household's segment (compared for equality only).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

CustomerKey = tuple[str, str]  # (household_id, customer_id)


@dataclass(frozen=True)
class ExtractPlan:
    """What applying an extract does, and whether it may."""

    retired: frozenset[CustomerKey]  # items to remove: customers who left, and moved customers' old households
    left: frozenset[str]  # customer ids missing from the extract
    moved: Mapping[str, tuple[str, str]]  # customer id -> (old household, new household)
    resegment: frozenset[str]  # households whose residents changed
    before: int  # customers held before (distinct ids)
    after: int  # customers in the extract
    retire_percent: float  # left / before, in percent (0 for the first extract)
    threshold: float
    held: bool

    @property
    def reason(self) -> str:
        return (f"would retire {self.retire_percent:.1f} % of {self.before} customers "
                f"({len(self.left)} missing from an extract of {self.after}), more than the "
                f"{self.threshold:g} % allowed (crm.max_retire_percent)")


def plan_extract(held_now: Mapping[CustomerKey, Hashable], extract: Mapping[CustomerKey, Hashable],
                 max_retire_percent: float, *, force: bool = False) -> ExtractPlan:
    """Compare the customers held (`held_now`) with a full extract: who is retired, who moved, which households
    are segmented again; held when more than `max_retire_percent` of the customers would be retired (never the
    first extract, never when `force`d by an operator's release)."""
    old_homes = _homes(held_now)
    new_homes = {customer: household for household, customer in extract}
    retired = frozenset(key for key in held_now if key not in extract)
    left = frozenset(customer for customer in old_homes if customer not in new_homes)
    moved = {c: (sorted(old_homes[c] - {new_homes[c]})[0], new_homes[c])
             for c in old_homes if c in new_homes and new_homes[c] not in old_homes[c]}
    added = {key for key in extract if key not in held_now}
    changed = {key for key in extract if key in held_now and held_now[key] != extract[key]}
    resegment = frozenset(household for household, _ in retired | added | changed)
    before = len(old_homes)
    share = 100.0 * len(left) / before if before else 0.0
    held = before > 0 and share > max_retire_percent and not force
    return ExtractPlan(retired=retired, left=left, moved=moved, resegment=resegment, before=before,
                       after=len(new_homes), retire_percent=share, threshold=max_retire_percent, held=held)


def _homes(keys: Mapping[CustomerKey, Hashable]) -> dict[str, set[str]]:
    homes: dict[str, set[str]] = {}
    for household, customer in keys:
        homes.setdefault(customer, set()).add(household)
    return homes
