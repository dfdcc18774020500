"""The benchmark's own arithmetic: what it prints must follow from what it measured."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from infra.bench import (
    RequestCounter,
    _batch_figures,
    capacity_note,
    describe_event,
    document,
    feed_validation,
    first_invocation,
    function_capacities,
    table,
)

RUN = {"households": 10, "seconds": 5.0, "contacts": 9, "peak_rss_mb": 100.0,
       "function_requests": {"dynamodb.Query": 30, "events.PutEvents": 20}, "runtime_requests": {"sqs.X": 5},
       "requests_by_function": {"JourneyFunction": {"dynamodb.Query": 30, "events.PutEvents": 5},
                                "SegmenterFunction": {"events.PutEvents": 15}}}
IMPORTS = {"boto3 (bare)": 0.2, "email": 0.3, "sms": 0.25}
FEED = {"rows": 1000.0, "seconds": 0.5, "rows_per_second": 2000.0, "peak_rss_mb": 40.0}


def test_the_generated_feed_validates_completely() -> None:
    result = feed_validation(500)
    assert (result["accepted"], result["rejected"]) == (500, 0)
    assert result["rows_per_second"] > 0


def test_the_table_reports_requests_per_household_and_import_ratios() -> None:
    text = table(RUN, IMPORTS, FEED)
    assert "2.0 households/s" in text
    assert "functions' own: 5.00 (target <= 6.0)" in text
    assert "dynamodb.Query" in text and "3.000" in text
    assert "1.50x" in text
    assert "2000 rows/s" in text
    assert "first invocation" not in text  # not measured: not claimed


def test_the_second_table_splits_the_requests_by_function() -> None:
    lines = table(RUN, IMPORTS, FEED).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("AWS requests per household by function"))
    journey, segmenter = lines[start + 1], lines[start + 2]  # the busiest function first
    assert journey.split()[:2] == ["JourneyFunction", "3.500"]
    assert journey.endswith("dynamodb.Query 3.000, events.PutEvents 0.500")
    assert segmenter.split()[:2] == ["SegmenterFunction", "1.500"]
    # the by-operation table above it is unchanged: one line per operation, per household
    assert "  dynamodb.Query                             3.000" in lines


def test_the_first_invocation_is_reported_beside_the_import() -> None:
    first = {"email": {"import": 0.3, "invoke": 0.85, "requests": ["s3.GetObject", "sesv2.SendEmail"],
                       "event": "SQS batch of 2: ContactRequested", "error": None}}
    text = table(RUN, IMPORTS, FEED, first)
    email = next(line for line in text.splitlines() if "functions.email" in line)
    assert "300 ms  1.50x" in email
    assert "first invocation    850 ms,  2 AWS requests (SQS batch of 2: ContactRequested)" in email
    sms = next(line for line in text.splitlines() if "functions.sms" in line)
    assert "1.25x" in sms and "not reached" in sms
    assert "local emulator" in text


def test_a_failed_first_invocation_is_not_hidden() -> None:
    first = {"email": {"import": 0.3, "invoke": 0.1, "requests": [], "event": "event", "error": "KeyError: 'x'"}}
    assert "FAILED: KeyError: 'x'" in table(RUN, IMPORTS, FEED, first)


def test_request_counter_tells_functions_and_runtime_apart() -> None:
    registered: list[Any] = []
    client = SimpleNamespace(meta=SimpleNamespace(
        service_model=SimpleNamespace(service_name="dynamodb"),
        events=SimpleNamespace(register=lambda name, fn: registered.append(fn))))
    counter = RequestCounter()
    counter.hook(client)
    [count] = registered
    count(SimpleNamespace(name="Query"))
    counter.in_handler.function = "JourneyFunction"
    count(SimpleNamespace(name="Query"))
    count(SimpleNamespace(name="PutItem"))
    assert counter.by_runtime == {"dynamodb.Query": 1}
    assert counter.by_function == {"dynamodb.Query": 1, "dynamodb.PutItem": 1}
    assert counter.by_handler == {"JourneyFunction": {"dynamodb.Query": 1, "dynamodb.PutItem": 1}}


def test_batch_figures_leave_out_the_cold_first_invocation() -> None:
    figures = _batch_figures([(5.0, 1), (0.2, 10), (0.4, 6), (0.1, 0)])
    assert figures["count"] == 4
    assert figures["batch_seconds"] == pytest.approx(0.3)
    assert figures["batch_records"] == pytest.approx(8)
    assert figures["warm_seconds"] == pytest.approx(0.7 / 3)


def test_events_are_described() -> None:
    body = json.dumps({"detail-type": "ContactRequested"})
    assert describe_event({"Records": [{"body": body}, {"body": body}]}) == "SQS batch of 2: ContactRequested"
    assert describe_event({"task": "tick", "scheduled_time": "2026-03-02T10:00:00Z"}) == "scheduled task tick"
    assert describe_event({"requestContext": {"http": {"method": "GET", "path": "/x"}}}) == "HTTP GET /x"


def test_first_invocation_runs_in_a_fresh_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "probe_handler.py").write_text(
        "import sys\n"
        "LOADED = sorted(m for m in sys.modules if m.startswith('infra'))\n"
        "def handler(event, context):\n"
        "    print('a log line on stdout')\n"
        "    return {'echo': event, 'name': context.function_name, 'loaded': LOADED}\n"
        "def broken(event, context):\n"
        "    raise KeyError('x')\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    measured = first_invocation("probe_handler.handler", {"task": "tick"}, "ProbeFunction")
    assert measured["result"] == {"echo": {"task": "tick"}, "name": "ProbeFunction", "loaded": []}
    assert measured["error"] is None and measured["requests"] == []
    assert measured["import"] > 0 and measured["invoke"] > 0
    assert measured["event"] == "scheduled task tick"
    failed = first_invocation("probe_handler.broken", {}, "ProbeFunction")
    assert failed["error"] == "KeyError: 'x'"


TEMPLATE: dict[str, Any] = {
    "Parameters": {"DueShards": {"Default": "8"}, "BudgetShards": {"Default": "16"},
                   "TickRate": {"Default": "rate(1 hour)"}},
    "Globals": {"Function": {"MemorySize": 512, "Timeout": 60}},
    "Resources": {
        "EmailQueue": {"Type": "AWS::SQS::Queue",
                       "Properties": {"VisibilityTimeout": 360,
                                      "RedrivePolicy": {"deadLetterTargetArn": {}, "maxReceiveCount": 5}}},
        "EmailFunction": {"Type": "AWS::Serverless::Function", "Properties": {
            "Handler": "functions.email.handler.handler", "Events": {"Queue": {"Type": "SQS", "Properties": {
                "Queue": {"Fn::GetAtt": ["EmailQueue", "Arn"]}, "BatchSize": 10,
                "ScalingConfig": {"MaximumConcurrency": 4}}}}}},
        "JourneyFunction": {"Type": "AWS::Serverless::Function", "Properties": {
            "Handler": "functions.journey.handler.handler", "Timeout": 300, "ReservedConcurrentExecutions": 1,
            "Events": {"Tick": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": {"Ref": "TickRate"}}}}}},
        "JourneysTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "KeySchema": [{"AttributeName": "household_id", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [{"IndexName": "due", "KeySchema": [
                {"AttributeName": "due_shard", "KeyType": "HASH"}, {"AttributeName": "due_at", "KeyType": "RANGE"}]}]}},
    },
}


def test_function_capacities_come_from_the_template() -> None:
    email, journey = function_capacities(TEMPLATE)
    assert (email.logical_id, email.queue, email.batch_size, email.max_concurrency, email.max_receive) == (
        "EmailFunction", "EmailQueue", 10, 4, 5)
    assert (email.memory_mb, email.timeout_s, email.reserved, email.visibility_s) == (512, 60, None, 360)
    assert (journey.timeout_s, journey.reserved, journey.schedules, journey.queue) == (300, 1, ("rate(1 hour)",), None)


def test_capacity_note_computes_the_email_rate_from_the_cap_and_the_measured_duration() -> None:
    run = {"invocations": {"EmailFunction": {"count": 3, "warm_seconds": 0.5, "batch_seconds": 0.5,
                                             "batch_records": 5}}}
    note = capacity_note(TEMPLATE, run)
    assert "| EmailFunction | 512 MB | 60 s | SQS EmailQueue | 10 | 4 | - | 360 s (6.0× timeout) |" in note
    assert "| JourneyFunction | 512 MB | 300 s | schedule rate(1 hour) | - | account | 1 | - |" in note
    assert "at most 4 concurrent executions" in note and "Reserved concurrency: JourneyFunction 1" in note
    assert "JourneyFunction fires every 3600 s with a timeout of 300 s: its runs cannot overlap" in note
    assert "at least 6× the function's timeout" in note
    # 100 ms a message, 4 concurrent: at most 40 emails/s; 40 in flight need >= 40 s a batch at 1/s
    assert ("| EmailFunction | email | 4 × 10 = 40 | 100 ms | 40/s | SES sandbox: 1/s | "
            ">= 40.0 s (4.00 s a message) |") in note
    assert "SES production (example): 14/s | >= 2.9 s" in note
    assert "| JourneysTable | household_id | - | due (due_shard / due_at) |" in note
    assert "`DueShards` = 8" in note and "8,000 items/s" in note
    assert "`BudgetShards` = 16" in note and "16,000 reservations/s" in note
    assert "maxReceiveCount (5 for email" in note
    short = {**TEMPLATE, "Resources": {**TEMPLATE["Resources"], "EmailQueue": {
        "Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 100}}}}
    assert "Visibility timeout below 6× the function's timeout: EmailFunction." in capacity_note(short)


def test_capacity_note_of_the_real_template_names_every_function() -> None:
    from infra.template import functions, load_template

    template = load_template()
    note = capacity_note(template)
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in note.splitlines()
            if line.startswith("| ") and "MB" in line}
    for spec in functions(template):
        row = rows[spec.logical_id]
        for queue in spec.queues:
            assert f"SQS {queue.queue}" in row[3] and row[4] == str(queue.batch_size)


def test_document_holds_the_figures_the_explanations_and_the_capacity_note() -> None:
    text = table(RUN, IMPORTS, FEED)
    page = document(text, RUN, template=TEMPLATE, command="dispatch bench --write docs/performance.md")
    assert page.startswith("# Performance: measured\n")
    assert "`dispatch bench --write docs/performance.md`" in page
    assert "```\n" + text + "\n```" in page
    assert "## What the figures mean" in page and "## Capacity on AWS" in page


def test_the_cli_passes_write_to_the_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import infra.bench
    from infra.cli import main

    calls: list[tuple[Any, ...]] = []

    def fake(households: int, feed_rows: int, seed: int = 11, write: Path | None = None) -> str:
        calls.append((households, feed_rows, write))
        return "figures"

    monkeypatch.setattr(infra.bench, "bench", fake)
    assert main(["bench", "--households", "3", "--feed-rows", "10", "--write", str(tmp_path / "p.md")]) == 0
    assert calls == [(3, 10, tmp_path / "p.md")]
    assert "figures" in capsys.readouterr().out
