"""`dispatch run --endpoint-url` on a moto server leaves a stack named `channel-dispatch` that the other commands
read: `explain --stack-name` tells the same story as `explain --out` (by household, never a scan), `dlq` and
`erase` work on it, and a second run under the same name is refused with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.cli import main

DISPATCH = Path(sys.executable).with_name("dispatch")
STACK = "channel-dispatch"


@dataclass
class StackRun:
    url: str
    out: Path
    town: Any
    proc: subprocess.CompletedProcess[str]

    def households(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.out / "households.jsonl").read_text(encoding="utf-8").splitlines()]

    def jsonl(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.out / name).read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from infra.embedded import embedded_endpoint

    with embedded_endpoint() as url:  # moto's threaded server on a free port, in this process
        yield url


def _run(url: str, town: Any, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DISPATCH), "run", "--customers", str(town.customers), "--feed", str(town.rollout),
                           "--responses", str(town.responses), "--days", "30", "--out", str(out),
                           "--endpoint-url", url, *extra], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def stack_run(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> StackRun:
    from infra.demo_town import make_town

    base = tmp_path_factory.mktemp("stack")
    town = make_town(base / "input", households=30, days=30, seed=1)
    proc = _run(moto_url, town, base / "out")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return StackRun(moto_url, base / "out", town, proc)


@pytest.fixture
def at_endpoint(stack_run: StackRun, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This process's clients at the moto server for one test, and back afterwards."""
    from shared.aws import reset_clients

    names = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    before = {name: os.environ.get(name) for name in names}
    for name in names:
        monkeypatch.delenv(name, raising=False)
    yield stack_run.url
    monkeypatch.undo()
    for name, value in before.items():  # the commands set them with use_endpoint: put back what was, or nothing
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reset_clients()


def _explain(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["explain", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _chosen(run: StackRun) -> dict[str, str]:
    """A household with contacts, one with a skip or deferral, one not eligible, one with a rejected input row."""
    contacted = {c["household_id"] for c in run.jsonl("contact-history.jsonl")}
    decided = {d["household_id"] for d in run.jsonl("decisions.jsonl") if d["decision"] in ("skipped", "deferred")}
    not_eligible = {h["household_id"] for h in run.households() if h["target_group"] is None}
    chosen = {"contacts": sorted(contacted)[0], "skip or deferral": sorted(decided - contacted or decided)[0],
              "not eligible": sorted(not_eligible)[0]}
    rejected = (run.out / "rejected.csv").read_text(encoding="utf-8")
    with_rejection = sorted(h["household_id"] for h in run.households() if h["household_id"] + "," in rejected)
    if with_rejection:
        chosen["rejected row"] = with_rejection[0]
    return chosen


def test_the_run_provisions_the_named_stack(stack_run: StackRun) -> None:
    import boto3

    assert stack_run.proc.returncode == 0

    ddb = boto3.client("dynamodb", endpoint_url=stack_run.url, region_name="eu-central-2",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    tables = ddb.list_tables()["TableNames"]
    assert f"{STACK}-ContactsTable" in tables and f"{STACK}-HouseholdsTable" in tables


def test_explain_from_the_stack_tells_the_outputs_story(stack_run: StackRun, at_endpoint: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    chosen = _chosen(stack_run)
    assert {"contacts", "skip or deferral", "not eligible"} <= chosen.keys()
    for what, household_id in chosen.items():
        status, from_out, _ = _explain(capsys, household_id, "--out", str(stack_run.out))
        assert status == 0
        status, from_stack, err = _explain(capsys, household_id, "--stack-name", STACK, "--endpoint-url", at_endpoint)
        assert status == 0, err
        assert from_stack == from_out, what
    assert "contact: " in _explain(capsys, chosen["contacts"], "--out", str(stack_run.out))[1]
    assert "not eligible" in _explain(capsys, chosen["not eligible"], "--out", str(stack_run.out))[1]


def test_every_households_story_is_the_same_from_both_sources(stack_run: StackRun, at_endpoint: str) -> None:
    from infra.embedded import use_endpoint
    from infra.explain import explain, from_settings, render, stack_tables

    use_endpoint(at_endpoint)
    tables = stack_tables(STACK)  # resolved once (the CLI resolves them per call)
    households = [h["household_id"] for h in stack_run.households()]
    assert len(households) >= 20
    for household_id in households:
        from_stack = render(household_id, from_settings(tables, household_id), STACK)
        assert from_stack == explain(stack_run.out, household_id), household_id


def test_explain_from_the_stack_never_scans(stack_run: StackRun, at_endpoint: str,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from botocore.client import BaseClient

    calls: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls[operation] += 1
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    household_id = _chosen(stack_run)["contacts"]
    status, text, err = _explain(capsys, household_id, "--stack-name", STACK, "--endpoint-url", at_endpoint)
    assert status == 0, err
    assert "contact: " in text
    assert calls["Query"] >= 1 and calls["GetItem"] >= 1
    assert calls["Scan"] == 0, calls


def test_unknown_household_and_stack_are_one_line_errors(stack_run: StackRun, at_endpoint: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _explain(capsys, "NO-SUCH-HH", "--stack-name", STACK, "--endpoint-url", at_endpoint)
    assert status != 0 and len(err.strip().splitlines()) == 1 and "NO-SUCH-HH" in err
    status, _, err = _explain(capsys, "H-1", "--stack-name", "no-such-stack", "--endpoint-url", at_endpoint)
    assert status != 0 and len(err.strip().splitlines()) == 1 and "no-such-stack" in err
    with pytest.raises(SystemExit):  # --out and --stack-name exclude each other (argparse: exit 2)
        main(["explain", "H-1", "--out", str(stack_run.out), "--stack-name", STACK])
    capsys.readouterr()


def test_a_second_run_under_the_same_name_is_refused(stack_run: StackRun, tmp_path: Path) -> None:
    proc = _run(stack_run.url, stack_run.town, tmp_path / "again")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and STACK in lines[0] and "--stack-name" in lines[0], proc.stderr[-2000:]


def test_dlq_lists_the_stacks_queues(stack_run: StackRun, at_endpoint: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["dlq", "list", "--stack-name", STACK, "--endpoint-url", at_endpoint])
    out = capsys.readouterr().out
    assert status == 0 and "DLQ" in out


def test_the_report_from_the_stacks_lake_is_the_runs_own(stack_run: StackRun, at_endpoint: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from shared.report import build_report, load_run

    # the run's own report, from the rows of its output folder (contact-history.jsonl, decisions.jsonl, ...)
    own = json.loads(json.dumps(build_report(load_run(stack_run.out))))
    assert main(["report", "--out", str(stack_run.out)]) == 0  # from the run's Parquet lake, OUT/lake/history
    capsys.readouterr()
    assert (stack_run.out / "lake" / "history").is_dir()
    assert json.loads((stack_run.out / "report.json").read_text(encoding="utf-8")) == own
    status = main(["report", "--stack-name", STACK, "--endpoint-url", at_endpoint, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    from_stack = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert own["totals"]["contacts"] > 0 and own["totals"]["orders"] > 0  # a report with something in it
    for key in ("households", "control_group", "contacts", "cost_chf", "orders", "budget_chf"):
        assert from_stack["totals"][key] == own["totals"][key], key
    assert from_stack == own  # and every other figure too
    assert "latest scheduled report: http" in out


def test_the_scheduled_report_is_in_the_reports_bucket_behind_a_presigned_link(
        stack_run: StackRun, at_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import urllib.request

    main(["report", "--stack-name", STACK, "--endpoint-url", at_endpoint, "--out", str(tmp_path)])
    link = capsys.readouterr().out.split("latest scheduled report: ", 1)[1].split()[0]
    assert "Signature" in link or "X-Amz-Signature" in link  # presigned, not a public object
    with urllib.request.urlopen(link, timeout=30) as response:
        page = response.read().decode("utf-8")
    scheduled = json.loads((stack_run.out / "report.json").read_text(encoding="utf-8"))
    assert "<html" in page.lower() and f"{scheduled['totals']['contacts']}" in page


def test_a_report_of_an_unknown_stack_is_a_one_line_error(stack_run: StackRun, at_endpoint: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["report", "--stack-name", "no-such-stack", "--endpoint-url", at_endpoint, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status != 0 and len(err.strip().splitlines()) == 1 and "no-such-stack" in err


def test_erase_works_on_the_stack(stack_run: StackRun, at_endpoint: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    # last in this module: it changes the stack the tests above compare with the output folder
    customer_id = next(c["customer_id"] for c in stack_run.jsonl("contact-history.jsonl") if c["customer_id"])
    status = main(["erase", "--customer", customer_id, "--stack-name", STACK, "--endpoint-url", at_endpoint])
    out = capsys.readouterr().out
    assert status == 0 and customer_id in out
