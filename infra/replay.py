"""Replaying input files on the simulated clock: every row enters at its own time, to the second.

Rows of all files are taken in time order. Consecutive rows of one file go into one drop as long as no
scheduled task (journey tick, print cut-off, call-list export) falls between the first and the last of
them and no row of another file does: such a drop, entering at its last row's time, changes nothing any
function could see against rows entering one by one — and a commune's ten thousand connections in an hour
cost one drop, not ten thousand. Rows keep their original text; each drop remembers its rows' line
numbers in the original file, so a rejection names the line a person can find.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
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
    source: Path | None = None  # the file a whole-file drop came from


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


@dataclass(frozen=True)
class TimedRow:
    at: datetime
    rank: int  # at the same instant: a CRM extract first, then responses, then feed rows
    prefix: str
    head: str
    line: int
    raw: str
    whole: Path | None = None  # a file that enters whole (a CRM extract), under the key prefix + raw


def timed_rows(path: Path, time_column: str, prefix: str, start: datetime, rank: int) -> list[TimedRow]:
    """Every record of the file with the instant it enters (unreadable times: at the start, to be rejected)."""
    head_text, columns = header(path)
    if time_column not in columns:
        raise InputFileError(str(path), 1, f"missing required column: {time_column}")
    index = columns.index(time_column)
    rows = []
    for line, fields, raw in records(path):
        at = _parse(fields[index]) if index < len(fields) else None
        rows.append(TimedRow(max(at, start) if at is not None else start, rank, prefix, head_text, line, raw))
    return rows


def whole_file(path: Path, prefix: str, name: str, at: datetime, rank: int) -> TimedRow:
    """A file that enters whole at one instant (a CRM extract, a full snapshot): one row stands for it."""
    return TimedRow(at, rank, prefix, "", 0, name, whole=path)


def drops(rows: list[TimedRow], first_firing: Callable[[datetime], datetime | None]) -> Iterator[Drop]:
    """The drops of these rows in time order; `first_firing(t)`: the first scheduled firing at or after t."""
    group: list[TimedRow] = []
    closes: datetime | None = None  # the first firing at or after the group's first row: no row may pass it
    for row in sorted(rows, key=lambda r: (r.at, r.rank, r.line)):
        if group and not _joins(group[0], row, closes):
            yield _drop(group)
            group = []
        if not group:
            closes = first_firing(row.at)
        group.append(row)
    if group:
        yield _drop(group)


def _joins(first: TimedRow, row: TimedRow, closes: datetime | None) -> bool:
    if row.prefix != first.prefix or row.whole is not None or first.whole is not None:
        return False
    return closes is None or closes >= row.at


def _drop(group: list[TimedRow]) -> Drop:
    last = group[-1]
    if last.whole is not None:
        return Drop(last.at, f"{last.prefix}{last.raw}", last.whole.read_bytes(), [], source=last.whole)
    body = last.head + "".join(r.raw if r.raw.endswith("\n") else r.raw + "\n" for r in group)
    lines = [r.line + k for r in group for k in range(max(1, r.raw.count("\n")))]
    key = f"{last.prefix}{group[0].at.strftime('%Y%m%dT%H%M%S')}-{last.at.strftime('%H%M%S')}-{group[0].line}.csv"
    return Drop(last.at, key, body.encode("utf-8"), lines)


def _parse(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None
