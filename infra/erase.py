"""`dispatch erase`: one customer out of a run's output folder, or out of a deployed stack."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.erasure import (
    ErasureReport,
    UnknownCustomer,
    identity_subjects,
    rewritten_manifest,
    suppression_record,
    without_customer,
)

KEY_FILE = "erasure.key"
SUPPRESSION_FILE = "suppression.jsonl"


@dataclass
class _Found:
    email: str | None = None
    mobile: str | None = None
    seen: bool = False
    files: list[tuple[Path, bytes, int]] = field(default_factory=list)


def erase_from_output(out: Path, customer_id: str, now: datetime | None = None) -> ErasureReport:
    """Remove the customer's rows from the run's CSVs, re-write print manifests, record the suppression."""
    now = now or datetime.now(UTC)
    if not out.is_dir():
        raise FileNotFoundError(f"{out}: no run output folder here")
    found = _find(out, customer_id)
    erased_before = customer_id in _suppressed_customers(out)
    if not found.seen and not erased_before:
        raise UnknownCustomer(f"no customer {customer_id} in {out} (input, call lists, print batches, history)")
    report = ErasureReport(customer_id)
    report.subjects = _record_suppression(out, customer_id, found, now)
    for path, body, removed in found.files:
        path.write_bytes(body)
        if path.parent.name == "print":  # the manifest follows its CSV, as at the cut-off
            manifest_path = path.with_suffix(".manifest.json")
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            manifest_path.write_text(json.dumps(rewritten_manifest(manifest, body, removed, now), indent=2),
                                     encoding="utf-8")
        report.rows_removed += removed
        report.files.append(str(path))
    report.customer_items = sum(n for p, _, n in found.files if p.name == "customers.csv")
    return report


def _find(out: Path, customer_id: str) -> _Found:
    found = _Found()
    customers = out / "input" / "customers.csv"
    for source in (customers, _run_customers(out)):
        if source is not None and source.is_file():
            _identity(source, customer_id, found)
    sources = [(customers, ",")] + [(p, ";") for p in sorted((out / "call-lists").glob("*.csv"))] + \
              [(p, ",") for p in sorted((out / "print").glob("*.csv"))]
    for path, delimiter in sources:
        if not path.is_file():
            continue
        body, removed = without_customer(path.read_bytes(), customer_id, delimiter)
        if removed:
            found.files.append((path, body, removed))
            found.seen = True
    found.seen = found.seen or _in_jsonl(out / "contact-history.jsonl", customer_id) or \
        _in_jsonl(out / "decisions.jsonl", customer_id)
    return found


def _run_customers(out: Path) -> Path | None:
    """`dispatch run` names its customers file in run.json: read for the hashes only, never rewritten."""
    run_json = out / "run.json"
    if not run_json.is_file():
        return None
    path = json.loads(run_json.read_text(encoding="utf-8")).get("inputs", {}).get("customers")
    return Path(path) if path else None


def _identity(path: Path, customer_id: str, found: _Found) -> None:
    text = path.read_text(encoding="utf-8-sig")
    for row in csv.DictReader(io.StringIO(text, newline="")):
        if row.get("customer_id") == customer_id:
            found.email = found.email or row.get("email") or None
            found.mobile = found.mobile or row.get("mobile") or None
            found.seen = True


def _in_jsonl(path: Path, customer_id: str) -> bool:
    if not path.is_file():
        return False
    with path.open(encoding="utf-8") as handle:
        return any(json.loads(line).get("customer_id") == customer_id for line in handle if line.strip())


def _suppressed_customers(out: Path) -> set[str]:
    path = out / SUPPRESSION_FILE
    if not path.is_file():
        return set()
    subjects = (json.loads(line)["subject"] for line in path.read_text(encoding="utf-8").splitlines() if line)
    return {s.split("#", 1)[1] for s in subjects if s.startswith("customer#")}


def _record_suppression(out: Path, customer_id: str, found: _Found, now: datetime) -> list[str]:
    path = out / SUPPRESSION_FILE
    existing = set()
    if path.is_file():
        existing = {json.loads(line)["subject"] for line in path.read_text(encoding="utf-8").splitlines() if line}
    subjects = [f"customer#{customer_id}", *identity_subjects(_local_key(out), found.email, found.mobile)]
    with path.open("a", encoding="utf-8") as handle:
        for subject in subjects:
            if subject not in existing:
                handle.write(json.dumps(suppression_record(subject, now)) + "\n")
    return subjects


def _local_key(out: Path) -> bytes:
    """The HMAC key of a stack-less output: DISPATCH_ERASURE_KEY, else a random key kept beside it."""
    if os.environ.get("DISPATCH_ERASURE_KEY"):
        return os.environ["DISPATCH_ERASURE_KEY"].encode("utf-8")
    path = out / KEY_FILE
    if not path.is_file():
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


# --------------------------------------------------------------------------- a deployed stack


def stack_names(stack_name: str) -> dict[str, str]:
    """Each resource's name (logical id -> physical name) of a deployed stack: from CloudFormation, else
    provision's naming."""
    return _cloudformation_names(stack_name) or _provisioned_names(stack_name)


def stack_settings(stack_name: str) -> Any:
    """The functions' settings of a deployed stack: from CloudFormation, else provision's naming."""
    from shared.settings import Settings

    names = stack_names(stack_name)
    env = {"HOUSEHOLDS_TABLE": "HouseholdsTable", "CUSTOMERS_TABLE": "CustomersTable",
           "JOURNEYS_TABLE": "JourneysTable", "CONTACTS_TABLE": "ContactsTable",
           "SUPPRESSION_TABLE": "SuppressionTable", "PRINT_TABLE": "PrintTable", "CALLS_TABLE": "CallsTable",
           "BUDGET_TABLE": "BudgetTable", "EVENT_BUS_NAME": "Bus", "FEED_BUCKET": "FeedBucket",
           "PRINT_BUCKET": "PrintBucket",
           "CALL_LIST_BUCKET": "CallListBucket", "UNSUBSCRIBE_SECRET_ARN": "UnsubscribeSecret",
           "LAKE_BUCKET": "LakeBucket", "REPORTS_BUCKET": "ReportsBucket"}
    return Settings.model_validate({k: names[v] for k, v in env.items()})


def _cloudformation_names(stack_name: str) -> dict[str, str] | None:
    from botocore.exceptions import BotoCoreError, ClientError

    from shared.aws import client

    try:
        resources = client("cloudformation").describe_stack_resources(StackName=stack_name)["StackResources"]
    except (ClientError, BotoCoreError):
        return None  # provisioned by infra/provision (moto, LocalStack): no CloudFormation stack
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}


def _provisioned_names(stack_name: str) -> dict[str, str]:
    """The names infra/provision.py gives: tables and secret `<stack>-<LogicalId>`, buckets as declared."""
    from infra.provision import Stack, default_parameters
    from infra.template import load_template
    from shared.aws import client

    template = load_template()
    stack = Stack(stack_name, os.environ.get("AWS_DEFAULT_REGION", "eu-central-2"), default_parameters(template),
                  template)
    names = {lid: f"{stack_name}-{lid}" for lid, r in template["Resources"].items()
             if r.get("Type") in ("AWS::DynamoDB::Table", "AWS::Events::EventBus")}
    names["Bus"] = str(stack.resolve(template["Resources"]["Bus"]["Properties"]["Name"]))
    for bucket in ("FeedBucket", "PrintBucket", "CallListBucket", "LakeBucket", "ReportsBucket"):
        names[bucket] = str(stack.resolve(template["Resources"][bucket]["Properties"]["BucketName"]))
    names["LakeDatabase"] = str(stack.resolve(template["Resources"]["LakeDatabase"]["Properties"]["DatabaseInput"])[
        "Name"])
    names["LakeWorkGroup"] = str(stack.resolve(template["Resources"]["LakeWorkGroup"]["Properties"]["Name"]))
    secret = client("secretsmanager").describe_secret(SecretId=f"{stack_name}-UnsubscribeSecret")
    names["UnsubscribeSecret"] = secret["ARN"]
    return names


def erase_from_stack(stack_name: str, customer_id: str, now: datetime | None = None) -> ErasureReport:
    from shared.erasure import erase_customer

    return erase_customer(stack_settings(stack_name), customer_id, now or datetime.now(UTC))
