"""`dispatch report --stack-name NAME [--endpoint-url URL]`: the report of a deployed stack, from its lake.

In AWS the queries run on Athena in the stack's workgroup; on an emulator endpoint (moto, where Athena
answers no rows) on DuckDB over the lake bucket's files. The report is written to `--out` like a run's
(report.json, report.html), and the latest scheduled report gets a presigned link.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.report.stack import StackLake


def stack_lake_of(stack_name: str) -> tuple[Any, StackLake]:
    """The stack's settings and where its lake is: from CloudFormation, else the names infra/provision gives."""
    from infra.erase import stack_names
    from infra.explain import stack_tables

    settings = stack_tables(stack_name)  # UnknownStack when the endpoint has no such stack
    names = stack_names(stack_name)
    return settings, StackLake(lake_bucket=names["LakeBucket"], reports_bucket=names["ReportsBucket"],
                               database=names["LakeDatabase"], workgroup=names["LakeWorkGroup"])


def report_from_stack(stack_name: str, out: Path, engine: str, now: datetime | None = None,
                      ) -> tuple[dict[str, Any], str | None]:
    """The stack's report (written to OUT/report.json and report.html) and a link to its latest scheduled one."""
    from shared.campaign import campaign_of
    from shared.report import save_report
    from shared.report.stack import build_stack_report, latest_link

    settings, lake = stack_lake_of(stack_name)
    report = build_stack_report(lake, campaign_of(settings), now or datetime.now(UTC), engine=engine)
    save_report(report, out)
    return report, latest_link(lake.reports_bucket)
