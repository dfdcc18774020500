"""The report by SQL against the in-memory reference (tests/report_reference.py), on every engine path.

Given the same run, the SQL report (DuckDB over RunData, over a Parquet lake, over Firehose's JSON objects, and
the Athena SQL transpiled back to DuckDB) equals the reference computed in Python, key for key.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.report import RunData, build_report, load_run, report_from_lake, write_report
from shared.report.athena import AthenaLake
from shared.report.duck import DuckDBLake, connect, history_rows, json_to_parquet
from shared.report.model import Contact, Decision, Household, Response
from shared.report.queries import FIGURES
from tests.report_reference import reference_report
from tests.unit import test_report as fixtures

DEMO_RUN = Path(__file__).resolve().parent.parent / "data" / "demo-60x40"
ZURICH = ZoneInfo("Europe/Zurich")


def _fixture_run(tmp_path: Path) -> RunData:
    (tmp_path / "run.json").write_text(json.dumps(fixtures.RUN), encoding="utf-8")
    for name, rows in (("households", fixtures.HOUSEHOLDS), ("contact-history", fixtures.CONTACTS),
                       ("responses", fixtures.RESPONSES), ("decisions", fixtures.DECISIONS)):
        fixtures._write_jsonl(tmp_path / f"{name}.jsonl", rows)
    return load_run(tmp_path)


def _write_history_json(run: RunData, path: Path, extra: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    def number(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(value)

    rows = [*history_rows(run), *extra]
    path.write_text("".join(json.dumps(r, default=number) + "\n" for r in rows), encoding="utf-8")


# ---------------------------------------------------------------- the unit-test fixtures and a real run


def test_sql_report_equals_the_reference_on_the_report_fixtures(tmp_path: Path) -> None:
    run = _fixture_run(tmp_path)
    assert build_report(run) == reference_report(run)


def test_sql_report_equals_the_reference_on_a_demo_run() -> None:
    """Given the output of `dispatch demo --households 60 --days 40` (tests/data/demo-60x40)."""
    run = load_run(DEMO_RUN)
    assert run.contacts and run.responses and run.households
    assert build_report(run) == reference_report(run)


# ---------------------------------------------------------------- the lake's files: Parquet and JSON


def _rewrites(run: RunData) -> list[dict[str, Any]]:
    """Later changes of some items (seq orders them, not file order): the first contact written again, the first
    decision removed, the first household's commune corrected, and an older version of it arriving last."""
    rows = list(history_rows(run))
    contact = next(r for r in rows if r["record_type"] == "contact")
    decision = next(r for r in rows if r["record_type"] == "decision")
    household = next(r for r in rows if r["record_type"] == "household")
    return [
        {**contact, "seq": "1"},
        {**decision, "seq": "1", "op": "remove"},
        {**household, "seq": "2", "commune": "Zollikon"},
        {**household, "seq": "1", "commune": "Stale"},
    ]


def _deduped(run: RunData) -> RunData:
    """The run as `_rewrites` leave it: the contact counted once, the decision gone, the household in Zollikon."""
    first = run.households[0]
    return replace(run, decisions=run.decisions[1:],
                   households=(replace(first, commune="Zollikon"), *run.households[1:]))


def test_parquet_lake_with_rewritten_items_gives_the_reference_of_the_latest_state(tmp_path: Path) -> None:
    run = _fixture_run(tmp_path)
    source = tmp_path / "firehose" / "part-0.json"
    source.parent.mkdir()
    _write_history_json(run, source, _rewrites(run))

    written = json_to_parquet(source.parent, tmp_path / "lake" / "history")

    assert written == sum(1 for _ in history_rows(run)) + 4
    assert sorted(p.parent.parent.name for p in (tmp_path / "lake" / "history").rglob("*.parquet"))[0] \
        .startswith("record_type=")
    expected = reference_report(_deduped(run))
    assert report_from_lake(DuckDBLake.parquet(tmp_path / "lake" / "history"), run) == expected
    assert report_from_lake(DuckDBLake.json(source.parent), run) == expected


def test_write_report_reads_the_parquet_lake_when_the_run_has_one(tmp_path: Path) -> None:
    run = _fixture_run(tmp_path)
    _write_history_json(run, tmp_path / "h.json", _rewrites(run))
    json_to_parquet([tmp_path / "h.json"], tmp_path / "lake" / "history")
    (tmp_path / "contact-history.jsonl").write_text("", encoding="utf-8")  # the lake, not the jsonl, counts

    assert write_report(tmp_path) == reference_report(_deduped(run))


def test_an_empty_lake_gives_an_empty_report(tmp_path: Path) -> None:
    run = _fixture_run(tmp_path)
    empty = replace(run, contacts=(), decisions=(), households=(), responses=())
    assert report_from_lake(DuckDBLake.parquet(tmp_path / "nothing"), run) == reference_report(empty)
    assert json_to_parquet([], tmp_path / "out") == 0


# ---------------------------------------------------------------- Athena's SQL


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_athena_sql_parses_as_trino(name: str) -> None:
    import sqlglot

    lake = AthenaLake(client=None, workgroup="wg", database="lake_db")
    statement = lake.statement(name)
    assert '"lake_db"."history"' in statement
    sqlglot.parse_one(statement, read="trino")


class _AthenaSqlOnDuckDB:
    """Runs the Athena SQL, transpiled back to DuckDB, on a DuckDB lake: Athena's text, DuckDB's engine."""

    def __init__(self, lake: DuckDBLake) -> None:
        import sqlglot

        self.athena = AthenaLake(client=None, workgroup="wg", database="main", table="history")
        self.lake, self.sqlglot = lake, sqlglot

    def rows(self, name: str) -> list[dict[str, Any]]:
        sql = self.sqlglot.transpile(self.athena.statement(name), read="athena", write="duckdb")[0]
        sql = sql.replace('"main"."history"', "history")
        cursor = self.lake.con.execute(sql)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_athena_sql_transpiled_back_gives_the_same_report(tmp_path: Path) -> None:
    run = _fixture_run(tmp_path)
    _write_history_json(run, tmp_path / "h.json", _rewrites(run))
    json_to_parquet([tmp_path / "h.json"], tmp_path / "lake")
    lake = DuckDBLake.parquet(tmp_path / "lake")
    assert report_from_lake(_AthenaSqlOnDuckDB(lake), run) == reference_report(_deduped(run))


def _athena_cells(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> dict[str, Any]:
    """DuckDB's rows as Athena returns them: a header row, then every cell a string (NULL: no value)."""
    def cell(value: Any) -> dict[str, str]:
        if value is None:
            return {}
        return {"VarCharValue": str(value).lower() if isinstance(value, bool) else str(value)}

    header = [{"Data": [{"VarCharValue": name} for name, _ in columns]}]
    return {
        "rows": header + [{"Data": [cell(row[name]) for name, _ in columns]} for row in rows],
        "column_info": [{"Name": name, "Label": name, "Type": kind, "Nullable": "UNKNOWN"} for name, kind in columns],
    }


def _athena_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, date):
        return "date"
    return "varchar"


def test_athena_client_runs_each_query_in_the_workgroup_and_types_the_cells(tmp_path: Path) -> None:
    """Given moto's Athena seeded with the results DuckDB gives, when the report runs on Athena, then it is the
    same report: every query went out in the workgroup and the string cells came back typed."""
    import boto3
    from moto import mock_aws
    from moto.athena.models import QueryResults, athena_backends

    run = _fixture_run(tmp_path)
    duck = DuckDBLake.of_run(run)
    with mock_aws():
        athena = boto3.client("athena", region_name="eu-central-2")
        athena.create_work_group(Name="reports", Configuration={
            "ResultConfiguration": {"OutputLocation": "s3://results/"}})
        backend = athena_backends["123456789012"]["eu-central-2"]
        for name in FIGURES:  # report_from_lake asks in FIGURES order
            rows = duck.rows(name)
            sample = {k: next((r[k] for r in rows if r[k] is not None), "") for k in (rows[0] if rows else {})}
            columns = [(k, _athena_type(v)) for k, v in sample.items()]
            seeded = _athena_cells(rows, columns)
            backend.query_results_queue.append(QueryResults(rows=seeded["rows"], column_info=seeded["column_info"]))
        lake = AthenaLake(client=athena, workgroup="reports", database="lake_db", poll_seconds=0, sleep=lambda s: None)

        report = report_from_lake(lake, run)

        executions = athena.list_query_executions(WorkGroup="reports")["QueryExecutionIds"]
    assert len(executions) == len(FIGURES)
    assert report == reference_report(run)


# ---------------------------------------------------------------- random runs


_AT0 = datetime(2025, 3, 1, 8, tzinfo=UTC)
_instants = st.integers(min_value=0, max_value=40).map(lambda h: _AT0 + timedelta(hours=h * 11))


@st.composite
def _runs(draw: st.DrawFn) -> RunData:
    """Small runs with many ties: few instants, few ids, orders at contact instants, control households."""
    ids = [f"H{n}" for n in range(draw(st.integers(1, 6)))]
    households = tuple(
        Household(household_id=hid, commune=draw(st.sampled_from(["Adliswil", "Bonstetten", "Zug"])),
                  canton=draw(st.sampled_from(["ZH", "ZG", None])), postcode=None,
                  connected_at=draw(st.none() | _instants),
                  marketable_from=draw(st.none() | st.dates(date(2025, 2, 20), date(2025, 3, 30))),
                  target_group=draw(st.sampled_from(["upgrade", "switch", "prospect", None])),
                  control_group=draw(st.booleans()), offer_id=None,
                  journey_status=draw(st.sampled_from(["live", "ended", None])),
                  end_reason=draw(st.sampled_from(["ordered", "opted_out", None])))
        for hid in ids if draw(st.booleans()))
    everyone = [*ids, "H-stranger"]
    contacts = tuple(
        Contact(contact_id=draw(st.sampled_from(["C1", "C2", "C3", ""])), household_id=draw(st.sampled_from(everyone)),
                customer_id=None, target_group=draw(st.sampled_from(["upgrade", "switch", None])),
                channel=draw(st.sampled_from(["email", "sms", "print", "call", "fax"])), kind=None, journey_id=None,
                cycle=draw(st.integers(1, 3)), step=1, offer_id=None, at=draw(_instants),
                cost_chf=draw(st.sampled_from([Decimal("0.002"), Decimal("0.45"), Decimal("6.50")])))
        for _ in range(draw(st.integers(0, 12))))
    responses = tuple(
        Response(at=draw(_instants), household_id=draw(st.sampled_from(everyone)), customer_id=None,
                 type=draw(st.sampled_from(["order", "call_outcome", "opt_out"])), channel=None,
                 outcome=draw(st.sampled_from(["ordered", "declined", None])))
        for _ in range(draw(st.integers(0, 6))))
    decisions = tuple(
        Decision(household_id=draw(st.sampled_from(everyone)), customer_id=None, channel=None, at=draw(_instants),
                 decision=draw(st.sampled_from(["skipped", "deferred"])),
                 reason=draw(st.sampled_from(["cap", "window"])))
        for _ in range(draw(st.integers(0, 4))))
    return RunData(campaign_id="random", start=draw(st.none() | st.just(_AT0)), end=_AT0 + timedelta(days=20),
                   seed=None, config={}, timezone=ZURICH, budget_monthly_chf=Decimal(10), contacts=contacts,
                   decisions=decisions, households=households, responses=responses)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run=_runs())
def test_sql_report_equals_the_reference_on_random_runs(run: RunData) -> None:
    con = connect(threads=1)
    assert report_from_lake(DuckDBLake.of_run(run, con), run) == reference_report(run)
    con.close()



def test_rewritten_contacts_count_in_their_latest_cell_and_removed_ones_not_at_all(tmp_path: Path) -> None:
    """Given a contact rewritten into another channel and cost, one removed and one whose latest change is a claim
    not sent, the report counts the latest state only, on DuckDB and on the Athena SQL alike."""
    run = _fixture_run(tmp_path)
    contacts = [r for r in history_rows(run) if r["record_type"] == "contact"]
    assert len(contacts) >= 3
    moved = {**contacts[0], "seq": "5", "channel": "call", "cost_chf": Decimal("6.5")}
    removed = {**contacts[1], "seq": "3", "op": "remove"}
    unsent = {**contacts[2], "seq": "2", "status": "claimed"}
    _write_history_json(run, tmp_path / "h.json", [moved, removed, unsent, {**contacts[0], "seq": "4"}])
    json_to_parquet([tmp_path / "h.json"], tmp_path / "lake")
    first = run.contacts[0]
    expected = reference_report(replace(run, contacts=(replace(first, channel="call", cost_chf=Decimal("6.5")),
                                                        *run.contacts[3:])))

    lake = DuckDBLake.parquet(tmp_path / "lake")
    assert report_from_lake(lake, run) == expected
    assert report_from_lake(_AthenaSqlOnDuckDB(lake), run) == expected
