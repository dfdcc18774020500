"""`dispatch demo`: a synthetic town through the whole pipeline, from the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DISPATCH = Path(sys.executable).with_name("dispatch")


def test_demo_runs_and_writes_the_output(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    proc = subprocess.run([str(DISPATCH), "demo", "--households", "40", "--days", "30", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "synthetic town: 40 households" in proc.stdout
    assert "contacts" in proc.stdout and "Households" in proc.stdout, proc.stdout

    with (out / "contact-history.jsonl").open(encoding="utf-8") as handle:
        contacts = [json.loads(line) for line in handle if line.strip()]
    assert {c["target_group"] for c in contacts} == {"upgrade", "switch", "prospect"}

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["totals"]["households"] == 40  # every connected household of the town
    assert report["totals"]["contacts"] == len(contacts)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and "</html>" in html
    assert "<script src=" not in html and "<link " not in html  # one self-contained page
    for name in ("customers.csv", "rollout.csv", "responses.csv"):
        assert (out / "input" / name).is_file()
