"""Replaying input files at the second (infra.replay): rows enter at their own `at`, relative to the schedules.

Issue 12, finding 9: rows were grouped by the hour and entered at the hour's latest time, so an order at 10:00
did not stop the 10:00 email when another response fell at 10:20.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.replay import drops, timed_rows, whole_file
from infra.runtime import _next_fire

START = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
HOURLY = _next_fire("rate(1 hour)", UTC)


def first_hourly_firing(at: datetime) -> datetime:
    return HOURLY(at - timedelta(microseconds=1))


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_an_order_at_the_full_hour_enters_before_that_hours_tick_even_with_a_later_response(tmp_path: Path) -> None:
    """Given responses at 09:30, 10:00:00 (an order) and 10:20, and a journey tick every full hour,
    When the file is cut into drops,
    Then the order enters at 10:00:00 — before the 10:00 tick fires — and the 10:20 response after it."""
    responses = _write(tmp_path / "responses.csv", "at,household_id,customer_id,type,channel,outcome", [
        "2027-03-01T09:30:00Z,H-1,,opt_out,sms,", "2027-03-01T10:00:00Z,H-2,,order,,",
        "2027-03-01T10:20:00Z,H-3,,opt_out,email,"])
    found = list(drops(timed_rows(responses, "at", "responses/", START, 1), first_hourly_firing))
    assert [(d.at.strftime("%H:%M"), d.lines) for d in found] == [("10:00", [2, 3]), ("10:20", [4])]
    assert b"H-2" in found[0].body and b"H-3" not in found[0].body


def test_rows_of_different_files_never_share_a_drop_and_keep_their_order(tmp_path: Path) -> None:
    """Given a feed row at 10:05, a response at 10:06 and another feed row at 10:07, with no schedule between,
    When the rows are cut into drops,
    Then three drops enter in that order: a response is never applied after a later feed row."""
    feed = _write(tmp_path / "feed.csv", "household_id,connected_at", [
        "H-1,2027-03-01T10:05:00Z", "H-2,2027-03-01T10:07:00Z"])
    responses = _write(tmp_path / "responses.csv", "at,household_id", ["2027-03-01T10:06:00Z,H-1"])
    rows = timed_rows(feed, "connected_at", "feed/", START, 2) + timed_rows(responses, "at", "responses/", START, 1)
    found = list(drops(rows, first_hourly_firing))
    assert [(d.key.split("/")[0], d.at.strftime("%H:%M")) for d in found] == [
        ("feed", "10:05"), ("responses", "10:06"), ("feed", "10:07")]


def test_a_communes_connections_within_an_hour_are_one_drop(tmp_path: Path) -> None:
    """Given 500 feed rows between 10:00:01 and 10:59:59 and nothing else,
    When they are cut into drops,
    Then they enter as one drop at the last row's time, with every original line number."""
    rows = [f"H-{n},2027-03-01T10:{n % 59 + 1:02d}:{n % 60:02d}Z" for n in range(500)]
    feed = _write(tmp_path / "feed.csv", "household_id,connected_at", rows)
    [drop] = list(drops(timed_rows(feed, "connected_at", "feed/", START, 2), first_hourly_firing))
    assert sorted(drop.lines) == list(range(2, 502))


def test_a_later_crm_extract_enters_whole_at_its_time_before_rows_of_the_same_instant(tmp_path: Path) -> None:
    """Given a feed row at 12:00 and a second CRM extract at 12:00,
    When the inputs are cut into drops,
    Then the extract enters whole, first, under its own key, then the feed row."""
    feed = _write(tmp_path / "feed.csv", "household_id,connected_at", ["H-1,2027-03-01T12:00:00Z"])
    extract = _write(tmp_path / "b.csv", "customer_id,household_id", ["C-1,H-1"])
    at = datetime(2027, 3, 1, 12, tzinfo=UTC)
    rows = [*timed_rows(feed, "connected_at", "feed/", START, 2), whole_file(extract, "crm/", "customers-2.csv", at, 0)]
    found = list(drops(rows, first_hourly_firing))
    assert found[0].key == "crm/customers-2.csv"
    assert found[0].body == extract.read_bytes() and found[0].source == extract
