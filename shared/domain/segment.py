"""Who lives at a connected household, in the campaign's terms: the target group and whom to address."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

TargetGroup = Literal["upgrade", "switch", "prospect"]


@dataclass(frozen=True)
class Resident:
    """A CRM customer at the household, reduced to what segmenting needs."""

    customer_id: str
    has_internet: bool
    has_mobile: bool
    internet_down_mbps: int | None
    language: str


@dataclass(frozen=True)
class Segment:
    target_group: TargetGroup | None
    customer_id: str | None
    current_down_mbps: int | None
    language: str | None
    reason: str


def segment_household(residents: Sequence[Resident], max_down_mbps: int) -> Segment:
    """Internet customers are shown new speeds, mobile-only customers get the switch offer, everyone
    else (no customer, or only former customers) is a prospect reached by partially addressed mail.
    An internet customer who already has the best speed on offer has nothing to gain: not eligible."""
    ordered = sorted(residents, key=lambda r: r.customer_id)
    internet = [r for r in ordered if r.has_internet]
    if internet:
        fastest = max((r.internet_down_mbps or 0) for r in internet)
        lead = next(r for r in internet if (r.internet_down_mbps or 0) == fastest)
        if fastest >= max_down_mbps:
            return Segment(None, lead.customer_id, fastest, lead.language,
                           f"already has {fastest} Mbit/s, the best available is {max_down_mbps} Mbit/s")
        return Segment("upgrade", lead.customer_id, fastest, lead.language, "internet customer")
    mobile = [r for r in ordered if r.has_mobile]
    if mobile:
        return Segment("switch", mobile[0].customer_id, None, mobile[0].language, "mobile-only customer")
    reason = "former customer only" if ordered else "no customer at the household"
    return Segment("prospect", None, None, None, reason)


def in_control_group(campaign_id: str, household_id: str, percent: float) -> bool:
    """Deterministic hold-out: the same household is in or out on every run and every machine."""
    digest = hashlib.sha256(f"{campaign_id}:{household_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10_000
    return bucket < round(percent * 100)
