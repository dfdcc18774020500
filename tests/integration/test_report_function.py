"""The scheduled report function: the stack's lake and reports bucket from its environment, Athena in AWS, DuckDB
on the emulator, and the day's report written under its date and as the latest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.aws import client


def test_deployed_it_queries_athena_in_the_stacks_workgroup(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.report.athena import AthenaLake
    from shared.report.stack import lake_engine, stack_lake
    from shared.settings import settings

    monkeypatch.delenv("LAKE_ENGINE", raising=False)
    lake = stack_lake(settings())
    engine = lake_engine(lake)
    assert isinstance(engine, AthenaLake)
    assert (engine.workgroup, engine.database, engine.table) == (
        stack.refs["LakeWorkGroup"], stack.refs["LakeDatabase"], "history")
    assert (lake.lake_bucket, lake.reports_bucket) == (stack.refs["LakeBucket"], stack.refs["ReportsBucket"])


def test_the_days_report_is_written_under_its_date_and_as_the_latest(stack: Any, runtime: Any,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Any) -> None:
    from functions.report.handler import handler
    from infra.lambda_context import LambdaContext
    from shared.stores.dynamo import to_item

    monkeypatch.setenv("LAKE_ENGINE", "duckdb")
    monkeypatch.setenv("LAKE_CACHE_DIR", str(tmp_path))
    client("dynamodb").put_item(TableName=stack.refs["ContactsTable"], Item=to_item({
        "household_id": "HH-1", "sk": "contact#j#c01#s01#a01", "contact_id": "c-1", "channel": "email",
        "target_group": "upgrade", "cycle": 1, "step": 1, "at": "2026-06-08T09:00:00+02:00", "cost_chf": "0.002",
        "status": "sent"}))
    runtime.poll_streams()
    result = handler({"task": "report", "scheduled_time": "2026-06-09T03:00:00Z"}, LambdaContext("ReportFunction"))
    assert result["result"] == {"day": "2026-06-09", "contacts": 1}
    s3 = client("s3")
    bucket = stack.refs["ReportsBucket"]
    for prefix in ("reports/2026-06-09/", "reports/latest/"):
        report = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "report.json")["Body"].read())
        assert report["totals"]["contacts"] == 1 and report["by_channel"][0]["cost_chf"] == 0.0
        assert report["as_of"] == datetime(2026, 6, 9, 3, tzinfo=UTC).isoformat()
        page = s3.get_object(Bucket=bucket, Key=prefix + "report.html")
        assert page["ContentType"].startswith("text/html")


def test_a_stack_no_run_fed_reports_what_its_data_spans(stack: Any) -> None:
    from shared.campaign import campaign
    from shared.report.stack import RUN_KEY, stack_lake, stack_meta
    from shared.settings import settings

    lake = stack_lake(settings())
    now = datetime(2026, 6, 9, 3, tzinfo=UTC)
    meta = stack_meta(lake, campaign(), now)
    assert (meta.start, meta.end) == (None, None)  # no run.json: the period is what the rows span
    client("s3").put_object(Bucket=lake.reports_bucket, Key=RUN_KEY, Body=json.dumps(
        {"start": "2026-06-01T00:00:00+02:00", "end": "2026-06-08T00:00:00+02:00", "campaign_id": "c"}).encode())
    meta = stack_meta(lake, campaign(), now)
    assert (meta.start.isoformat(), meta.end.isoformat(), meta.campaign_id) == (
        "2026-06-01T00:00:00+02:00", "2026-06-08T00:00:00+02:00", "c")
