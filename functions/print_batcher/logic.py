"""Print batcher: gated print steps become pieces in the day's open batch; the cut-off closes each
batch into one CSV per kind for the print vendor, sorted for the postal round, then its manifest.

A piece is written together with a check that its batch is still open, and the cut-off closes the
batch with a marker before it reads the pieces: a piece that loses that race moves to the next
batch, so every piece lands in exactly one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.aws import client
from shared.batching import Outbox
from shared.campaign import Campaign
from shared.channels.letter import letter_fields
from shared.config import local_clock
from shared.dispatch import Context, Part, load_contexts
from shared.domain.print_cut_off import CUT_OFF_DAYS as CUT_OFF_DAYS
from shared.domain.print_cut_off import next_cut_off as cut_off_after
from shared.events import ContactRequested
from shared.metrics import CONTACTS_MADE, PRINT_PIECES, emit
from shared.settings import Settings
from shared.stores.dynamo import query_all, to_item
from shared.stores.ledger import claim_update
from shared.stores.records import PRINT_BATCH_CLOSED, expires_at

KINDS = ("personalised", "partially_addressed")
CLOSED = PRINT_BATCH_CLOSED
BASE_COLUMNS = ["piece_id", "kind", "addressee", "street", "house_number", "postcode", "locality", "language",
                "offer_id"]
PERSONAL_COLUMNS = ["customer_id", "salutation", "first_name", "last_name"]


def next_cut_off(at: datetime, campaign: Campaign) -> datetime:
    """The first cut-off at or after `at`, local time, on a working day (`shared.domain.print_cut_off`)."""
    return cut_off_after(at, local_clock(campaign.config.print.cut_off_at), campaign.tz)


def batch_key(kind: str, cut_off: datetime) -> str:
    return f"{kind}#{cut_off.date().isoformat()}"


def batch_id(kind: str, cut_off: datetime) -> str:
    return f"{cut_off.date().isoformat()}-{kind.replace('_', '-')}"


@dataclass
class PrintChannel:
    settings: Settings
    name: str = "print"
    claim_status: str = "batched"
    checks_timing: bool = True

    def contact_time(self, now: datetime, campaign: Campaign, not_before: datetime | None) -> datetime:
        return next_cut_off(max(now, not_before) if not_before else now, campaign)

    def extra_parts(self, req: ContactRequested, ctx: Context, claim: dict[str, Any], campaign: Campaign) -> list[Part]:
        key = batch_key(claim["kind"], datetime.fromisoformat(claim["at"]))
        table = self.settings.print_table
        return [
            ("ConditionCheck", {"TableName": table, "Key": to_item({"batch_key": key, "piece_id": CLOSED}),
                                "ConditionExpression": "attribute_not_exists(piece_id)"}),
            ("Put", {"TableName": table, "Item": to_item(piece(key, req, ctx, claim, campaign)
                                                         | {"detail": req.model_dump_json()})}),
        ]

    def deliver(self, req: ContactRequested, ctx: Context, claim: dict[str, Any],
                campaign: Campaign) -> dict[str, Any] | None:
        return None  # the piece leaves at cut-off


def piece(key: str, req: ContactRequested, ctx: Context, claim: dict[str, Any], campaign: Campaign) -> dict[str, Any]:
    household = ctx.household
    assert household is not None
    language = household.get("language") or "de"
    customer = ctx.customer if claim["kind"] == "personalised" else None
    return {
        "batch_key": key, "piece_id": claim["contact_id"], "household_id": req.household_id, "contact_sk": claim["sk"],
        "expires_at": expires_at(datetime.fromisoformat(claim["at"]), 30),
        **letter_fields(claim["kind"], language, household, req.offer_id, customer),
    }


def _house_order(number: str) -> tuple[int, str]:
    match = re.match(r"\d+", number)
    return (int(match.group()) if match else 0, number)


def batch_csv(kind: str, pieces: list[dict[str, Any]]) -> bytes:
    columns = BASE_COLUMNS + (PERSONAL_COLUMNS if kind == "personalised" else [])
    ordered = sorted(pieces, key=lambda p: (p["postcode"], p["street"], _house_order(p["house_number"]),
                                            p["piece_id"]))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(ordered)
    return out.getvalue().encode("utf-8")


def cut_off(s: Settings, campaign: Campaign, now: datetime) -> list[dict[str, Any]]:
    """Close today's batches: marker first, then each piece judged again at the cut-off (what may no longer
    go is withdrawn), then CSV, then manifest, then the pieces' contacts."""
    manifests = []
    for kind in KINDS:
        key = batch_key(kind, now.astimezone(campaign.tz))
        _close_marker(s, key, now)
        pieces = [p for p in query_all(TableName=s.print_table, KeyConditionExpression="batch_key = :k",
                                       ExpressionAttributeValues={":k": {"S": key}}) if p["piece_id"] != CLOSED]
        pieces = still_going(s, campaign, key, pieces, now)
        if not pieces:
            continue
        manifests.append(_write_batch(s, campaign, kind, pieces, now))
        _mark_sent(s, pieces, now.astimezone(campaign.tz).isoformat(), manifests[-1]["batch_id"])
        _count_batch(kind, pieces)
    return manifests


def _count_batch(kind: str, pieces: list[dict[str, Any]]) -> None:
    """The batch's size, and each piece as a contact made (it left with the batch)."""
    emit(PRINT_PIECES, len(pieces), kind=kind)
    for p in pieces:
        emit(CONTACTS_MADE, channel="print", target_group=_target_group(p))


def _target_group(p: dict[str, Any]) -> str:
    if p.get("target_group"):
        return str(p["target_group"])
    if "detail" in p:
        return ContactRequested.model_validate_json(p["detail"]).target_group
    return "unknown"  # a piece batched before pieces kept their request


def still_going(s: Settings, campaign: Campaign, key: str, pieces: list[dict[str, Any]],
                now: datetime) -> list[dict[str, Any]]:
    """Design rule 9: a piece leaves when its batch closes, so it is judged then, with the state of that
    moment — an order, an objection, a new CRM record, a postponed marketable_from, an expired offer that
    arrived since it was batched. What may still go is written from today's data (address, name, offer);
    what may not is withdrawn (`shared.withdrawal`)."""
    from shared.withdrawal import judge_or_withdraw

    judged = [p for p in pieces if "detail" in p]
    wanted = [(ContactRequested.model_validate_json(p["detail"]), p["contact_sk"]) for p in judged]
    contexts = load_contexts(s, wanted)
    going = [p for p in pieces if "detail" not in p]  # batched before pieces kept their request: as they are
    for p, (req, sk) in zip(judged, wanted, strict=True):
        ctx = contexts[(req.household_id, sk)]
        status = (ctx.claim or {}).get("status")
        if status == "sent":  # a cut-off run again after a crash: this piece already left
            going.append(p)
            continue
        if status != "batched" or ctx.household is None or ctx.claim is None:
            continue  # withdrawn by a run before, or the person was erased
        verdict, offer_id = judge_or_withdraw(s, campaign, req, ctx, now, own=("print", datetime.fromisoformat(
            ctx.claim["at"])), kind=p["kind"], extra_parts=[("Delete", {"TableName": s.print_table, "Key": to_item(
                {"batch_key": key, "piece_id": p["piece_id"]})})])
        if verdict is None:
            offered = req.model_copy(update={"offer_id": offer_id})
            going.append(piece(key, offered, ctx, ctx.claim, campaign) | {"contact_sk": sk,
                                                                          "target_group": req.target_group})
    return going


def _mark_sent(s: Settings, pieces: list[dict[str, Any]], at: str, identifier: str) -> None:
    """Every piece's contact made, in transactions of up to 100 (a cut-off that fails here is run again:
    the batch file is written anew with the same pieces and the rest are marked)."""
    outbox = Outbox(s.event_bus_name)
    for p in pieces:
        outbox.begin(p["piece_id"])
        outbox.write(f"contacts#{p['household_id']}#{p['contact_sk']}", "Update",
                     claim_update(s.contacts_table, p["household_id"], p["contact_sk"], status="sent", at=at,
                                  batch_id=identifier, offer_id=p["offer_id"]))
    failed = outbox.flush().failed
    if failed:
        raise RuntimeError(f"batch {identifier}: {len(failed)} of {len(pieces)} pieces not marked sent")


def _close_marker(s: Settings, key: str, now: datetime) -> None:
    client("dynamodb").put_item(TableName=s.print_table,
                                Item=to_item({"batch_key": key, "piece_id": CLOSED, "closed_at": now.isoformat()}))


def _write_batch(s: Settings, campaign: Campaign, kind: str, pieces: list[dict[str, Any]],
                 now: datetime) -> dict[str, Any]:
    identifier = batch_id(kind, now.astimezone(campaign.tz))
    body = batch_csv(kind, pieces)
    s3 = client("s3")
    s3.put_object(Bucket=s.print_bucket, Key=f"batches/{identifier}.csv", Body=body,
                  ContentType="text/csv; charset=utf-8")
    manifest = {"batch_id": identifier, "kind": kind, "pieces": len(pieces),
                "sha256": hashlib.sha256(body).hexdigest(), "created_at": now.astimezone(campaign.tz).isoformat()}
    s3.put_object(Bucket=s.print_bucket, Key=f"batches/{identifier}.manifest.json",
                  Body=json.dumps(manifest, indent=2).encode("utf-8"), ContentType="application/json")
    return manifest
