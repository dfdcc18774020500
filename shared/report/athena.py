"""The lake on Athena: the report's queries (shared.report.queries) transpiled by sqlglot to Athena's dialect.

Each figure query goes out as one statement, the base views in front of it as a WITH clause, in the given
workgroup; the client polls until it is done, pages through the results and turns Athena's string cells back
into the types DuckDB returns (int, Decimal, date, bool, str), so the report is the same from either engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.report.queries import BASE_VIEWS, FIGURES

Row = dict[str, Any]
_DONE = {"SUCCEEDED", "FAILED", "CANCELLED"}


def to_athena(sql: str) -> str:
    """DuckDB-dialect SQL in Athena's (Trino) dialect."""
    import sqlglot

    return str(sqlglot.transpile(sql, read="duckdb", write="athena")[0])


def with_base_views(figure_sql: str, history: str) -> str:
    """A figure query with the base views it reads as a WITH clause, reading `history` (a table name)."""
    views = ",\n".join(f"{name} AS ({sql.replace('{history}', history)})" for name, sql in BASE_VIEWS)
    return f"WITH {views}\n{figure_sql}"


class AthenaQueryFailed(RuntimeError):
    """An Athena query ended FAILED or CANCELLED, or did not end in time."""


@dataclass
class AthenaLake:
    """The `history` table `database.table` in Athena, queried in `workgroup` (results to `output_location`,
    or the workgroup's own when None)."""

    client: Any
    workgroup: str
    database: str
    table: str = "history"
    output_location: str | None = None
    poll_seconds: float = 0.5
    timeout_seconds: float = 600.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def statement(self, name: str) -> str:
        """The Athena SQL of the figure query `name`."""
        return to_athena(with_base_views(FIGURES[name], f'"{self.database}"."{self.table}"'))

    def rows(self, name: str) -> list[Row]:
        """Run the figure query `name`; its rows, typed."""
        request: dict[str, Any] = {
            "QueryString": self.statement(name),
            "QueryExecutionContext": {"Database": self.database},
            "WorkGroup": self.workgroup,
        }
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        execution_id = self.client.start_query_execution(**request)["QueryExecutionId"]
        self._wait(execution_id, name)
        return self._results(execution_id)

    def _wait(self, execution_id: str, name: str) -> None:
        waited = 0.0
        while True:
            status = self.client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return
            if state in _DONE:
                raise AthenaQueryFailed(f"report query {name!r} ({execution_id}) {state}: "
                                        f"{status.get('StateChangeReason', 'no reason given')}")
            if waited >= self.timeout_seconds:
                raise AthenaQueryFailed(f"report query {name!r} ({execution_id}) still {state} after {waited:.0f} s")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds

    def _results(self, execution_id: str) -> list[Row]:
        rows: list[Row] = []
        columns: list[tuple[str, str]] = []
        header_skipped = False
        for page in self.client.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
            result = page["ResultSet"]
            if not columns:
                columns = [(c["Name"], c["Type"].lower()) for c in result["ResultSetMetadata"]["ColumnInfo"]]
            for raw in result.get("Rows", []):
                cells = [cell.get("VarCharValue") for cell in raw["Data"]]
                if not header_skipped:  # a SELECT's first row holds the column names
                    header_skipped = True
                    continue
                rows.append({n: typed(v, kind) for (n, kind), v in zip(columns, cells, strict=True)})
        return rows


def typed(value: str | None, kind: str) -> Any:
    """An Athena result cell (a string, None for NULL) as the Python value of its column type."""
    if value is None:
        return None
    base = kind.split("(", 1)[0].strip()
    if base in {"tinyint", "smallint", "integer", "int", "bigint"}:
        return int(value)
    if base == "decimal":
        return Decimal(value)
    if base in {"double", "real", "float"}:
        return float(value)
    if base == "boolean":
        return value.lower() == "true"
    if base == "date":
        return date.fromisoformat(value)
    if base == "timestamp":
        return datetime.fromisoformat(value)
    return value
