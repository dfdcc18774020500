"""`dispatch erase` on a run's output folder: the person's rows leave every file, manifests follow,
a hashed suppression record stays; an unknown id is a one-line error."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

DISPATCH = Path(sys.executable).with_name("dispatch")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("erase") / "out"
    proc = subprocess.run([str(DISPATCH), "demo", "--households", "20", "--days", "30", "--out", str(folder)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return folder


def _erase(out: Path, customer_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DISPATCH), "erase", "--customer", customer_id, "--out", str(out)],
                          capture_output=True, text=True, timeout=60, check=False)


def _listed(out: Path) -> tuple[str, dict[str, str]]:
    """A customer on a call list, with their CRM row."""
    for path in sorted((out / "call-lists").glob("*.csv")):
        rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
        if rows:
            customer_id = rows[0]["customer_id"]
            with (out / "input" / "customers.csv").open(encoding="utf-8-sig", newline="") as handle:
                crm = next(r for r in csv.DictReader(handle) if r["customer_id"] == customer_id)
            return customer_id, crm
    pytest.skip("no call list row in this run")


def test_erase_removes_the_person_from_the_output_and_records_the_suppression(out: Path) -> None:
    customer_id, crm = _listed(out)
    proc = _erase(out, customer_id)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1 and customer_id in proc.stdout
    for path in [*(out / "call-lists").glob("*.csv"), *(out / "print").glob("*.csv"), out / "input/customers.csv"]:
        text = path.read_text(encoding="utf-8-sig")
        assert customer_id not in text and crm["last_name"] + ";" not in text, path
    for path in (out / "call-lists").glob("*.csv"):
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    for manifest_path in (out / "print").glob("*.manifest.json"):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        body = manifest_path.with_name(manifest["batch_id"] + ".csv").read_bytes()
        assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
        assert manifest["pieces"] == len(body.decode("utf-8").splitlines()) - 1
    records = [json.loads(line) for line in (out / "suppression.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {"subject": f"customer#{customer_id}", "channels": ["all"]}.items() <= records[0].items()
    kinds = {r["subject"].split("#")[0] for r in records}
    assert "customer" in kinds and ("email" in kinds or not crm["email"])
    dump = json.dumps(records)
    assert (not crm["email"] or crm["email"] not in dump) and crm["last_name"] not in dump
    # erasing again finds nothing more, and says so with exit 0
    again = _erase(out, customer_id)
    assert again.returncode == 0 and "0 row(s)" in again.stdout


def test_an_unknown_customer_is_a_one_line_error(out: Path) -> None:
    proc = _erase(out, "C-DOES-NOT-EXIST")
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "C-DOES-NOT-EXIST" in proc.stderr
