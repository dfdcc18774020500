"""`dispatch explain`: one household's story from a run's output, in time order."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any


class UnknownHousehold(LookupError):
    """The household does not appear in the run's output."""


def _rows(path: Path, household_id: str) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [row for line in handle if (row := json.loads(line)).get("household_id") == household_id]


def story(out: Path, household_id: str) -> tuple[dict[str, Any] | None, list[tuple[str, str, str]]]:
    """The household's record and its events as (time, what, detail) in time order."""
    households = _rows(out / "households.jsonl", household_id)
    events: list[tuple[str, str, str]] = []
    for c in _rows(out / "contact-history.jsonl", household_id):
        kind = f" ({c['kind']})" if c.get("kind") else ""
        events.append((c["at"], f"contact: {c['channel']}{kind}",
                       f"cycle {c['cycle']} step {c['step']} attempt {c.get('attempt') or 1}, offer {c['offer_id']}"))
    for d in _rows(out / "decisions.jsonl", household_id):
        where = f" {d['channel']}" if d.get("channel") else ""
        step = f" (cycle {d['cycle']} step {d['step']})" if d.get("cycle") else ""
        events.append((d["at"], f"{d['decision']}{where}{step}", d["reason"]))
    for r in _rows(out / "responses.jsonl", household_id):
        detail = r.get("channel") or r.get("outcome") or ""
        events.append((r["at"], f"response: {r['type']}", detail))
    rejected = out / "rejected.csv"
    if rejected.is_file():
        with rejected.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if household_id in row.get("raw", "").split(","):
                    events.append(("", f"rejected {row['source']} line {row['line']}", row["reason"]))
    events.sort(key=lambda e: e[0])
    return (households[0] if households else None), events


def explain(out: Path, household_id: str) -> str:
    household, events = story(out, household_id)
    if household is None and not events:
        raise UnknownHousehold(f"household {household_id!r} does not appear in {out}")
    lines = [f"household {household_id}"]
    if household:
        group = household.get("target_group") or "not eligible"
        control = ", control group" if household.get("control_group") else ""
        lines.append(f"  {household.get('commune')} ({household.get('canton')}), connected "
                     f"{household.get('connected_at')}, marketable from {household.get('marketable_from')}")
        ended = f" ({household['end_reason']})" if household.get("end_reason") else ""
        lines.append(f"  segment: {group}{control}; offer: {household.get('offer_id') or '-'}; journey: "
                     f"{household.get('journey_status')}{ended}")
    for at, what, detail in events:
        lines.append(f"  {at or '(input)':<26} {what:<40} {detail}")
    return "\n".join(lines)
