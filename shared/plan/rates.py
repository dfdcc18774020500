"""Response assumptions for the plan: per target group and channel, the share of contacts followed by an order
or an opt-out within N days — from a YAML file, or measured in an earlier run's `report.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.config import CHANNELS, TARGET_GROUPS

OUTCOMES = ("order", "opt_out")
DEFAULT_WITHIN_DAYS = 14


class RatesError(ValueError):
    """A rates file that cannot be used, naming the file and the key."""


@dataclass(frozen=True)
class Rate:
    share: float
    sample: int | None = None  # contacts it was measured on (from a report): the interval of the rate


@dataclass(frozen=True)
class Rates:
    """Nobody reacts unless a rate says so: without rates the plan is the upper bound of volume and cost."""

    within_days: int = DEFAULT_WITHIN_DAYS
    shares: dict[tuple[str, str, str], Rate] = field(default_factory=dict)  # (group, channel, outcome)
    source: str = "none (nobody reacts: the upper bound)"

    def outcomes(self, group: str, channel: str) -> dict[str, float]:
        return {o: self.shares[(group, channel, o)].share for o in OUTCOMES if (group, channel, o) in self.shares}

    def reacting(self, group: str, channel: str) -> float:
        return min(1.0, sum(self.outcomes(group, channel).values()))


def load_rates(path: Path | None) -> Rates:
    if path is None:
        return Rates()
    if not path.is_file():
        raise RatesError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".json":
        return _from_report(json.loads(text), str(path))
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RatesError(f"{path}: not valid YAML: {exc}") from exc
    return _from_yaml(data, str(path))


def _from_yaml(data: Any, name: str) -> Rates:
    """within_days: N, and per target group and channel {order: share, opt_out: share}."""
    if not isinstance(data, dict):
        raise RatesError(f"{name}: expected a mapping (within_days, and target groups)")
    within = data.pop("within_days", DEFAULT_WITHIN_DAYS)
    if not isinstance(within, int) or within < 0:
        raise RatesError(f"{name}: within_days: {within!r}: expected a whole number of days >= 0")
    shares: dict[tuple[str, str, str], Rate] = {}
    for group, channels in data.items():
        if group not in TARGET_GROUPS:
            raise RatesError(f"{name}: {group}: unknown target group; expected one of {', '.join(TARGET_GROUPS)}")
        for channel, outcomes in (channels or {}).items():
            if channel not in CHANNELS:
                raise RatesError(f"{name}: {group}.{channel}: unknown channel; expected one of {', '.join(CHANNELS)}")
            for outcome, share in (outcomes or {}).items():
                where = f"{name}: {group}.{channel}.{outcome}"
                if outcome not in OUTCOMES:
                    raise RatesError(f"{where}: unknown outcome; expected order or opt_out")
                if not isinstance(share, int | float) or not 0 <= share <= 1:
                    raise RatesError(f"{where}: {share!r}: expected a share between 0 and 1")
                shares[(group, channel, outcome)] = Rate(float(share))
    return Rates(within, shares, name)


def _from_report(report: Any, name: str) -> Rates:
    """Orders per contact by target group and channel, as the report measured them (cycles added up)."""
    cells = report.get("by_group_channel_cycle") if isinstance(report, dict) else None
    if not isinstance(cells, list):
        raise RatesError(f"{name}: not a report.json (no by_group_channel_cycle)")
    contacts: dict[tuple[str, str], int] = {}
    orders: dict[tuple[str, str], int] = {}
    for cell in cells:
        key = (str(cell["target_group"]), str(cell["channel"]))
        contacts[key] = contacts.get(key, 0) + int(cell["contacts"])
        orders[key] = orders.get(key, 0) + int(cell["orders"])
    shares = {(g, c, "order"): Rate(orders[(g, c)] / n, n) for (g, c), n in contacts.items() if n > 0}
    return Rates(DEFAULT_WITHIN_DAYS, shares, f"{name} (orders per contact of that run)")
