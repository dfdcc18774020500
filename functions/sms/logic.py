"""SMS channel: the gated step becomes a short offer with an opt-out instruction, sent through SNS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.campaign import Campaign
from shared.channels.copy import render_sms
from shared.channels.delivery import SmsSender
from shared.dispatch import Context, DeliveryRejected, Part
from shared.domain.phone import normalise_phone
from shared.domain.sms_text import measure
from shared.events import ContactRequested


@dataclass
class SmsChannel:
    sender: SmsSender
    name: str = "sms"
    claim_status: str = "claimed"
    checks_timing: bool = True

    def contact_time(self, now: datetime, campaign: Campaign, not_before: datetime | None) -> datetime:
        return max(now, not_before) if not_before else now

    def extra_parts(self, req: ContactRequested, ctx: Context, claim: dict[str, Any], campaign: Campaign) -> list[Part]:
        return []

    def deliver(self, req: ContactRequested, ctx: Context, claim: dict[str, Any],
                campaign: Campaign) -> dict[str, Any] | None:
        customer, household = ctx.customer, ctx.household
        assert customer is not None and household is not None
        phone = normalise_phone(customer.get("mobile") or "")
        if phone is None:
            raise DeliveryRejected("no valid mobile number")
        sms = campaign.config.sms
        text = render_sms(language=household.get("language") or customer.get("language", "de"),
                          first_name=customer.get("first_name", ""), offer=campaign.offer(req.offer_id),
                          new_speed_mbps=int(household["max_down_mbps"]), stop_keyword=sms.stop_keyword,
                          short_code=sms.short_code)
        encoding = measure(text)
        if encoding.segments > sms.max_segments:
            # Never cut short: a truncated offer or opt-out instruction misleads; skip with the reason.
            raise DeliveryRejected(f"message needs {encoding.segments} segments, limit {sms.max_segments}")
        message_id = self.sender.send(phone, text, encoding.segments)
        return {"provider_message_id": message_id, "encoding": encoding.encoding, "segments": encoding.segments}
