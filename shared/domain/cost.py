"""What one contact costs: the config's unit cost of its channel (print: of its kind), in CHF."""

from __future__ import annotations

from shared.config import UnitCostConfig


def unit_cost(costs: UnitCostConfig, channel: str, kind: str | None) -> float:
    """One contact on `channel` (print: by `kind`), in CHF."""
    if channel == "print":
        return costs.print_personalised if kind == "personalised" else costs.print_partially_addressed
    return float({"email": costs.email, "sms": costs.sms, "call": costs.call}[channel])
