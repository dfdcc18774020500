"""Chaos (infra/chaos.py) end to end: faults injected at 0.05 change no contact but the ambiguous claims,
which are reported and never resent, and break no rule of design.md.

Two inputs, each run twice by `dispatch ... --chaos 0.05 --seed S --compare` (the installed console script
in a subprocess): a small synthetic town and the hand-made town of tests/e2e/builders.py. The faults are a
function of the seed, so each run here injects the same faults every time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.chaos import AMBIGUOUS, KINDS, contact_key
from tests.e2e import builders as b

DISPATCH = Path(sys.executable).with_name("dispatch")
REPO = Path(__file__).resolve().parents[2]
RATE = "0.05"
RUNS = ["synthetic_town", "hand_made_town"]
# One fault, aimed: the first email invocation dies right after its first SendEmail (the email left, its
# claim was never confirmed). A `dispatch run --chaos --compare` of the hand-made town with that plan.
AIMED = """
import sys
from pathlib import Path

from infra import pipeline
from infra.chaos import FaultPlan
from tests.e2e import builders as b


class CrashAfterTheFirstEmail(FaultPlan):
    aimed = False

    def duplicate(self, message_key, receive_count):
        return None

    def invocation(self, function, key, records, sqs, units=()):
        plan = super().invocation(function, key, records, sqs, units)
        plan.failure = None
        if function == "EmailFunction" and not CrashAfterTheFirstEmail.aimed:
            CrashAfterTheFirstEmail.aimed = True
            plan.failure, plan.at_call, plan.operation = "crash_after", 1, "SendEmail"
        return plan


class Aimed(pipeline.Chaos):
    def __init__(self, seed, rate):
        super().__init__(seed, 0.0)
        self.plan = CrashAfterTheFirstEmail(seed, 0.0)


pipeline.Chaos = Aimed
root = Path(sys.argv[1])
inputs = b.write_inputs(root / "input")
result = pipeline.run(pipeline.RunInputs(
    customers=inputs.customers.path, feed=inputs.feed.path, responses=inputs.responses.path, config=inputs.config,
    days=10, out=root, seed=1, chaos=0.01, compare=True))
print("\\n".join(result.summary))
"""


@dataclass
class ChaosRun:
    out: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def record(self) -> dict[str, Any]:
        return dict(json.loads((self.out / "chaos.json").read_text(encoding="utf-8")))

    def jsonl(self, name: str, fault_free: bool = False) -> list[dict[str, Any]]:
        return b.read_jsonl((self.out / "fault-free" if fault_free else self.out) / name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ChaosRun]:
    """The runs at once (one process each: a run is one busy thread, and the machine has two cores)."""
    root = tmp_path_factory.mktemp("chaos")
    inputs = b.write_inputs(root / "input")
    commands = {
        "synthetic_town": ["demo", "--households", "20", "--days", "35", "--seed", "5"],
        "hand_made_town": ["run", "--customers", str(inputs.customers.path), "--feed", str(inputs.feed.path),
                           "--responses", str(inputs.responses.path), "--config", str(inputs.config), "--days", "30",
                           "--seed", "2"],
    }
    argv = {name: [str(DISPATCH), *args, "--chaos", RATE, "--compare", "--out", str(root / name)]
            for name, args in commands.items()}
    argv["aimed"] = [sys.executable, "-c", AIMED, str(root / "aimed")]
    started = {}
    for name, command in argv.items():  # output to files: a full pipe would hold a run up
        with (root / f"{name}.out").open("w") as out, (root / f"{name}.err").open("w") as err:
            started[name] = subprocess.Popen(command, cwd=REPO if name == "aimed" else root, stdout=out, stderr=err)
    done = {}
    for name, proc in started.items():
        proc.wait(timeout=600)
        done[name] = ChaosRun(root / name, proc.returncode, (root / f"{name}.out").read_text(encoding="utf-8"),
                              (root / f"{name}.err").read_text(encoding="utf-8"))
    return done


@pytest.fixture(scope="module")
def synthetic_town(runs: dict[str, ChaosRun]) -> ChaosRun:
    return runs["synthetic_town"]


@pytest.fixture(scope="module")
def hand_made_town(runs: dict[str, ChaosRun]) -> ChaosRun:
    return runs["hand_made_town"]


@pytest.fixture(params=RUNS)
def chaos_run(request: pytest.FixtureRequest) -> ChaosRun:
    run: ChaosRun = request.getfixturevalue(request.param)
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    return run


def test_the_contacts_are_the_fault_free_ones_but_the_ambiguous_claims(chaos_run: ChaosRun) -> None:
    free = {contact_key(c) for c in chaos_run.jsonl("contact-history.jsonl", fault_free=True)}
    made = {contact_key(c) for c in chaos_run.jsonl("contact-history.jsonl")}
    ambiguous = {(d["household_id"], d["journey_id"], d["cycle"], d["step"], d["channel"])
                 for d in chaos_run.jsonl("decisions.jsonl") if d["reason"].startswith(AMBIGUOUS)}
    assert free and made <= free  # nothing made that the fault-free run did not make
    lost = {c["contact_id"] for c in chaos_run.jsonl("contact-history.jsonl", fault_free=True)
            if contact_key(c) not in made}
    explained = {c["contact_id"] for c in chaos_run.jsonl("contact-history.jsonl", fault_free=True)
                 if (c["household_id"], c["journey_id"], c["cycle"], c["step"], c["channel"]) in ambiguous}
    assert lost <= explained  # only ambiguous claims are missing
    comparison = chaos_run.record["comparison"]
    assert comparison["differences"] == []
    assert (comparison["same"], comparison["total"]) == (len(made), len(free))
    assert (f"same contacts: {len(made)} of {len(free)}; ambiguous: {comparison['ambiguous']} (reported, not resent);"
            " differences: none") in chaos_run.stdout


def test_every_rule_holds_in_both_runs(chaos_run: ChaosRun) -> None:
    record = chaos_run.record
    assert record["invariants"] == [], record["invariants"]
    assert record["fault_free"]["invariants"] == [], record["fault_free"]["invariants"]
    assert not any(record["dlq"].values()) and not any(record["fault_free"]["dlq"].values())
    assert record["claims"].get("claimed", 0) == 0  # every claim ended sent, ambiguous, failed, batched or queued
    assert record["schedule_dropped"] == 0
    assert "invariants: all hold" in chaos_run.stdout and "dead-letter queues: all empty" in chaos_run.stdout


def test_ambiguous_claims_are_reported_and_never_resent(chaos_run: ChaosRun) -> None:
    decisions = [d for d in chaos_run.jsonl("decisions.jsonl") if d["reason"].startswith(AMBIGUOUS)]
    record = chaos_run.record
    assert len(decisions) == record["ambiguous"] == record["claims"].get("ambiguous", 0)
    assert f"ambiguous claims: {record['ambiguous']} (reported, not resent)" in chaos_run.stdout
    made = {(c["household_id"], c["journey_id"], c["cycle"], c["step"]) for c in chaos_run.jsonl(
        "contact-history.jsonl")}
    for d in decisions:
        assert (d["household_id"], d["journey_id"], d["cycle"], d["step"]) not in made, d
        assert d["decision"] == "skipped"


def test_every_kind_of_fault_was_injected_and_absorbed(synthetic_town: ChaosRun,
                                                       hand_made_town: ChaosRun) -> None:
    """The equality above is not vacuous: each kind of fault happened in these runs, and none was lost."""
    injected = {kind: 0 for kind in KINDS}
    absorbed = dict(injected)
    for run in (synthetic_town, hand_made_town):
        assert run.returncode == 0, run.stderr[-3000:]
        report = run.record["chaos"]
        for kind in KINDS:
            injected[kind] += report["injected"].get(kind, 0)
            absorbed[kind] += report["absorbed"].get(kind, 0)
    assert all(injected.values()), injected
    assert absorbed == injected
    for kind, label in KINDS.items():
        assert label in synthetic_town.stdout, kind


def test_a_crash_after_an_email_left_is_reported_ambiguous_and_never_resent(runs: dict[str, ChaosRun]) -> None:
    run = runs["aimed"]
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    record = run.record
    assert record["chaos"]["injected"] == {"crash_after": 1}
    # the redelivered claim was in flight while its lease ran (aged by the visibility timeout), then ambiguous
    assert record["claims_aged"] >= 1 and not any(record["dlq"].values())
    (ambiguous,) = [d for d in run.jsonl("decisions.jsonl") if d["reason"].startswith(AMBIGUOUS)]
    assert ambiguous["channel"] == "email" and record["ambiguous"] == 1
    step = (ambiguous["household_id"], ambiguous["journey_id"], ambiguous["cycle"], ambiguous["step"])
    free = [c for c in run.jsonl("contact-history.jsonl", fault_free=True)
            if (c["household_id"], c["journey_id"], c["cycle"], c["step"]) == step]
    assert len(free) == 1 and free[0]["channel"] == "email"  # without the crash: a contact like any other
    made = {contact_key(c) for c in run.jsonl("contact-history.jsonl")}
    everything = {contact_key(c) for c in run.jsonl("contact-history.jsonl", fault_free=True)}
    assert made == everything - {contact_key(free[0])}  # with it: that one email not counted, nothing resent
    comparison = record["comparison"]
    assert (comparison["same"], comparison["total"], comparison["differences"]) == (
        len(everything) - 1, len(everything), [])
    assert record["invariants"] == [] and record["fault_free"]["invariants"] == []
