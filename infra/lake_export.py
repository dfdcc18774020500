"""A run's lake: the lake bucket's files (JSON lines, as the emulator's Firehose writes them) as the Parquet
files Firehose writes in AWS, under `OUT/lake/history/record_type=…/day=…/`; and the run's period kept in the
stack's reports bucket, for the reports read from the stack later."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from infra.provision import Stack
from shared.aws import client


def export_lake(stack: Stack, out: Path) -> int:
    """The run's lake as Parquet in OUT/lake; the number of rows."""
    from shared.report import LAKE_HISTORY
    from shared.report.duck import json_to_parquet
    from shared.report.stack import download_lake

    target = out / LAKE_HISTORY
    if target.exists():  # a folder run into before: its lake is this run's, not both
        shutil.rmtree(target)
    with tempfile.TemporaryDirectory(prefix="lake-") as tmp:
        files = download_lake(stack.refs["LakeBucket"], Path(tmp))
        return json_to_parquet(files, target)


def publish_run(stack: Stack, run_info: dict[str, Any]) -> None:
    """The run's period and settings beside its reports: `dispatch report --stack-name` reads them."""
    from shared.report.stack import RUN_KEY

    client("s3").put_object(Bucket=stack.refs["ReportsBucket"], Key=RUN_KEY,
                            Body=json.dumps(run_info, indent=2, ensure_ascii=False).encode())
