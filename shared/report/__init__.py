"""Campaign report: load a run's output, build the figures, write report.json and report.html."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.report.figures import build_report
from shared.report.html import render_html
from shared.report.model import RunData, load_run
from shared.report.table import render_table

__all__ = [
    "RunData",
    "build_report",
    "load_run",
    "render_html",
    "render_table",
    "write_report",
]


def write_report(out_dir: Path) -> dict[str, Any]:
    """Build the report of the run in `out_dir`; write report.json and report.html beside it."""
    out_dir = Path(out_dir)
    report = build_report(load_run(out_dir))
    text = json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False)
    (out_dir / "report.json").write_text(text + "\n", encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(report), encoding="utf-8")
    return report
