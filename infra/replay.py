"""Replaying input files on the simulated clock: rows enter at their own time, in hourly drops.

A file is split into drops of the rows whose time falls in one hour; a drop enters at the latest
time among its rows, so no row enters before its time and none later than the next journey tick.
Rows keep their original text; each drop remembers its rows' line numbers in the original file,
so a rejection names the line a person can find.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shared.inputs import InputFileError, header_names


@dataclass
class Drop:
    at: datetime
    key: str
    body: bytes
    lines: list[int]  # original line of each physical line after the header (drop line 2 is lines[0])


def records(path: Path) -> Iterator[tuple[int, list[str], str]]:
    """(first physical line, fields, raw text) of every record after the header."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        used: list[str] = []

        def feed() -> Iterator[str]:
            for line in handle:
                used.append(line)
                yield line

        reader = csv.reader(feed())
        next(reader, None)
        line = 1 + len(used)
        used.clear()
        for fields in reader:
            raw = "".join(used)
            used.clear()
            yield line, fields, raw
            line += raw.count("\n") or 1


def header(path: Path) -> tuple[str, list[str]]:
    """(the header's text, its column names as the ingest reads them: shared.inputs.header_names)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
    if not first.strip():
        raise InputFileError(str(path), 1, "empty file: expected a header row")
    try:
        fields = next(csv.reader([first]))
    except csv.Error as exc:
        raise InputFileError(str(path), 1, f"unreadable header: {exc}") from None
    return first if first.endswith("\n") else first + "\n", header_names(fields)


def timed_drops(path: Path, time_column: str, prefix: str, start: datetime) -> list[Drop]:
    head_text, columns = header(path)
    if time_column not in columns:
        raise InputFileError(str(path), 1, f"missing required column: {time_column}")
    index = columns.index(time_column)
    groups: dict[datetime, list[tuple[datetime, int, str]]] = defaultdict(list)
    for line, fields, raw in records(path):
        at = _parse(fields[index]) if index < len(fields) else None
        at = max(at, start) if at is not None else start  # unreadable times enter first and are rejected
        groups[at.replace(minute=0, second=0, microsecond=0)].append((at, line, raw))
    drops = []
    for hour in sorted(groups):
        rows = sorted(groups[hour], key=lambda r: r[1])
        body = head_text + "".join(raw if raw.endswith("\n") else raw + "\n" for _, _, raw in rows)
        at = max(r[0] for r in rows)
        lines = [line + k for _, line, raw in rows for k in range(max(1, raw.count("\n")))]
        drops.append(Drop(at, f"{prefix}{hour.strftime('%Y%m%dT%H')}.csv", body.encode("utf-8"), lines))
    return drops


def _parse(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None
