"""The raw MIME message for SES v2 (`Content={"Raw": …}`) with RFC 8058 one-click unsubscribe headers."""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from shared.channels.copy import RenderedEmail

ONE_CLICK = "List-Unsubscribe=One-Click"
# Parts are encoded at the usual 78 columns; headers are written with RFC 5322's hard limit of 998,
# because the stdlib folds a long unbreakable URL into encoded words, which would break
# List-Unsubscribe.
_BUILD_POLICY = policy.SMTP
_WRITE_POLICY = policy.SMTP.clone(max_line_length=998)


def _check_uri(value: str, scheme: str, what: str) -> str:
    if not value.lower().startswith(scheme) or any(c in value for c in "<>\r\n\t ,"):
        raise ValueError(f"{what} must be a {scheme} URI without spaces, commas or angle brackets")
    return value


def list_unsubscribe_value(unsubscribe_url: str, unsubscribe_mailto: str | None = None) -> str:
    """The List-Unsubscribe header value: the https URI first, then the mailto one when given."""
    uris = [_check_uri(unsubscribe_url, "https://", "the unsubscribe URL")]
    if unsubscribe_mailto is not None:
        uris.append(_check_uri(unsubscribe_mailto, "mailto:", "the unsubscribe mailto"))
    return ", ".join(f"<{uri}>" for uri in uris)


def build_mime(
    *,
    rendered: RenderedEmail,
    sender: str,
    recipient: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str | None = None,
    message_id_domain: str = "dispatch.invalid",
    sent_at: datetime | None = None,
) -> bytes:
    """multipart/alternative (text, then HTML; UTF-8, quoted-printable) with RFC 8058 headers."""
    message = EmailMessage(policy=_BUILD_POLICY)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject
    if sent_at is not None:
        if sent_at.tzinfo is None:
            raise ValueError("sent_at must be timezone-aware")
        message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(domain=message_id_domain)
    message["List-Unsubscribe"] = list_unsubscribe_value(unsubscribe_url, unsubscribe_mailto)
    message["List-Unsubscribe-Post"] = ONE_CLICK
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    message["Content-Language"] = rendered.language  # after the parts: set_content clears Content-*
    return message.as_bytes(policy=_WRITE_POLICY)
