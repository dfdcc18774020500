"""`dispatch run`'s exit status for what a person must act on: a file refused by its header (2, one line naming
the file, line and column) and a run that left messages in a dead-letter queue (3, every queue's depth printed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.cli import main
from tests.e2e import builders as b

CUSTOMER = {"customer_id": "C-1", "household_id": "H-1", "first_name": "Anna", "last_name": "Muster",
            "language": "de", "email": "anna@example.ch", "mobile": "079 123 45 67", "phone_listing": "listed",
            "has_internet": "true", "internet_down_mbps": "100", "has_mobile": "true", "email_consent": "true",
            "sms_consent": "true", "call_consent": "false", "do_not_call": "false", "do_not_mail": "false"}
HOUSEHOLD = {"household_id": "H-1", "street": "Bahnhofstrasse", "house_number": "1", "postcode": "8400",
             "locality": "Winterthur", "commune": "Winterthur", "canton": "ZH",
             "connected_at": "2026-06-08T09:00:00+02:00", "marketable_from": "2026-06-08T10:00:00+02:00",
             "max_down_mbps": "10000", "no_ads_sticker": "false"}


def _csv(path: Path, header: list[str], row: dict[str, str]) -> Path:
    path.write_text(",".join(header) + "\n" + ",".join(row.get(h.strip().lower(), "ZH") for h in header) + "\n",
                    encoding="utf-8")
    return path


def _argv(tmp_path: Path, feed_header: list[str] | None = None) -> list[str]:
    customers = _csv(tmp_path / "customers.csv", b.CUSTOMER_COLUMNS, CUSTOMER)
    feed = _csv(tmp_path / "rollout.csv", feed_header or b.FEED_COLUMNS, HOUSEHOLD)
    return ["run", "--customers", str(customers), "--feed", str(feed), "--days", "2", "--out", str(tmp_path / "out")]


def test_a_duplicated_column_refuses_the_run_with_file_line_and_column(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13.4: the CLI reads the header by the ingest's rule (case, spaces) and names the duplicate."""
    argv = _argv(tmp_path, [*b.FEED_COLUMNS, " Canton"])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"dispatch run: {tmp_path / 'rollout.csv'}:1: duplicate column 'canton'"


def test_a_message_left_in_a_dead_letter_queue_makes_the_run_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13.6: a run that loses messages says so: every DLQ's depth printed, exit 3."""
    import functions.segmenter.handler as segmenter

    real = segmenter.handler

    def poisoned(event: dict[str, Any], context: Any) -> Any:  # the segmenter fails every time for H-1
        failures = [{"itemIdentifier": r["messageId"]} for r in event.get("Records", [])
                    if json.loads(r["body"]).get("detail", {}).get("household_id") == "H-1"]
        if failures:
            return {"batchItemFailures": failures}
        return real(event, context)

    monkeypatch.setattr(segmenter, "handler", poisoned)
    assert main(_argv(tmp_path)) == 3
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("DLQ depths at the end: ")]
    assert "SegmenterDLQ 1" in line and "IngestDLQ 0" in line and "left unprocessed" in line


def test_a_scheduled_run_that_fails_every_attempt_lands_in_its_dlq_and_makes_the_run_exit_3(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Given a journey tick that fails on every attempt (as a bug in the tick would),
    When the run ends,
    Then each failed scheduled run is in ScheduledTasksDLQ, as Lambda's on-failure destination puts it in AWS,
    and the run exits 3 — a handler error is never only a line in the log."""
    import functions.journey.handler as journey

    def broken(event: dict[str, Any], context: Any) -> Any:
        raise ValueError("the tick cannot read a journey")

    monkeypatch.setattr(journey, "handler", broken)
    assert main(_argv(tmp_path)) == 3
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("DLQ depths at the end: ")]
    assert "ScheduledTasksDLQ 0" not in line and "ScheduledTasksDLQ" in line


def test_a_truncated_crm_extract_is_held_and_the_run_stops_naming_the_file_and_the_share(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Given a first extract of five customers and a second, a day later, with only one of them (80 % retired),
    When the run reaches the second,
    Then the extract is held, not applied, and the run stops with one line naming the file and the share."""
    rows = [CUSTOMER | {"customer_id": f"C-{n}", "household_id": f"H-{n}"} for n in range(1, 6)]
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(",".join(b.CUSTOMER_COLUMNS) + "\n" + "".join(
        ",".join(r[c] for c in b.CUSTOMER_COLUMNS) + "\n" for r in rows), encoding="utf-8")
    second.write_text(",".join(b.CUSTOMER_COLUMNS) + "\n" + ",".join(rows[0][c] for c in b.CUSTOMER_COLUMNS) + "\n",
                      encoding="utf-8")
    feed = _csv(tmp_path / "rollout.csv", b.FEED_COLUMNS, HOUSEHOLD)
    argv = ["run", "--customers", str(first), "--customers", f"{second}@2026-06-09T10:00:00+02:00", "--feed",
            str(feed), "--days", "3", "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # the lines before are the progress of the run
    assert last.startswith(f"dispatch run: {second}:0: CRM extract ") and "80.0 %" in last
    assert "held, not applied" in last
