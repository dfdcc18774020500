"""`dispatch run` end to end on hand-made input files (tests/e2e/builders.py), checked against the contract.

One run (module-scoped fixture, the installed console script in a subprocess); many small checks of its output.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from infra.cli import main
from shared.config import CHANNELS
from shared.domain.windows import is_public_holiday
from tests.e2e import builders as b

ZURICH = ZoneInfo("Europe/Zurich")
DAYS = 40
CONTACT_KEYS = {"contact_id", "household_id", "customer_id", "target_group", "channel", "kind", "journey_id",
                "cycle", "step", "offer_id", "at"}
DECISION_KEYS = {"household_id", "customer_id", "channel", "at", "decision", "reason"}
DECISIONS = {"not_eligible", "control_group", "skipped", "deferred"}
PERSONAL_COLUMNS = {"customer_id", "salutation", "first_name", "last_name"}
DISPATCH = Path(sys.executable).with_name("dispatch")


@dataclass
class Run:
    inputs: b.Inputs
    out: Path
    returncode: int
    stdout: str
    stderr: str

    def jsonl(self, name: str) -> list[dict[str, Any]]:
        return b.read_jsonl(self.out / name)

    def rejected(self, source: str, action: str = "row rejected") -> dict[int, dict[str, str]]:
        with (self.out / "rejected.csv").open(encoding="utf-8", newline="") as handle:
            return {int(r["line"]): r for r in csv.DictReader(handle) if r["source"] == source
                    and r["action"] == action}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("dispatch-run")
    inputs = b.write_inputs(root / "input")
    out = root / "out"
    proc = subprocess.run(
        [str(DISPATCH), "run", "--customers", str(inputs.customers.path), "--feed", str(inputs.feed.path),
         "--responses", str(inputs.responses.path), "--config", str(inputs.config), "--days", str(DAYS),
         "--out", str(out)],
        cwd=root, capture_output=True, text=True, timeout=300, check=False)
    return Run(inputs, out, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def contacts(run: Run) -> list[dict[str, Any]]:
    return run.jsonl("contact-history.jsonl")


@pytest.fixture(scope="module")
def decisions(run: Run) -> list[dict[str, Any]]:
    return run.jsonl("decisions.jsonl")


@pytest.fixture(scope="module")
def households(run: Run) -> dict[str, dict[str, Any]]:
    return {h["household_id"]: h for h in run.jsonl("households.jsonl")}


def at_of(row: dict[str, Any]) -> datetime:
    return b.parse_at(row["at"])


def of(rows: list[dict[str, Any]], household: str, channel: str | None = None) -> list[dict[str, Any]]:
    return [r for r in rows if r["household_id"] == household and (channel is None or r["channel"] == channel)]


# --------------------------------------------------------------------------- the run


def test_run_exits_zero_and_summarises(run: Run) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    assert "contacts" in run.stdout and "rejected rows 17" in run.stdout
    assert "dead-letter queues" not in run.stdout and "handler error" not in run.stdout, run.stdout


def test_output_files_are_there(run: Run) -> None:
    for name in ("contact-history.jsonl", "decisions.jsonl", "rejected.csv", "households.jsonl", "report.json",
                 "report.html"):
        assert (run.out / name).is_file(), name
    assert list((run.out / "print").glob("*.csv")) and list((run.out / "call-lists").glob("*.csv"))


# --------------------------------------------------------------------------- every row accounted for


def _check_rejections(rejected: dict[int, dict[str, str]], written: b.Written) -> None:
    bad = dict(written.bad())
    assert sorted(rejected) == sorted(bad), "rejected lines differ from the bad rows' lines"
    for line, record in bad.items():
        reason = rejected[line]["reason"]
        assert reason.startswith(f"{record.bad_field}:") or f" {record.bad_field}:" in reason, (line, reason)
        first_value = next(v for v in record.values.values() if v)
        assert rejected[line]["raw"].startswith(first_value.split("\n")[0]), (line, rejected[line]["raw"])


def test_feed_rows_are_accepted_or_rejected_at_their_line(run: Run, households: dict[str, Any]) -> None:
    _check_rejections(run.rejected("feed"), run.inputs.feed)
    accepted = {r.values["household_id"] for _, r in run.inputs.feed.good()}
    assert set(households) == accepted == set(b.HOUSE)


def test_multi_line_rejection_keeps_the_whole_record(run: Run) -> None:
    raw = run.rejected("feed")[4]["raw"]
    assert "Technikumstrasse\nc/o Hauswart" in raw and raw.endswith("false")


def test_customer_rows_are_accepted_or_rejected_at_their_line(run: Run, households: dict[str, Any]) -> None:
    _check_rejections(run.rejected("customers"), run.inputs.customers)
    # the good customers decide each household's group; a bad one accepted would change it
    for household_id, house in b.HOUSE.items():
        expected = None if house.kind == "none" else house.kind
        assert households[household_id]["target_group"] == expected, household_id


def test_a_malformed_email_is_ignored_and_the_customer_kept(run: Run, households: dict[str, Any]) -> None:
    """Issue 13.1: rejected.csv lists the field ignored at its line; the customer (and the group) stays."""
    ((line, record),) = run.inputs.customers.ignored()
    ignored = run.rejected("customers", "field ignored")
    assert sorted(ignored) == [line]
    assert ignored[line]["reason"].startswith("email: expected a valid e-mail address, got 'ursula.weber@@sunrise")
    assert ignored[line]["raw"].startswith(record.values["customer_id"] + ",")
    assert households[record.values["household_id"]]["target_group"] == "upgrade"


def test_response_rows_are_accepted_or_rejected_at_their_line(run: Run) -> None:
    _check_rejections(run.rejected("responses"), run.inputs.responses)
    stored = {(r["household_id"], r["type"], at_of(r)) for r in run.jsonl("responses.jsonl")}
    for _, record in run.inputs.responses.good():
        v = record.values
        assert (v["household_id"], v["type"], b.parse_at(v["at"])) in stored, v


def test_the_clock_starts_at_the_first_connection(run: Run) -> None:
    info = json.loads((run.out / "run.json").read_text(encoding="utf-8"))
    assert datetime.fromisoformat(info["start"]) == datetime(2026, 3, 2, tzinfo=ZURICH)


# --------------------------------------------------------------------------- the rules


def test_contacts_were_made(contacts: list[dict[str, Any]]) -> None:
    assert {c["channel"] for c in contacts} == set(CHANNELS)
    assert {c["target_group"] for c in contacts} == {"upgrade", "switch", "prospect"}


def test_no_contact_before_marketable_from(contacts: list[dict[str, Any]]) -> None:
    for c in contacts:
        opens = datetime.combine(b.HOUSE[c["household_id"]].commune.marketable_from, time(0), ZURICH)
        assert at_of(c) >= opens, c


def test_prospects_get_only_partially_addressed_print(contacts: list[dict[str, Any]]) -> None:
    prospects = {h for h, house in b.HOUSE.items() if house.kind == "prospect"}
    mail = [c for c in contacts if c["household_id"] in prospects or c["target_group"] == "prospect"]
    assert mail
    for c in mail:
        assert (c["channel"], c["kind"], c["customer_id"], c["target_group"]) == (
            "print", "partially_addressed", None, "prospect"), c


def test_no_print_to_a_letter_box_with_a_sticker(contacts: list[dict[str, Any]],
                                                 decisions: list[dict[str, Any]]) -> None:
    assert not of(contacts, "ZH-11")
    assert any("sticker" in d["reason"] for d in of(decisions, "ZH-11", "print"))


def test_personalised_contacts_address_a_current_customer_of_the_household(contacts: list[dict[str, Any]]) -> None:
    for c in contacts:
        if c["kind"] == "partially_addressed":
            continue
        person = b.CUSTOMER[c["customer_id"]]
        assert person["household_id"] == c["household_id"], c
        assert "true" in (person["has_internet"], person["has_mobile"]), c


def test_sms_only_with_a_mobile_subscription_number_and_consent(contacts: list[dict[str, Any]]) -> None:
    sms = [c for c in contacts if c["channel"] == "sms"]
    assert sms
    for c in sms:
        person = b.CUSTOMER[c["customer_id"]]
        assert person["has_mobile"] == "true" and person["mobile"] and person["sms_consent"] == "true", c


def test_sms_inside_its_window(contacts: list[dict[str, Any]]) -> None:
    for c in contacts:
        if c["channel"] != "sms":
            continue
        local = at_of(c).astimezone(ZURICH)
        assert local.weekday() != 6 and not is_public_holiday(local.date(), b.HOUSE[c["household_id"]].commune.canton)
        opens, closes = (time(9), time(16)) if local.weekday() == 5 else (time(8), time(20))
        assert opens <= local.time() <= closes, c


def test_email_only_with_an_address_and_consent(contacts: list[dict[str, Any]]) -> None:
    email = [c for c in contacts if c["channel"] == "email"]
    assert email
    for c in email:
        person = b.CUSTOMER[c["customer_id"]]
        assert person["email"] and person["email_consent"] == "true", c


def test_calls_only_within_the_law(contacts: list[dict[str, Any]]) -> None:
    calls = [c for c in contacts if c["channel"] == "call"]
    assert calls
    for c in calls:
        person = b.CUSTOMER[c["customer_id"]]
        assert person["do_not_call"] == "false" and person["mobile"], c
        assert person["phone_listing"] == "listed" or person["call_consent"] == "true", c


@pytest.mark.parametrize(("what", "channel"), [(b.SMS_OPT_OUT, "sms"), (b.EMAIL_BOUNCE, "email")])
def test_no_contact_on_a_channel_after_its_opt_out_or_bounce(
        contacts: list[dict[str, Any]], decisions: list[dict[str, Any]], what: tuple[str, str, str],
        channel: str) -> None:
    household, _, when = what
    made = of(contacts, household, channel)
    assert any(at_of(c) < b.parse_at(when) for c in made), "the case is meant to have a contact before"
    assert all(at_of(c) < b.parse_at(when) for c in made), made
    later = [d for d in of(decisions, household, channel) if at_of(d) >= b.parse_at(when)]
    assert any(d["decision"] == "skipped" and "suppress" in d["reason"] for d in later), later


def test_no_contact_at_all_after_an_opt_out_of_all(contacts: list[dict[str, Any]]) -> None:
    household, _, when = b.ALL_OPT_OUT
    made = of(contacts, household)
    assert made and all(at_of(c) < b.parse_at(when) for c in made), made


@pytest.mark.parametrize("household", sorted(b.ORDERS))
def test_no_contact_after_an_order(contacts: list[dict[str, Any]], households: dict[str, Any],
                                   household: str) -> None:
    made = of(contacts, household)
    assert made and all(at_of(c) < b.parse_at(b.ORDERS[household]) for c in made), made
    assert households[household]["journey_status"] != "live"


def test_journey_over_only_after_an_order_or_objection(decisions: list[dict[str, Any]]) -> None:
    """'journey over (order or objection)' is a reason only where an order or an opt-out of all happened."""
    ended = set(b.ORDERS) | {b.ALL_OPT_OUT[0]}
    wrong = [d for d in decisions if d["reason"].startswith("journey over") and d["household_id"] not in ended]
    assert not wrong, "\n".join(json.dumps(d) for d in wrong)


def test_every_journey_step_is_contacted_at_most_once(contacts: list[dict[str, Any]]) -> None:
    steps = [(c["household_id"], c["journey_id"], c["cycle"], c["step"], c.get("attempt") or 1) for c in contacts]
    assert len(steps) == len(set(steps))
    assert len({c["contact_id"] for c in contacts}) == len(contacts)


@pytest.mark.parametrize("household", b.RESENT)
def test_a_re_sent_household_has_exactly_one_journey(contacts: list[dict[str, Any]], household: str) -> None:
    made = of(contacts, household)
    assert made
    assert len({c["journey_id"] for c in made}) == 1, made
    assert {c["cycle"] for c in made} <= {1, 2}


def test_control_group_households_get_no_contact(contacts: list[dict[str, Any]], households: dict[str, Any],
                                                 decisions: list[dict[str, Any]]) -> None:
    held = {h for h, row in households.items() if row["control_group"]}
    assert not [c for c in contacts if c["household_id"] in held]
    for h in held:
        assert any(d["decision"] == "control_group" for d in of(decisions, h)), h


# --------------------------------------------------------------------------- the files' shape


def test_contact_history_rows_have_the_contract_keys(contacts: list[dict[str, Any]]) -> None:
    for c in contacts:
        assert set(c) >= CONTACT_KEYS, CONTACT_KEYS - set(c)
        assert c["channel"] in CHANNELS
        assert isinstance(c["cycle"], int) and c["cycle"] >= 1 and isinstance(c["step"], int) and c["step"] >= 1
        assert c["offer_id"] and c["journey_id"] and c["contact_id"]
        assert datetime.fromisoformat(c["at"]).tzinfo is not None, c["at"]
        if c["channel"] == "print":
            assert c["kind"] in ("personalised", "partially_addressed")
        if c["kind"] == "partially_addressed":
            assert c["customer_id"] is None


def test_decision_rows_have_the_contract_keys(decisions: list[dict[str, Any]]) -> None:
    assert decisions
    for d in decisions:
        assert set(d) >= DECISION_KEYS, DECISION_KEYS - set(d)
        assert d["decision"] in DECISIONS, d
        assert d["reason"], d
        assert d["channel"] is None or d["channel"] in CHANNELS
        assert datetime.fromisoformat(d["at"]).tzinfo is not None
    assert {d["decision"] for d in decisions} == DECISIONS  # every kind occurs in this town


def _batches(run: Run) -> list[tuple[Path, dict[str, Any], bytes]]:
    found = []
    for csv_path in sorted((run.out / "print").glob("*.csv")):
        manifest = csv_path.with_name(csv_path.name[: -len(".csv")] + ".manifest.json")
        assert manifest.is_file(), f"{csv_path.name}: no manifest"
        found.append((csv_path, json.loads(manifest.read_text(encoding="utf-8")), csv_path.read_bytes()))
    assert found
    return found


def test_print_manifests_match_their_batches(run: Run) -> None:
    for path, manifest, body in _batches(run):
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
        assert manifest["batch_id"] == path.stem
        assert manifest["pieces"] == len(rows), path.name
        assert manifest["sha256"] == hashlib.sha256(body).hexdigest(), path.name
        assert manifest["kind"] in ("personalised", "partially_addressed")
        assert {r["kind"] for r in rows} == {manifest["kind"]}
        assert datetime.fromisoformat(manifest["created_at"]).tzinfo is not None


def test_partially_addressed_pieces_carry_no_personal_data(run: Run) -> None:
    addressees = {"An die Bewohner des Hauses", "Aux habitants de la maison", "Agli abitanti della casa"}
    names = {v for c in b.CUSTOMER.values() for v in (c["first_name"], c["last_name"], c["customer_id"])}
    seen = 0
    for _, manifest, body in _batches(run):
        reader = csv.DictReader(io.StringIO(body.decode("utf-8")))
        rows = list(reader)
        if manifest["kind"] != "partially_addressed":
            continue
        assert not PERSONAL_COLUMNS & set(reader.fieldnames or []), reader.fieldnames
        for row in rows:
            seen += 1
            assert row["addressee"] in addressees
            assert not names & set(row.values()), row
    assert seen


def test_print_batches_are_sorted_and_hold_every_print_contact(run: Run, contacts: list[dict[str, Any]]) -> None:
    pieces = set()
    for path, _, body in _batches(run):
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
        keys = [(r["postcode"], r["street"], r["house_number"]) for r in rows]
        assert keys == sorted(keys, key=lambda k: (k[0], k[1], _house_key(k[2]))), path.name
        pieces |= {r["piece_id"] for r in rows}
    assert pieces == {c["contact_id"] for c in contacts if c["channel"] == "print"}


def _house_key(number: str) -> tuple[int, str]:
    digits = "".join(ch for ch in number if ch.isdigit()) or "0"
    return int(digits[:4]), number


def _call_lists(run: Run) -> list[tuple[Path, bytes]]:
    lists = sorted((run.out / "call-lists").glob("*.csv"))
    assert lists
    return [(p, p.read_bytes()) for p in lists]


def test_call_lists_are_excel_friendly(run: Run) -> None:
    for path, body in _call_lists(run):
        assert body.startswith(b"\xef\xbb\xbf"), path.name
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
        assert rows[0][:3] == ["call_date", "priority", "customer_id"], rows[0]
        for row in rows:
            assert len(row) == len(rows[0]), (path.name, row)
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (path.name, cell)


def test_no_call_list_on_a_sunday(run: Run) -> None:
    for path, _ in _call_lists(run):
        assert date.fromisoformat(path.stem).weekday() != 6, path.name


def test_call_lists_respect_capacity_and_holidays(run: Run) -> None:
    full = 0
    for path, body in _call_lists(run):
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
        assert len(rows) <= b.CALLS_PER_DAY, path.name
        full += len(rows) == b.CALLS_PER_DAY
        assert [int(r["priority"]) for r in rows] == list(range(1, len(rows) + 1))
        for row in rows:
            assert row["call_date"] == path.stem
            canton = b.HOUSE[row["household_id"]].commune.canton
            assert not is_public_holiday(date.fromisoformat(path.stem), canton), (path.name, row)
    assert full, "the capacity is meant to be reached on some day"


def test_every_call_contact_is_on_its_days_list(run: Run, contacts: list[dict[str, Any]]) -> None:
    listed = set()
    for _, body in _call_lists(run):
        for row in csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"):
            listed.add((row["call_date"], row["household_id"], row["customer_id"]))
            person = b.CUSTOMER[row["customer_id"]]
            assert row["first_name"] == person["first_name"] and row["phone"][:1] == "0", row
    made = {(at_of(c).astimezone(ZURICH).date().isoformat(), c["household_id"], c["customer_id"])
            for c in contacts if c["channel"] == "call"}
    assert made == listed


def test_report_totals(run: Run) -> None:
    report = json.loads((run.out / "report.json").read_text(encoding="utf-8"))
    totals = report["totals"]
    for key in ("households", "control_group", "contacts", "cost_chf", "orders", "budget_chf"):
        assert key in totals, key
    assert totals["households"] == len(b.HOUSE)
    assert totals["contacts"] == len(run.jsonl("contact-history.jsonl"))


# --------------------------------------------------------------------------- explain


def test_explain_tells_a_households_story(run: Run, contacts: list[dict[str, Any]],
                                          decisions: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    household = b.SMS_OPT_OUT[0]
    assert main(["explain", household, "--out", str(run.out)]) == 0
    text = capsys.readouterr().out
    assert household in text
    for c in of(contacts, household):
        assert any(c["at"] in line and c["channel"] in line for line in text.splitlines()), c
    for d in of(decisions, household):
        assert any(d["reason"] in line and d["decision"] in line for line in text.splitlines()), d
    assert "opt_out" in text


def test_explain_an_unknown_household(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "NO-SUCH-HH", "--out", str(run.out)]) != 0
    captured = capsys.readouterr()
    assert "NO-SUCH-HH" in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err


# --------------------------------------------------------------------------- unusable input


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_missing_feed_file(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-rollout.csv"
    err = _fails(["run", "--customers", str(run.inputs.customers.path), "--feed", str(missing), "--days", "1",
                  "--out", str(tmp_path / "out")], capsys)
    assert str(missing) in err


def test_feed_without_connected_at(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    columns = [c for c in b.FEED_COLUMNS if c != "connected_at"]
    feed = tmp_path / "rollout.csv"
    b.write_csv(feed, columns, [b.Record({k: v for k, v in r.values.items() if k != "connected_at"})
                                for r in b.feed_records()[:3]])
    err = _fails(["run", "--customers", str(run.inputs.customers.path), "--feed", str(feed), "--days", "1",
                  "--out", str(tmp_path / "out")], capsys)
    assert "connected_at" in err and str(feed) in err


def test_unknown_config_key(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(b.CONFIG_YAML + "calls_per_week: 5\n", encoding="utf-8")
    err = _fails(["run", "--customers", str(run.inputs.customers.path), "--feed", str(run.inputs.feed.path),
                  "--config", str(config), "--days", "1", "--out", str(tmp_path / "out")], capsys)
    assert "calls_per_week" in err and str(config) in err


def test_unknown_nested_config_key(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("calls:\n  per_day: 5\n  per_hour: 1\n", encoding="utf-8")
    err = _fails(["run", "--customers", str(run.inputs.customers.path), "--feed", str(run.inputs.feed.path),
                  "--config", str(config), "--days", "1", "--out", str(tmp_path / "out")], capsys)
    assert "per_hour" in err
