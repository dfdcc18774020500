"""`dispatch explain`: one household's story, in time order, from a run's output or from a stack's tables.

One renderer (`render`) tells the story from the household's rows — its record, contacts made, decisions,
responses and rejected input rows — shaped as a run's output holds them. Two sources supply the rows:

- a run's output folder (`households.jsonl`, `contact-history.jsonl`, `decisions.jsonl`, `responses.jsonl`,
  `rejected.csv`), read line by line;
- a stack's live tables, read by the household's key only (GetItem on HouseholdsTable and JourneysTable, a
  Query per sk prefix on ContactsTable: never a Scan), with the rows shaped by infra/export.py's own mapping,
  so both sources give the same rows for the same run. Rejected input rows come from the feed bucket's
  `rejected/` prefix (listed, each rejection file read once), as the run's export collects them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class UnknownHousehold(LookupError):
    """The household does not appear in the run's output or the stack."""


class UnknownStack(LookupError):
    """No stack of that name at the endpoint."""


@dataclass
class HouseholdRows:
    """What a run's output holds about one household, in the output's shapes and order."""

    household: dict[str, Any] | None = None  # households.jsonl's row
    contacts: list[dict[str, Any]] = field(default_factory=list)  # contact-history.jsonl's rows
    decisions: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # rejected.csv's rows naming the household

    @property
    def empty(self) -> bool:
        return self.household is None and not (self.contacts or self.decisions or self.responses or self.rejected)


def _names_household(row: dict[str, Any], household_id: str) -> bool:
    return household_id in str(row.get("raw") or "").split(",")


# --------------------------------------------------------------------------- the story


def story(rows: HouseholdRows) -> list[tuple[str, str, str]]:
    """The household's events as (time, what, detail) in time order (input rejections first)."""
    events: list[tuple[str, str, str]] = []
    for c in rows.contacts:
        kind = f" ({c['kind']})" if c.get("kind") else ""
        events.append((c["at"], f"contact: {c['channel']}{kind}",
                       f"cycle {c['cycle']} step {c['step']} attempt {c.get('attempt') or 1}, offer {c['offer_id']}"))
    for d in rows.decisions:
        where = f" {d['channel']}" if d.get("channel") else ""
        step = f" (cycle {d['cycle']} step {d['step']})" if d.get("cycle") else ""
        events.append((d["at"], f"{d['decision']}{where}{step}", d["reason"]))
    for r in rows.responses:
        detail = r.get("channel") or r.get("outcome") or ""
        events.append((r["at"], f"response: {r['type']}", detail))
    for row in rows.rejected:
        events.append(("", f"rejected {row['source']} line {row['line']}", row["reason"]))
    events.sort(key=lambda e: e[0])
    return events


def render(household_id: str, rows: HouseholdRows, where: str) -> str:
    if rows.empty:
        raise UnknownHousehold(f"household {household_id!r} does not appear in {where}")
    lines = [f"household {household_id}"]
    household = rows.household
    if household:
        group = household.get("target_group") or "not eligible"
        control = ", control group" if household.get("control_group") else ""
        lines.append(f"  {household.get('commune')} ({household.get('canton')}), connected "
                     f"{household.get('connected_at')}, marketable from {household.get('marketable_from')}")
        ended = f" ({household['end_reason']})" if household.get("end_reason") else ""
        lines.append(f"  segment: {group}{control}; offer: {household.get('offer_id') or '-'}; journey: "
                     f"{household.get('journey_status')}{ended}")
    for at, what, detail in story(rows):
        lines.append(f"  {at or '(input)':<26} {what:<40} {detail}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- source 1: a run's output folder


def _jsonl(path: Path, household_id: str) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [row for line in handle if (row := json.loads(line)).get("household_id") == household_id]


def from_output(out: Path, household_id: str) -> HouseholdRows:
    households = _jsonl(out / "households.jsonl", household_id)
    rejected: list[dict[str, Any]] = []
    if (out / "rejected.csv").is_file():
        with (out / "rejected.csv").open(encoding="utf-8") as handle:
            rejected = [row for row in csv.DictReader(handle) if _names_household(row, household_id)]
    return HouseholdRows(household=households[0] if households else None,
                         contacts=_jsonl(out / "contact-history.jsonl", household_id),
                         decisions=_jsonl(out / "decisions.jsonl", household_id),
                         responses=_jsonl(out / "responses.jsonl", household_id),
                         rejected=rejected)


def explain(out: Path, household_id: str) -> str:
    return render(household_id, from_output(out, household_id), str(out))


# --------------------------------------------------------------------------- source 2: a stack's tables


def _get(table: str, household_id: str) -> dict[str, Any] | None:
    from shared.aws import client
    from shared.stores.dynamo import from_item

    item = client("dynamodb").get_item(TableName=table, Key={"household_id": {"S": household_id}},
                                       ConsistentRead=True).get("Item")
    return from_item(item) if item else None


def _query(table: str, household_id: str, prefix: str) -> list[dict[str, Any]]:
    from shared.stores.dynamo import query_all

    return query_all(TableName=table, KeyConditionExpression="household_id = :h AND begins_with(sk, :p)",
                     ExpressionAttributeValues={":h": {"S": household_id}, ":p": {"S": prefix}},
                     ConsistentRead=True)


def from_stack(stack_name: str, household_id: str) -> HouseholdRows:
    return from_settings(stack_tables(stack_name), household_id)


def from_settings(settings: Any, household_id: str) -> HouseholdRows:
    """The household's rows from the stack's tables, as `export_run` would write them at the same moment.

    TTL is judged at the replay's end on a stack a `dispatch run` left (its record in the feed bucket), else
    now; rejected rows carry the input file's line numbers where the replay recorded them.
    """
    from infra.export import (
        contact_order,
        contact_row,
        decision_row,
        household_row,
        is_contact,
        live,
        read_replay_record,
        rejected_rows,
        response_row,
    )

    end, line_maps = read_replay_record(settings.feed_bucket)
    now = end or datetime.now(UTC)
    contacts_table = settings.contacts_table

    def rows(prefix: str) -> list[dict[str, Any]]:
        items = [i for i in _query(contacts_table, household_id, prefix) if live(i, now)]
        # the export's order, within one household
        return sorted(items, key=contact_order if prefix == "contact#" else lambda i: (i["at"], i["sk"]))

    household = _get(settings.households_table, household_id)
    rejected = sorted((r for r in rejected_rows(settings.feed_bucket, line_maps)
                       if _names_household(r, household_id)), key=lambda r: (r["source"], int(r["line"])))
    return HouseholdRows(
        household=household_row(household, _get(settings.journeys_table, household_id)) if household else None,
        contacts=[contact_row(i) for i in rows("contact#") if is_contact(i)],
        decisions=[decision_row(i) for i in rows("decision#")],
        responses=[response_row(i) for i in rows("response#")],
        rejected=rejected)


def stack_tables(stack_name: str) -> Any:
    """The stack's table and bucket names; UnknownStack when the endpoint has no such stack."""
    from botocore.exceptions import ClientError

    from infra.erase import stack_settings
    from shared.aws import client

    try:
        settings = stack_settings(stack_name)
        client("dynamodb").describe_table(TableName=settings.contacts_table)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ResourceNotFoundException", "ValidationError"):
            raise UnknownStack(f"no stack {stack_name!r} at this endpoint (wrong --stack-name or --endpoint-url?)") \
                from exc
        raise
    return settings


def explain_stack(stack_name: str, household_id: str) -> str:
    return render(household_id, from_stack(stack_name, household_id), f"stack {stack_name!r}")
