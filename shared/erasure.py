"""Erasure: one customer's personal data removed from everything the stack keeps, a minimal suppression left."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.aws import client
from shared.deliverables import BATCHES_PREFIX, CALL_LISTS_PREFIX
from shared.events import CRM_PREFIX, REJECTED_PREFIX, RESPONSES_PREFIX
from shared.settings import Settings
from shared.stores.dynamo import batch_get, query_all, scan_all, to_item, to_value

ERASURE_REASON = "erasure"
CALL_LIST_PREFIX = CALL_LISTS_PREFIX
PRINT_PREFIX = BATCHES_PREFIX
_KEY_MAX_AGE_SECONDS = 300.0
_keys: dict[tuple[str | None, str], tuple[float, bytes]] = {}


class UnknownCustomer(LookupError):
    """Nothing is kept about this customer id, and it was never erased."""


@dataclass
class ErasureReport:
    customer_id: str
    customer_items: int = 0
    print_pieces: int = 0
    call_requests: int = 0
    journeys_ended: int = 0
    rows_removed: int = 0
    files: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"erased customer {self.customer_id}: {self.customer_items} customer record(s), "
                f"{self.print_pieces} print piece(s), {self.call_requests} pending call(s), "
                f"{self.rows_removed} row(s) from {len(self.files)} file(s), "
                f"{self.journeys_ended} journey(s) ended; {len(self.subjects)} suppression subject(s) kept")


# --------------------------------------------------------------------------- identity hashes


def normalised_email(email: str | None) -> str | None:
    text = (email or "").strip().lower()
    return text or None


def normalised_mobile(mobile: str | None) -> str | None:
    from shared.domain.phone import normalise_phone

    # Unparseable numbers still hash by their digits, so "079 123" and "079123" stay one person.
    raw = (mobile or "").strip()
    return (normalise_phone(raw) or "".join(c for c in raw if c.isdigit() or c == "+")) if raw else None


def identity_subjects(key: bytes, email: str | None, mobile: str | None) -> list[str]:
    """Suppression subjects for an address and a number: keyed hashes, so the record names nobody."""
    subjects = []
    for kind, value in (("email", normalised_email(email)), ("phone", normalised_mobile(mobile))):
        if value:
            subjects.append(f"{kind}#{hmac.new(key, f'{kind}:{value}'.encode(), hashlib.sha256).hexdigest()}")
    return subjects


def erasure_key(secret_arn: str) -> bytes:
    """The stack's unsubscribe secret as HMAC key, cached per endpoint for five minutes."""
    import os

    cache_key = (os.environ.get("AWS_ENDPOINT_URL"), secret_arn)
    cached = _keys.get(cache_key)
    if cached is not None and time.monotonic() - cached[0] < _KEY_MAX_AGE_SECONDS:
        return cached[1]
    value = str(client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]).encode("utf-8")
    _keys[cache_key] = (time.monotonic(), value)
    return value


# --------------------------------------------------------------------------- files (pure)


def without_customer(body: bytes, customer_id: str, delimiter: str) -> tuple[bytes, int]:
    """The CSV without the customer's rows, in the same dialect (BOM, separator, line ends)."""
    text = body.decode("utf-8")
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    rows = list(csv.reader(io.StringIO(text[len(bom):], newline=""), delimiter=delimiter))
    if not rows or not {"customer_id", "raw"} & set(rows[0]):
        return body, 0
    # Call lists guard cells against formula injection with a leading "'": match that form too.
    ids = {customer_id, f"'{customer_id}"}
    if "customer_id" in rows[0]:
        column = rows[0].index("customer_id")
        kept = [rows[0], *(r for r in rows[1:] if not (len(r) > column and r[column] in ids))]
    else:  # a rejection report: the person's row is inside `raw`, as one of its fields
        column = rows[0].index("raw")
        kept = [rows[0], *(r for r in rows[1:] if not (len(r) > column and _raw_names(r[column], ids)))]
    removed = len(rows) - len(kept)
    if not removed:
        return body, 0
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if "\r\n" in text else "\n").writerows(kept)
    return (bom + out.getvalue()).encode("utf-8"), removed


def _raw_names(raw: str, ids: set[str]) -> bool:
    return any(field.strip() in ids for row in csv.reader(io.StringIO(raw)) for field in row)


def rewritten_manifest(manifest: dict[str, Any], body: bytes, removed: int, now: datetime) -> dict[str, Any]:
    """The manifest of a rewritten batch CSV: its pieces and sha256 again, and when and why it changed."""
    pieces = max(0, len(list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))) - 1)
    return {**manifest, "pieces": pieces, "sha256": hashlib.sha256(body).hexdigest(),
            "rewritten_at": now.isoformat(), "erased_rows": int(manifest.get("erased_rows", 0)) + removed}


def suppression_record(subject: str, now: datetime) -> dict[str, Any]:
    return {"subject": subject, "channels": ["all"], "reason": ERASURE_REASON, "erased_at": now.isoformat()}


# --------------------------------------------------------------------------- the stack


def erase_customer(s: Settings, customer_id: str, now: datetime) -> ErasureReport:
    """Suppress first, then remove: a crash half-way leaves a person never contacted, and a rerun finishes."""
    items = _customer_items(s, customer_id)
    if not items and not _erased_before(s, customer_id):
        raise UnknownCustomer(f"no customer {customer_id} in {s.customers_table}")
    report = ErasureReport(customer_id)
    report.subjects = _suppress(s, customer_id, items, now)
    report.journeys_ended = _end_journeys(s, customer_id, items, now)
    report.print_pieces = _erase_print_pieces(s, customer_id)
    report.call_requests = _erase_call_requests(s, customer_id)
    for bucket, prefix, delimiter in ((s.call_list_bucket, CALL_LIST_PREFIX, ";"),
                                      (s.print_bucket, PRINT_PREFIX, ","), (s.feed_bucket, CRM_PREFIX, ","),
                                      (s.feed_bucket, RESPONSES_PREFIX, ","), (s.feed_bucket, REJECTED_PREFIX, ",")):
        _rewrite_files(bucket, prefix, delimiter, customer_id, now, report)
    ddb = client("dynamodb")
    for item in items:
        ddb.delete_item(TableName=s.customers_table,
                        Key=to_item({"household_id": item["household_id"], "customer_id": customer_id}))
    report.customer_items = len(items)
    return report


def _customer_items(s: Settings, customer_id: str) -> list[dict[str, Any]]:
    keys = query_all(TableName=s.customers_table, IndexName="by-customer",
                     KeyConditionExpression="customer_id = :c", ExpressionAttributeValues={":c": {"S": customer_id}})
    if not keys:
        return []
    found = batch_get({s.customers_table: [{"household_id": k["household_id"], "customer_id": customer_id}
                                           for k in keys]})
    return found[s.customers_table]


def _erased_before(s: Settings, customer_id: str) -> bool:
    item = client("dynamodb").get_item(TableName=s.suppression_table,
                                       Key=to_item({"subject": f"customer#{customer_id}"})).get("Item")
    return bool(item) and item.get("reason", {}).get("S") == ERASURE_REASON


def _suppress(s: Settings, customer_id: str, items: list[dict[str, Any]], now: datetime) -> list[str]:
    key = erasure_key(s.unsubscribe_secret_arn)
    subjects = [f"customer#{customer_id}"]
    for item in items:
        subjects += [x for x in identity_subjects(key, item.get("email"), item.get("mobile")) if x not in subjects]
    ddb = client("dynamodb")
    for subject in subjects:
        ddb.update_item(TableName=s.suppression_table, Key=to_item({"subject": subject}),
                        UpdateExpression="ADD channels :all SET reason = :why, erased_at = :at",
                        ExpressionAttributeValues={":all": {"SS": ["all"]}, ":why": to_value(ERASURE_REASON),
                                                   ":at": to_value(now.isoformat())})
    return subjects


def _end_journeys(s: Settings, customer_id: str, items: list[dict[str, Any]], now: datetime) -> int:
    from shared.campaign import campaign_of
    from shared.stores.journeys import end_journey, get_journey

    ended = 0
    for household_id in {i["household_id"] for i in items}:
        journey = get_journey(s.journeys_table, household_id)
        if journey is not None and journey.customer_id == customer_id:
            ended += end_journey(s.journeys_table, household_id, "erasure request", now,
                                 campaign_of(s).config.retention_days)
    return ended


def _erase_print_pieces(s: Settings, customer_id: str) -> int:
    """Pieces are deleted: an open batch's piece is withdrawn (never printed), a closed one's lives on in
    the batch CSV, which is rewritten below."""
    from shared.stores.ledger import update_claim
    from shared.stores.records import PRINT_BATCH_CLOSED as CLOSED

    ddb = client("dynamodb")
    pieces = scan_all(s.print_table, FilterExpression="customer_id = :c",
                      ExpressionAttributeValues={":c": {"S": customer_id}})
    for piece in pieces:
        closed = ddb.get_item(TableName=s.print_table,
                              Key=to_item({"batch_key": piece["batch_key"], "piece_id": CLOSED})).get("Item")
        ddb.delete_item(TableName=s.print_table,
                        Key=to_item({"batch_key": piece["batch_key"], "piece_id": piece["piece_id"]}))
        if not closed:
            update_claim(s.contacts_table, piece["household_id"], piece["contact_sk"], status="withdrawn",
                         withdrawn_reason=ERASURE_REASON)
    return len(pieces)


def _erase_call_requests(s: Settings, customer_id: str) -> int:
    from shared.stores.ledger import update_claim
    from shared.stores.records import CALLS_PENDING as PENDING

    pending = query_all(TableName=s.calls_table, KeyConditionExpression="queue = :q",
                        ExpressionAttributeValues={":q": {"S": PENDING}})
    mine = [p for p in pending if json.loads(p["detail"]).get("customer_id") == customer_id]
    for item in mine:
        client("dynamodb").delete_item(TableName=s.calls_table,
                                       Key=to_item({"queue": PENDING, "request_id": item["request_id"]}))
        update_claim(s.contacts_table, item["household_id"], item["contact_sk"], status="withdrawn",
                     withdrawn_reason=ERASURE_REASON)
    _erase_listed_calls(s, customer_id)  # calls already made: only their ids go, nothing is withdrawn
    return len(mine)


def _erase_listed_calls(s: Settings, customer_id: str) -> None:
    """The exporter's record of the last days' lists (kept so a retried export rewrites them whole)."""
    from shared.stores.records import CALLS_LISTED as LISTED

    listed = query_all(TableName=s.calls_table, KeyConditionExpression="queue = :q",
                       ExpressionAttributeValues={":q": {"S": LISTED}})
    for item in listed:
        if json.loads(item["detail"]).get("customer_id") == customer_id:
            client("dynamodb").delete_item(TableName=s.calls_table,
                                           Key=to_item({"queue": LISTED, "request_id": item["request_id"]}))


def _rewrite_files(bucket: str, prefix: str, delimiter: str, customer_id: str, now: datetime,
                   report: ErasureReport) -> None:
    """Rows are removed, not blanked: a blanked row would still be a call to make or a piece to print."""
    s3 = client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if not key.endswith(".csv"):
                continue
            body, removed = without_customer(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), customer_id,
                                             delimiter)
            if not removed:
                continue
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv; charset=utf-8")
            manifest_key = key[: -len(".csv")] + ".manifest.json"
            if prefix == PRINT_PREFIX:  # the manifest follows its CSV, as at the cut-off
                manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
                s3.put_object(Bucket=bucket, Key=manifest_key, ContentType="application/json",
                              Body=json.dumps(rewritten_manifest(manifest, body, removed, now), indent=2).encode())
            report.rows_removed += removed
            report.files.append(f"s3://{bucket}/{key}")
