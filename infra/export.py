"""Writing a run's output (contract section 3) from what the stack holds at the end of the run."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.provision import Stack
from shared.aws import client
from shared.stores.dynamo import scan_all

CONTACT_KEYS = ["contact_id", "household_id", "customer_id", "target_group", "channel", "kind", "journey_id",
                "cycle", "step", "offer_id", "at", "attempt", "cost_chf"]
DECISION_KEYS = ["household_id", "customer_id", "channel", "at", "decision", "reason", "journey_id", "cycle", "step"]
MADE = "sent"


def _jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
            count += 1
    return count


def live(item: dict[str, Any], now: datetime) -> bool:
    """Honour TTL where the emulator does not expire items."""
    return "expires_at" not in item or int(item["expires_at"]) > now.timestamp()


# --------------------------------------------------------------------------- items to rows
# One mapping from the stack's items to the output's rows, for the export here and for `dispatch explain`
# on a deployed stack (infra/explain.py), so both tell the same story.

RESPONSE_KEYS = ["at", "household_id", "customer_id", "type", "channel", "outcome"]


def is_contact(item: dict[str, Any]) -> bool:
    """A contact made (a ContactsTable claim that ended sent)."""
    return str(item["sk"]).startswith("contact#") and item.get("status") == MADE


def is_decision(item: dict[str, Any]) -> bool:
    return str(item["sk"]).startswith("decision#")


def is_response(item: dict[str, Any]) -> bool:
    return str(item["sk"]).startswith("response#")


def contact_row(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item.get(k) for k in CONTACT_KEYS}


def decision_row(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item.get(k) for k in DECISION_KEYS}


def response_row(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item.get(k) for k in RESPONSE_KEYS}


def household_row(household: dict[str, Any], journey: dict[str, Any] | None) -> dict[str, Any]:
    """households.jsonl's row: the household item with its journey's offer and status."""
    journey = journey or {}
    group = household.get("target_group")
    return {
        "household_id": household["household_id"], "commune": household.get("commune"),
        "canton": household.get("canton"), "postcode": household.get("postcode"),
        "connected_at": household.get("connected_at"), "marketable_from": household.get("marketable_from"),
        "target_group": None if group in (None, "none") else group,
        "control_group": bool(household.get("control_group")), "offer_id": journey.get("offer_id"),
        "journey_status": journey.get("status", "none"), "end_reason": journey.get("end_reason"),
    }


def contact_order(item: dict[str, Any]) -> tuple[str, str, str, str]:
    """(at, household_id, contact_id): at one instant the greatest contact_id comes last, the contact the report
    attributes a later order to (shared.report.queries), so the file reads the way the report counts."""
    return item["at"], item["household_id"], item.get("contact_id") or "", item["sk"]


def export_run(stack: Stack, out: Path, end: datetime, rejected: list[dict[str, Any]]) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    contacts_table = stack.refs["ContactsTable"]
    items = [i for i in scan_all(contacts_table) if live(i, end)]
    contacts = sorted(filter(is_contact, items), key=contact_order)
    decisions = sorted(filter(is_decision, items), key=lambda i: (i["at"], i["household_id"], i["sk"]))
    responses = sorted(filter(is_response, items), key=lambda i: (i["at"], i["sk"]))
    counts = {
        "contacts": _jsonl(out / "contact-history.jsonl", map(contact_row, contacts)),
        "decisions": _jsonl(out / "decisions.jsonl", map(decision_row, decisions)),
        "responses": _jsonl(out / "responses.jsonl", map(response_row, responses)),
        "ambiguous": sum(1 for i in items if i["sk"].startswith("contact#") and i.get("status") == "ambiguous"),
    }
    counts["households"] = _households(stack, out)
    counts["rejected"] = _rejected(out, rejected)
    counts["print_batches"] = _download(stack.refs["PrintBucket"], "batches/", out / "print")
    counts["call_lists"] = _download(stack.refs["CallListBucket"], "call-lists/", out / "call-lists")
    return counts


def _households(stack: Stack, out: Path) -> int:
    journeys = {j["household_id"]: j for j in scan_all(stack.refs["JourneysTable"])}
    rows = [household_row(h, journeys.get(h["household_id"]))
            for h in sorted(scan_all(stack.refs["HouseholdsTable"]), key=lambda h: h["household_id"])]
    return _jsonl(out / "households.jsonl", rows)


def _rejected(out: Path, rows: list[dict[str, Any]]) -> int:
    """rejected.csv (contract: source, line, reason, raw, action); the count of rows (or files) rejected: fields
    ignored are listed, but their rows went on."""
    from functions.ingest.logic import REJECTED_COLUMNS
    from shared.inputs import FIELD_IGNORED, ROW_REJECTED

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=REJECTED_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: (r["source"], int(r["line"]))):  # stable: a line's fields in file order
        writer.writerow({"action": ROW_REJECTED, **row})
    (out / "rejected.csv").write_text(text.getvalue(), encoding="utf-8")
    return sum(1 for r in rows if r.get("action") != FIELD_IGNORED)


def _download(bucket: str, prefix: str, target: Path) -> int:
    target.mkdir(parents=True, exist_ok=True)
    s3 = client("s3")
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(prefix):]
            (target / name).write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            count += 1
    return count


def collect_rejected(stack: Stack, line_maps: dict[str, list[int]]) -> list[dict[str, Any]]:
    return rejected_rows(stack.refs["FeedBucket"], line_maps)


def rejected_rows(bucket: str, line_maps: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Rejections written beside each drop (the feed bucket's rejected/), with drop line numbers turned back
    into the file's own.

    A drop refused as a whole lies in rejected/ too (a copy, and its reason in <key>.reason.txt): it is
    listed once, as the whole file's rejection with the reason, and its copy is not read as rejections.
    """
    from functions.ingest.logic import REASON_SUFFIX

    s3 = client("s3")
    keys = [obj["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="rejected/")
            for obj in page.get("Contents", [])]
    refused = {k.removesuffix(REASON_SUFFIX) for k in keys if k.endswith(REASON_SUFFIX)}
    rows: list[dict[str, Any]] = []
    for key in keys:
        if key in refused:
            continue
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        if key.endswith(REASON_SUFFIX):
            drop_key = key.removesuffix(REASON_SUFFIX)[len("rejected/"):]
            rows.append({"source": _source_of(drop_key), "line": "1", "reason": body.strip(), "raw": "",
                         "action": "file refused"})
            continue
        lines = line_maps.get(key[len("rejected/"):])
        for row in csv.DictReader(io.StringIO(body)):
            drop_line = int(row["line"])
            if lines is not None and 2 <= drop_line < 2 + len(lines):
                row["line"] = str(lines[drop_line - 2])
            rows.append(dict(row))
    return rows


def _source_of(drop_key: str) -> str:
    from shared.events import CRM_PREFIX, FEED_PREFIX

    return {FEED_PREFIX: "feed", CRM_PREFIX: "customers"}.get(drop_key.split("/", 1)[0] + "/", "responses")


# --------------------------------------------------------------------------- the replay's record on the stack
# A replay splits each input file into drops (infra/replay.py), so a drop's line numbers are not the file's.
# The run leaves the map (and its simulated clock's end) in the feed bucket, so that a command reading the
# stack afterwards (`dispatch explain --stack-name`) names the file's lines and judges TTL at the run's end,
# as the run's own output does. A stack fed by real drops has no such record: lines are the drop's, now is now.

REPLAY_RECORD = "replay/run.json"


def write_replay_record(bucket: str, end: datetime, line_maps: dict[str, list[int]]) -> None:
    body = json.dumps({"end": end.isoformat(), "lines": line_maps}, separators=(",", ":"))
    client("s3").put_object(Bucket=bucket, Key=REPLAY_RECORD, Body=body.encode("utf-8"))


def read_replay_record(bucket: str) -> tuple[datetime | None, dict[str, list[int]]]:
    """The replay's end and line maps, or (None, {}) on a stack no replay ran on."""
    from botocore.exceptions import ClientError

    try:
        body = client("s3").get_object(Bucket=bucket, Key=REPLAY_RECORD)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None, {}
        raise
    record = json.loads(body)
    return datetime.fromisoformat(record["end"]), {k: list(v) for k, v in record.get("lines", {}).items()}
