"""`dispatch print-batches` and `dispatch call-list` on a run's output folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.cli import main


@pytest.fixture
def out(tmp_path: Path) -> Path:
    (tmp_path / "print").mkdir()
    (tmp_path / "call-lists").mkdir()
    for batch_id, pieces in (("2026-03-09-partially-addressed", 3), ("2026-03-09-personalised", 2)):
        (tmp_path / "print" / f"{batch_id}.csv").write_text("piece_id\r\n", encoding="utf-8")
        manifest = {"batch_id": batch_id, "kind": batch_id.split("-", 3)[3].replace("-", "_"), "pieces": pieces,
                    "sha256": "0" * 64, "created_at": "2026-03-09T17:00:00+01:00"}
        (tmp_path / "print" / f"{batch_id}.manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (tmp_path / "call-lists" / "2026-03-10.csv").write_text("\ufeffcall_date\r\n", encoding="utf-8")
    return tmp_path


def test_list_shows_every_batch_ready_then_collected(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["print-batches", "list", "--out", str(out)]) == 0
    assert "2 batches, 2 ready" in capsys.readouterr().out
    assert main(["print-batches", "ack", "2026-03-09-personalised", "--out", str(out)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["print-batches", "ack", "2026-03-09-personalised", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["acknowledged_at"] == first["acknowledged_at"]
    assert main(["print-batches", "list", "--out", str(out)]) == 0
    assert "2 batches, 1 ready" in capsys.readouterr().out


def test_download_and_call_list_copy_the_files(out: Path, tmp_path_factory: pytest.TempPathFactory,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path_factory.mktemp("vendor")
    assert main(["print-batches", "download", "2026-03-09-personalised", "--out", str(out), "--to", str(target)]) == 0
    assert (target / "2026-03-09-personalised.csv").read_bytes() == b"piece_id\r\n"
    assert main(["call-list", "get", "--date", "2026-03-10", "--out", str(out), "--to", str(target)]) == 0
    assert (target / "2026-03-10.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_unknown_names_fail_with_one_line(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["print-batches", "download", "2026-01-01-personalised", "--out", str(out)]) == 2
    assert main(["call-list", "get", "--date", "2026-03-15", "--out", str(out)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "no print batch" in errors[0] and "no call list for 2026-03-15" in errors[1]
