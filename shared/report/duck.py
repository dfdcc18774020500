"""The lake on DuckDB, embedded: a run's Parquet lake, the JSON objects Firehose delivers, or a run's jsonl.

`DuckDBLake` holds one DuckDB connection on which `history` (shared/lake.py) is a view over the files and the
report's base views (shared.report.queries) are created once; `rows(name)` runs a figure query.
`json_to_parquet` is what Firehose's record format conversion does in AWS: newline-delimited JSON objects in,
the Hive-partitioned Parquet layout out.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.lake import COLUMNS, PARTITION_KEYS, TABLE
from shared.report.queries import BASE_VIEWS, FIGURES

if TYPE_CHECKING:
    import duckdb

    from shared.report.model import RunData

#: The lake's Glue types as DuckDB types.
_DUCK_TYPES = {"string": "VARCHAR", "int": "INTEGER", "timestamp": "TIMESTAMP", "date": "DATE",
               "boolean": "BOOLEAN", "decimal(12,4)": "DECIMAL(12,4)"}
HISTORY_COLUMNS: dict[str, str] = {name: _DUCK_TYPES[kind] for name, kind in (*COLUMNS, *PARTITION_KEYS)}
PARQUET_GLOB = "record_type=*/day=*/*.parquet"
MATERIALISED = {"rewritten", "orders", "households", "contact_changes", "contact_groups", "decision_changes",
                "attributed"}


def connect(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the given limits (None: DuckDB's defaults)."""
    import duckdb

    config: dict[str, Any] = {}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    return duckdb.connect(":memory:", config=config)


def _sql_columns() -> str:
    """The `columns` struct of read_json: every column of `history` with its type."""
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in HISTORY_COLUMNS.items()) + "}"


def _select_columns() -> str:
    return ", ".join(f'"{name}"' for name in HISTORY_COLUMNS)


def _file_list(paths: Iterable[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _json_files(source: Iterable[Path] | Path) -> list[Path]:
    if isinstance(source, Path):
        return sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))
    return list(source)


def _read_json_sql(files: list[Path]) -> str:
    if not files:
        return _empty_history_sql()
    return (f"SELECT {_select_columns()} FROM read_json({_file_list(files)}, format = 'newline_delimited', "
            f"columns = {_sql_columns()}, timestampformat = '%Y-%m-%d %H:%M:%S.%f', dateformat = '%Y-%m-%d')")


def _empty_history_sql() -> str:
    return "SELECT " + ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in HISTORY_COLUMNS.items()) + \
        " WHERE false"


def json_to_parquet(json_files: Iterable[Path] | Path, dest_dir: Path) -> int:
    """Newline-delimited JSON history objects (files, or every file under a directory) to the Parquet lake
    `dest_dir/record_type=…/day=…/*.parquet`, with the column types of shared/lake.py; the rows written."""
    files = _json_files(json_files)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    if not files:
        return 0
    with connect() as con:
        con.execute(f"CREATE TEMP VIEW source AS {_read_json_sql(files)}")
        count = con.execute("SELECT count(*) FROM source").fetchone()
        con.execute(f"COPY source TO '{dest_dir}' (FORMAT parquet, PARTITION_BY (record_type, day), "
                    "OVERWRITE_OR_IGNORE true, FILENAME_PATTERN 'part-{uuid}')")
    return int(count[0]) if count else 0


class DuckDBLake:
    """The report's base views on a DuckDB connection over one lake; `rows` runs a figure query."""

    def __init__(self, con: duckdb.DuckDBPyConnection, history_sql: str) -> None:
        self.con = con
        con.execute(f"CREATE OR REPLACE TEMP VIEW {TABLE} AS {history_sql}")
        for name, sql in BASE_VIEWS:
            # What several queries read is computed once; the rest are views, run where they are read.
            kind = "TABLE" if name in MATERIALISED else "VIEW"
            con.execute(f"CREATE OR REPLACE TEMP {kind} {name} AS {sql.replace('{history}', TABLE)}")

    @classmethod
    def parquet(cls, lake_dir: Path, con: duckdb.DuckDBPyConnection | None = None) -> DuckDBLake:
        """The Parquet lake under `lake_dir` (the folder holding record_type=…/day=…/)."""
        lake_dir = Path(lake_dir)
        if not any(lake_dir.glob(PARQUET_GLOB)):
            return cls(con or connect(), _empty_history_sql())
        pattern = str(lake_dir / PARQUET_GLOB).replace("'", "''")
        hive_types = "{'record_type': 'VARCHAR', 'day': 'VARCHAR'}"
        sql = (f"SELECT {_select_columns()} FROM read_parquet('{pattern}', hive_partitioning = true, "
               f"hive_types = {hive_types}, union_by_name = true)")
        con = con or connect()
        con.execute("SET parquet_metadata_cache = true")  # each base view reads the files' footers again
        return cls(con, sql)

    @classmethod
    def json(cls, source: Iterable[Path] | Path, con: duckdb.DuckDBPyConnection | None = None) -> DuckDBLake:
        """The JSON objects Firehose delivers (files, or every file under a directory), read as they are."""
        return cls(con or connect(), _read_json_sql(_json_files(source)))

    @classmethod
    def of_run(cls, run: RunData, con: duckdb.DuckDBPyConnection | None = None) -> DuckDBLake:
        """A run's rows (RunData) as the lake would hold them: one upsert per row, each its own item."""
        con = con or connect()
        with tempfile.TemporaryDirectory(prefix="history-") as folder:
            path = Path(folder) / "history.json"
            with path.open("w", encoding="utf-8") as handle:
                for row in history_rows(run):
                    handle.write(json.dumps(row, separators=(",", ":"), default=_json_number) + "\n")
            con.execute(f"CREATE OR REPLACE TEMP TABLE run_history AS {_read_json_sql([path])}")
        return cls(con, "SELECT * FROM run_history")

    def rows(self, name: str) -> list[dict[str, Any]]:
        """The result of the figure query `name` as dicts (int, Decimal, str, date, bool, None)."""
        cursor = self.con.execute(FIGURES[name])
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        self.con.close()


def _json_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON: {value!r}")


def _utc(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def history_rows(run: RunData) -> Iterator[dict[str, Any]]:
    """RunData's rows as `history` JSON objects: op 'upsert', seq '0', an item key unique per row (numbered in
    file order, so the attribution's last tie-break is file order)."""
    tz = run.timezone
    for number, c in enumerate(run.contacts):
        day = c.at.astimezone(tz).date().isoformat()
        yield {"record_type": "contact", "day": day, "op": "upsert", "item_key": f"contact#{number:09d}",
               "seq": "0", "household_id": c.household_id, "contact_id": c.contact_id,
               "journey_id": c.journey_id, "target_group": c.target_group, "channel": c.channel, "kind": c.kind,
               "cycle": c.cycle, "step": c.step, "offer_id": c.offer_id, "cost_chf": c.cost_chf,
               "at": _utc(c.at), "local_day": day, "status": "sent"}
    for number, d in enumerate(run.decisions):
        on_day = d.at.astimezone(tz).date().isoformat() if d.at else None
        yield {"record_type": "decision", "day": on_day, "op": "upsert", "item_key": f"decision#{number:09d}",
               "seq": "0", "household_id": d.household_id, "channel": d.channel, "at": _utc(d.at),
               "local_day": on_day, "decision": d.decision, "reason": d.reason, "journey_id": d.journey_id,
               "cycle": d.cycle, "step": d.step}
    for number, r in enumerate(run.responses):
        day = r.at.astimezone(tz).date().isoformat()
        yield {"record_type": "response", "day": day, "op": "upsert", "item_key": f"response#{number:09d}",
               "seq": "0", "household_id": r.household_id, "type": r.type, "channel": r.channel,
               "outcome": r.outcome, "at": _utc(r.at), "local_day": day}
    yield from _household_rows(run)


def _household_rows(run: RunData) -> Iterator[dict[str, Any]]:
    tz = run.timezone
    for h in run.households:
        connected_day = h.connected_at.astimezone(tz).date().isoformat() if h.connected_at else None
        yield {"record_type": "household", "day": connected_day, "op": "upsert", "item_key": "", "seq": "0",
               "household_id": h.household_id, "commune": h.commune, "canton": h.canton, "postcode": h.postcode,
               "connected_at": _utc(h.connected_at), "connected_day": connected_day,
               "marketable_day": h.marketable_from.isoformat() if h.marketable_from else None,
               "target_group": h.target_group, "control_group": h.control_group}
        if h.journey_status is not None or h.offer_id is not None or h.end_reason is not None:
            yield {"record_type": "journey", "day": connected_day, "op": "upsert", "item_key": "", "seq": "0",
                   "household_id": h.household_id, "status": h.journey_status, "offer_id": h.offer_id,
                   "end_reason": h.end_reason, "target_group": h.target_group}
