"""Responses: what people did closes the loop — an order or an objection ends the journey, an
opt-out, bounce, complaint or STOP grows the suppression list, a call outcome books the next try."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.campaign import Campaign
from shared.events import ResponseReceived
from shared.inputs import Rejected, ResponseRow, read_rows
from shared.settings import Settings
from shared.stores.dynamo import query_all
from shared.stores.journeys import end_journey
from shared.stores.ledger import put_item
from shared.stores.records import decision_sk, expires_at
from shared.stores.suppression import (
    PARTIALLY_ADDRESSED,
    customer_subject,
    household_subject,
    record_order,
    suppress,
)

SUPPRESSES = {"email_bounce": "email", "email_complaint": "email", "sms_stop": "sms"}


def apply_response(s: Settings, campaign: Campaign, response: ResponseReceived) -> str:
    """Apply one response; returns what it changed (for the log and the tests)."""
    _record(s, campaign, response)
    subject = customer_subject(response.customer_id) if response.customer_id else household_subject(
        response.household_id)
    if response.type == "order" or (response.type == "call_outcome" and response.outcome == "ordered"):
        # Kept at the household whatever its journey: a pre-order stops the journey from starting, and a
        # completed journey's queued call or open letter is withdrawn when it would leave.
        record_order(s.suppression_table, response.household_id, response.at)
        end_journey(s.journeys_table, response.household_id, "order", response.at, campaign.config.retention_days)
        return "journey ended: order"
    if response.type == "opt_out" and response.channel:
        suppress(s.suppression_table, subject, response.channel, response.at)
        if response.customer_id and response.channel in ("print", "all"):
            # A resident's objection to mail also stops the letters "to the residents" of their household.
            suppress(s.suppression_table, household_subject(response.household_id), PARTIALLY_ADDRESSED, response.at)
        if response.channel == "all":
            end_journey(s.journeys_table, response.household_id, "objection to all channels", response.at,
                        campaign.config.retention_days)
        return f"suppressed {response.channel}"
    if response.type in SUPPRESSES:
        suppress(s.suppression_table, subject, SUPPRESSES[response.type], response.at)
        return f"suppressed {SUPPRESSES[response.type]}"
    if response.type == "call_outcome":
        return _call_outcome(s, campaign, response, subject)
    return "recorded"


def _call_outcome(s: Settings, campaign: Campaign, response: ResponseReceived, subject: str) -> str:
    if response.outcome == "do_not_call":
        suppress(s.suppression_table, subject, "call", response.at)
        return "suppressed call"
    if response.outcome == "not_reached":
        from functions.responses.retry import book_next_attempt

        return book_next_attempt(s, campaign, response)
    return f"call outcome {response.outcome}"


def _record(s: Settings, campaign: Campaign, response: ResponseReceived) -> None:
    put_item(s.contacts_table, {
        "household_id": response.household_id,
        "sk": "response#" + decision_sk(response.at, response.model_dump_json()).split("#", 1)[1],
        "customer_id": response.customer_id, "type": response.type, "channel": response.channel,
        "outcome": response.outcome, "at": response.at.astimezone(campaign.tz).isoformat(),
        "expires_at": expires_at(response.at, campaign.config.retention_days),
    })


def apply_drop(s: Settings, campaign: Campaign, bucket: str, key: str) -> tuple[int, list[Rejected]]:
    """A responses file or call-centre upload: every good row applied in order, bad rows listed."""
    from functions.ingest.logic import s3_lines

    rejected: list[Rejected] = []
    applied = 0
    for row in read_rows(s3_lines(bucket, key), ResponseRow, "responses", f"s3://{bucket}/{key}"):
        if isinstance(row, Rejected):
            rejected.append(row)
            continue
        line, data = row
        apply_response(s, campaign, ResponseReceived(correlation_id=data.household_id, source_line=line,
                                                     **data.model_dump()))
        applied += 1
    return applied, rejected


def latest_contacts(s: Settings, household_id: str) -> list[dict[str, Any]]:
    return query_all(TableName=s.contacts_table, KeyConditionExpression="household_id = :h AND begins_with(sk, :c)",
                     ExpressionAttributeValues={":h": {"S": household_id}, ":c": {"S": "contact#"}})


def within(first: datetime, at: datetime, days: int) -> bool:
    return at - first <= timedelta(days=days)
