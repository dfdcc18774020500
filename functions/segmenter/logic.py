"""Segmenter: who lives at a connected household decides the dialogue it gets, or none."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.batching import Outbox
from shared.bus import Outgoing
from shared.campaign import Campaign
from shared.channels.copy import language_for
from shared.domain.segment import Resident, in_control_group, segment_household
from shared.events import HouseholdConnected, HouseholdSegmented
from shared.settings import Settings
from shared.stores.dynamo import query_all, to_item, to_value
from shared.stores.journeys import end_live_journey
from shared.stores.ledger import plain_put
from shared.stores.records import SEGMENT_DECISION_SK, expires_at


def residents(s: Settings, household_id: str) -> list[Resident]:
    items = query_all(
        TableName=s.customers_table,
        KeyConditionExpression="household_id = :h",
        ExpressionAttributeValues={":h": {"S": household_id}},
    )
    return [
        Resident(
            customer_id=i["customer_id"],
            has_internet=bool(i.get("has_internet")),
            has_mobile=bool(i.get("has_mobile")),
            internet_down_mbps=i.get("internet_down_mbps"),
            language=i.get("language", "de"),
        )
        for i in items
    ]


def segment(s: Settings, campaign: Campaign, event: HouseholdConnected, now: datetime,
            outbox: Outbox) -> HouseholdSegmented | None:
    """Decide the household's dialogue; its writes and event go out with the rest of the batch."""
    result = segment_household(residents(s, event.household_id), event.max_down_mbps)
    control = in_control_group(campaign.config.campaign_id, event.household_id,
                               campaign.config.control_group_percent)
    language = language_for(result.language, event.canton, commune=event.commune)
    _remember(s, outbox, event.household_id, result.target_group, result.customer_id, control, language)
    if result.target_group is None:
        _decide(s, outbox, campaign, event, now, result.customer_id, "not_eligible", result.reason)
        _end_journey(s, event, result.reason, now, campaign.config.retention_days)
        return None
    if control:
        _decide(s, outbox, campaign, event, now, result.customer_id, "control_group",
                f"held out of every journey ({campaign.config.control_group_percent}% control group)")
        return None
    segmented = HouseholdSegmented(
        correlation_id=event.correlation_id,
        household_id=event.household_id,
        target_group=result.target_group,
        customer_id=result.customer_id,
        current_down_mbps=result.current_down_mbps,
        control_group=False,
        marketable_from=event.marketable_from,
        max_down_mbps=event.max_down_mbps,
        canton=event.canton,
        commune=event.commune,
        language=language,
        cause=event.cause,
    )
    outbox.publish([Outgoing(segmented, now)])
    return segmented


def _end_journey(s: Settings, event: HouseholdConnected, reason: str, now: datetime, retention_days: int) -> None:
    """A household segmented again as not eligible keeps no live journey (a first segmenting finds none).

    Ended at once, not with the batch: ending is idempotent, and a failed condition (no live journey) must not
    cancel the batch's writes of this record. It may start again when the household's facts change back."""
    end_live_journey(s.journeys_table, event.household_id, f"re-segmented: not eligible ({reason})", now,
                     retention_days)


def _remember(s: Settings, outbox: Outbox, household_id: str, group: str | None, customer_id: str | None,
              control: bool, language: str) -> None:
    values: dict[str, Any] = {":g": group or "none", ":ctl": control, ":lang": language}
    expression = "SET target_group = :g, control_group = :ctl, #language = :lang"
    if customer_id:
        expression += ", lead_customer_id = :c"
        values[":c"] = customer_id
    outbox.write(f"households#{household_id}", "Update", {
        "TableName": s.households_table,
        "Key": to_item({"household_id": household_id}),
        "UpdateExpression": expression,
        "ExpressionAttributeNames": {"#language": "language"},
        "ExpressionAttributeValues": {k: to_value(v) for k, v in values.items()},
    })


def _decide(s: Settings, outbox: Outbox, campaign: Campaign, event: HouseholdConnected, now: datetime,
            customer_id: str | None, decision: str, reason: str) -> None:
    outbox.write(f"contacts#{event.household_id}#{SEGMENT_DECISION_SK}", "Put", plain_put(s.contacts_table, {
        "household_id": event.household_id,
        "sk": SEGMENT_DECISION_SK,
        "customer_id": customer_id,
        "channel": None,
        "at": now.astimezone(campaign.tz).isoformat(),
        "decision": decision,
        "reason": reason,
        "expires_at": expires_at(now, campaign.config.retention_days),
    }))
