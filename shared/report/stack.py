"""The report of a deployed stack: the same queries over its contact-history lake, written to its reports bucket.

In AWS the queries run on Athena, in the stack's workgroup, over the Glue table `history`. On an emulator
(moto, where Athena answers no rows) they run on DuckDB over the lake bucket's files, which the emulator's
Firehose leaves as JSON lines: `LAKE_ENGINE=duckdb` (the local runtime sets it; `dispatch report` with
`--endpoint-url` does the same).

The period: a stack provisioned by `dispatch run` keeps its run's `run.json` in the reports bucket, and its
report covers that run's period, as the run's own report does; any other stack's report covers what its
data spans (the budget counts the months that hold contacts; the communes' weeks run from their first
connected household).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from shared.campaign import Campaign
    from shared.settings import Settings

RUN_KEY = "reports/run.json"
LATEST_PREFIX = "reports/latest/"
CACHE_ENV = "LAKE_CACHE_DIR"


@dataclass(frozen=True)
class StackLake:
    """Where a stack's lake and reports are."""

    lake_bucket: str
    reports_bucket: str
    database: str
    workgroup: str
    table: str = "history"


def stack_lake(s: Settings) -> StackLake:
    database = os.environ.get("LAKE_DATABASE", "")
    workgroup = os.environ.get("LAKE_WORKGROUP", "")
    return StackLake(s.lake_bucket, s.reports_bucket, database, workgroup)


def day_prefix(day: str) -> str:
    return f"reports/{day}/"


def read_run(reports_bucket: str) -> dict[str, Any] | None:
    """The run.json `dispatch run` left in the stack, if any."""
    from shared.aws import client

    s3 = client("s3")
    try:
        body = s3.get_object(Bucket=reports_bucket, Key=RUN_KEY)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    data = json.loads(body)
    return data if isinstance(data, dict) else None


def stack_meta(lake: StackLake, campaign: Campaign, now: datetime) -> Any:
    """What the report needs besides the rows: from the run that fed the stack, else from its settings."""
    from shared.report.model import RunMeta

    config = campaign.config.model_dump(mode="json")
    tz = ZoneInfo(campaign.config.timezone)
    run = read_run(lake.reports_bucket) or {}
    start = datetime.fromisoformat(run["start"]) if run.get("start") else None
    end = (datetime.fromisoformat(run["end"]) if run.get("end") else now) if start is not None else None
    return RunMeta(
        campaign_id=str(run.get("campaign_id") or campaign.config.campaign_id),
        start=start, end=end, seed=run.get("seed"),
        config=run.get("config") or config, timezone=tz,
        budget_monthly_chf=Decimal(str(campaign.config.budget_chf.monthly)))


def lake_engine(lake: StackLake, engine: str | None = None) -> Any:
    """Athena in AWS; DuckDB over the lake bucket's files on an emulator (`engine`, else LAKE_ENGINE: duckdb)."""
    if (engine or os.environ.get("LAKE_ENGINE", "athena")) == "duckdb":
        from shared.report.duck import DuckDBLake

        return DuckDBLake.json(download_lake(lake.lake_bucket))
    from shared.aws import client
    from shared.report.athena import AthenaLake

    return AthenaLake(client("athena"), workgroup=lake.workgroup, database=lake.database, table=lake.table)


LAKE_PREFIX = "history/"


def download_lake(bucket: str, cache: Path | None = None) -> list[Path]:
    """The lake bucket's files (history/), each downloaded once into a cache folder (a Firehose object never
    changes): `cache`, else LAKE_CACHE_DIR, else one in the temporary directory."""
    from shared.aws import client

    folder = cache or Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "channel-dispatch-lake") / bucket
    folder.mkdir(parents=True, exist_ok=True)
    s3 = client("s3")
    files: list[Path] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=LAKE_PREFIX):
        for obj in page.get("Contents", []):
            path = folder / (obj["Key"].replace("/", "_") + f".{obj['ETag'].strip(chr(34))}.json")
            if not path.exists():
                path.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            files.append(path)
    return files


def build_stack_report(lake: StackLake, campaign: Campaign, now: datetime, engine: str | None = None,
                       ) -> dict[str, Any]:
    from shared.report import report_from_lake

    source = lake_engine(lake, engine)
    try:
        return report_from_lake(source, stack_meta(lake, campaign, now))
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def write_stack_report(s: Settings, campaign: Campaign, now: datetime) -> dict[str, Any]:
    """The day's report.json and report.html, under reports/<local day>/ and reports/latest/."""
    from shared.aws import client
    from shared.report import report_files

    lake = stack_lake(s)
    report = build_stack_report(lake, campaign, now)
    day = now.astimezone(ZoneInfo(campaign.config.timezone)).date().isoformat()
    report["as_of"] = now.isoformat()
    text, html = report_files(report)
    body, page = text.encode(), html.encode()
    s3 = client("s3")
    for prefix in (day_prefix(day), LATEST_PREFIX):
        s3.put_object(Bucket=lake.reports_bucket, Key=prefix + "report.json", Body=body,
                      ContentType="application/json")
        s3.put_object(Bucket=lake.reports_bucket, Key=prefix + "report.html", Body=page,
                      ContentType="text/html; charset=utf-8")
    return {"day": day, "contacts": report["totals"]["contacts"]}


def latest_link(reports_bucket: str, expires_seconds: int = 3600) -> str | None:
    """A presigned link to the latest scheduled report.html, or None when none was written yet."""
    from shared.aws import client

    s3 = client("s3")
    key = LATEST_PREFIX + "report.html"
    try:
        s3.head_object(Bucket=reports_bucket, Key=key)
    except s3.exceptions.ClientError:
        return None
    return str(s3.generate_presigned_url("get_object", Params={"Bucket": reports_bucket, "Key": key},
                                         ExpiresIn=expires_seconds))
