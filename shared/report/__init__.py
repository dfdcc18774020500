"""Campaign report: the figures by SQL over the contact-history lake, report.json and report.html.

`build_report(run)` reports a run's rows (RunData); `report_from_lake(lake, meta)` reports a lake, on DuckDB
(shared.report.duck.DuckDBLake: Parquet or JSON files) or Athena (shared.report.athena.AthenaLake);
`write_report(out_dir)` reports a run's output folder, from its Parquet lake when it has one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.report.figures import Lake, build_report, report_from_lake
from shared.report.html import render_html
from shared.report.model import RunData, RunMeta, load_meta, load_run
from shared.report.table import render_table

__all__ = [
    "Lake",
    "RunData",
    "RunMeta",
    "build_report",
    "load_meta",
    "load_run",
    "render_html",
    "render_table",
    "report_from_lake",
    "write_report",
]

LAKE_HISTORY = Path("lake") / "history"  # a run's Parquet lake, under its output folder


def write_report(out_dir: Path) -> dict[str, Any]:
    """Build the report of the run in `out_dir` (from `lake/history` when it is there, else from the jsonl
    files); write report.json and report.html beside it."""
    out_dir = Path(out_dir)
    if (out_dir / LAKE_HISTORY).is_dir():
        from shared.report.duck import DuckDBLake

        lake = DuckDBLake.parquet(out_dir / LAKE_HISTORY)
        try:
            report = report_from_lake(lake, load_meta(out_dir))
        finally:
            lake.close()
    else:
        report = build_report(load_run(out_dir))
    text = json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False)
    (out_dir / "report.json").write_text(text + "\n", encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(report), encoding="utf-8")
    return report
