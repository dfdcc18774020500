"""AWS's own feedback as responses: SES hard bounces and complaints, SMS opt-out replies (STOP).

SES publishes the bounces and complaints of the stack's configuration set to EventBridge ("Email Bounced",
"Email Complaint Received"; the record SES documents for event publishing in `detail`). The email function
tags each message with its household and customer ids (never the address), so a tagged bounce becomes the
same `ResponseReceived` a responses file's `email_bounce` row makes. Whatever the tags, the bounced or
complaining address itself is suppressed for email under its keyed hash (`email#<hmac>`, the subject erasure
uses), which the contact gate reads for every customer holding that address.

An SMS reply arrives as End User Messaging SMS's two-way payload (originationNumber, messageBody, …) in an SNS
notification. A reply whose first word is an opt-out keyword suppresses SMS for that number (`phone#<hmac>`):
the reply names a number, not a customer, and the gate blocks SMS to every customer with that number.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from shared.events import EMAIL_BOUNCED, EMAIL_COMPLAINT, ResponseReceived
from shared.settings import Settings
from shared.stores.records import parse_time

# Keywords carriers and AWS treat as opt-out, and their Swiss-language forms (accents folded, case ignored).
OPT_OUT_KEYWORDS = {"STOP", "STOPP", "ARRET", "ALT", "HALT", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
                    "OPTOUT", "OPT-OUT", "REVOKE"}
FEEDBACK_SOURCE = {EMAIL_BOUNCED: "ses-bounce", EMAIL_COMPLAINT: "ses-complaint"}


def email_feedback(s: Settings, detail_type: str, detail: dict[str, Any], received: datetime) -> str:
    """A bounce or complaint event of SES: what it suppressed (for the log and the tests)."""
    from functions.responses.logic import apply_response
    from shared.campaign import campaign

    if detail_type == EMAIL_BOUNCED:
        bounce = detail.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":  # a full mailbox or a greylisting server: try again later
            return "transient bounce: nothing suppressed"
        addresses = [r.get("emailAddress") for r in bounce.get("bouncedRecipients", [])]
        at, kind = _time(bounce.get("timestamp"), received), "email_bounce"
    else:
        complaint = detail.get("complaint") or {}
        addresses = [r.get("emailAddress") for r in complaint.get("complainedRecipients", [])]
        at, kind = _time(complaint.get("timestamp"), received), "email_complaint"
    _suppress_identities(s, "email", [a for a in addresses if a], at, FEEDBACK_SOURCE[detail_type])
    tags = _tags(detail)
    if "household_id" in tags:
        apply_response(s, campaign(), ResponseReceived(
            correlation_id=tags["household_id"], at=at, household_id=tags["household_id"],
            customer_id=tags.get("customer_id"), type=kind))  # type: ignore[arg-type]
        return f"{kind}: suppressed email for {tags.get('customer_id') or tags['household_id']}"
    return f"{kind}: suppressed email for {len(addresses)} address(es)"


def sms_reply(s: Settings, message: dict[str, Any], received: datetime) -> str:
    """A reply to the SMS origination number: an opt-out keyword suppresses SMS to that number."""
    number = str(message.get("originationNumber") or "")
    words = [_fold(str(message.get("messageKeyword") or "")), *_fold(str(message.get("messageBody") or "")).split()[:1]]
    if not number or not OPT_OUT_KEYWORDS & set(words):
        return "reply without an opt-out keyword: nothing suppressed"
    _suppress_identities(s, "sms", [number], received, "sms-stop")
    return "sms_stop: suppressed sms for the number"


def _suppress_identities(s: Settings, channel: str, values: list[str], at: datetime, source: str) -> None:
    from shared.erasure import erasure_key, identity_subjects
    from shared.stores.suppression import suppress

    key = erasure_key(s.unsubscribe_secret_arn)
    for value in values:
        email, mobile = (value, None) if channel == "email" else (None, value)
        for subject in identity_subjects(key, email, mobile):
            suppress(s.suppression_table, subject, channel, at, source=source)


def _tags(detail: dict[str, Any]) -> dict[str, str]:
    """`mail.tags` as SES publishes them (each a list of values): the first value of each."""
    tags = (detail.get("mail") or {}).get("tags") or {}
    return {str(k): str(v[0]) for k, v in tags.items() if isinstance(v, list) and v}


def _time(value: Any, fallback: datetime) -> datetime:
    try:
        return parse_time(str(value)) if value else fallback
    except ValueError:
        return fallback


def _fold(text: str) -> str:
    """Upper case without accents: "Arrêt" -> "ARRET"."""
    decomposed = unicodedata.normalize("NFKD", text.strip().upper())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
