"""Email channel: the gated step becomes a personal offer email with one-click unsubscribe (SES v2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.campaign import Campaign
from shared.channels.copy import render_email, sender_name
from shared.channels.delivery import EmailSender, unsubscribe_secret
from shared.channels.mime import build_mime
from shared.channels.unsubscribe import make_token, unsubscribe_url
from shared.dispatch import Context, DeliveryRejected, Part
from shared.events import ContactRequested
from shared.settings import Settings


@dataclass
class EmailChannel:
    settings: Settings
    sender: EmailSender
    name: str = "email"
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
        if not customer.get("email"):
            raise DeliveryRejected("no email address")
        issued = datetime.fromisoformat(claim["at"])
        token = make_token(unsubscribe_secret(self.settings.unsubscribe_secret_arn),
                           customer_id=customer["customer_id"], household_id=req.household_id, channel="email",
                           campaign_id=campaign.config.campaign_id, issued_at=issued)
        url = unsubscribe_url(self.settings.unsubscribe_base_url, token)
        rendered = render_email(
            language=household.get("language") or customer.get("language", "de"),
            first_name=customer.get("first_name", ""), last_name=customer.get("last_name", ""),
            offer=campaign.offer(req.offer_id), target_group=req.target_group,
            new_speed_mbps=int(household["max_down_mbps"]),
            current_speed_mbps=customer.get("internet_down_mbps"), unsubscribe_url=url,
        )
        mime = build_mime(rendered=rendered, sender=self.settings.sender_email, recipient=customer["email"],
                          unsubscribe_url=url, sent_at=issued,
                          sender_name=self.settings.sender_name or sender_name(rendered.language))
        # Ids only: SES hands them back with a bounce or complaint (functions/responses/feedback.py).
        tags = {"household_id": req.household_id, "customer_id": customer["customer_id"]}
        message_id = self.sender.send_raw(self.settings.sender_email, customer["email"], mime, tags)
        return {"provider_message_id": message_id, "language": rendered.language}
