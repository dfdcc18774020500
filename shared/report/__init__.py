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
    "report_files",
    "report_from_lake",
    "save_report",
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
    save_report(report, out_dir)
    return report


def report_files(report: dict[str, Any]) -> tuple[str, str]:
    """The texts of report.json and report.html."""
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n", render_html(report)


def save_report(report: dict[str, Any], out_dir: Path) -> None:
    """report.json and report.html in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text, html = report_files(report)
    (out_dir / "report.json").write_text(text, encoding="utf-8")
    (out_dir / "report.html").write_text(html, encoding="utf-8")
