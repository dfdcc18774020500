"""The raw MIME message for SES v2 (`Content={"Raw": …}`) with RFC 8058 one-click unsubscribe headers.

Addresses go out in their ASCII form: an internationalised domain (`anna@bücher.ch`) as IDNA
(`anna@xn--bcher-kva.ch`) in `To:`/`From:` and to SES. An encoded word inside an address is invalid
(RFC 2047 §5); a display name may be one. People keep seeing the Unicode form in files and reports.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from shared.channels.copy import RenderedEmail

ONE_CLICK = "List-Unsubscribe=One-Click"
# Parts are encoded at the usual 78 columns; headers are written with RFC 5322's hard limit of 998,
# because the stdlib folds a long unbreakable URL into encoded words, which would break
# List-Unsubscribe.
_BUILD_POLICY = policy.SMTP
_WRITE_POLICY = policy.SMTP.clone(max_line_length=998)


class AddressNotAscii(ValueError):
    """An address whose local part is not ASCII: it needs SMTPUTF8, which SES does not offer."""


def ascii_address(address: str) -> str:
    """The address as it travels: the domain in IDNA (punycode), the local part unchanged (ASCII only)."""
    if address.isascii():
        return address
    from email_validator import EmailNotValidError, validate_email  # only for the rare non-ASCII address

    try:
        ascii_form = validate_email(address, check_deliverability=False, globally_deliverable=False).ascii_email
    except EmailNotValidError as exc:
        raise AddressNotAscii(f"not a valid e-mail address: {exc}") from None
    if ascii_form is None:
        raise AddressNotAscii("the address's local part is not ASCII (it needs SMTPUTF8, which SES does not offer)")
    return ascii_form


def _mailbox(value: str) -> Address:
    """'Name <addr>' or 'addr' as one header mailbox: the address in ASCII, a non-ASCII name as an encoded word.

    Anything but one mailbox (a second address, a line break) is refused with ValueError."""
    name, angle, rest = value.rpartition("<")
    if angle and rest.endswith(">"):
        return Address(display_name=name.strip().strip('"'), addr_spec=ascii_address(rest[:-1].strip()))
    return Address(addr_spec=ascii_address(value.strip()))


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
    message_id_domain: str | None = None,
    sent_at: datetime | None = None,
    sender_name: str | None = None,
) -> bytes:
    """multipart/alternative (text, then HTML; UTF-8, quoted-printable) with RFC 8058 headers.

    Raises DeliveryRejected for an address SES cannot take (a non-ASCII local part): the email
    channel records the step as skipped with that reason, like a refusal by the provider.

    `Message-ID` is on the sender's domain unless `message_id_domain` says otherwise (a foreign or made-up domain
    there is a spam signal); `sender_name` is From's display name (an encoded word when not ASCII)."""
    message = EmailMessage(policy=_BUILD_POLICY)
    try:
        sender_box = _mailbox(sender)
        if sender_name:
            sender_box = Address(display_name=sender_name, addr_spec=sender_box.addr_spec)
        message["From"] = sender_box
        message["To"] = _mailbox(recipient)
    except AddressNotAscii as exc:
        from shared.dispatch import DeliveryRejected

        raise DeliveryRejected(f"e-mail address unusable: {exc}") from exc
    message["Subject"] = rendered.subject
    if sent_at is not None:
        if sent_at.tzinfo is None:
            raise ValueError("sent_at must be timezone-aware")
        message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(domain=message_id_domain or sender_box.domain)
    message["List-Unsubscribe"] = list_unsubscribe_value(unsubscribe_url, unsubscribe_mailto)
    message["List-Unsubscribe-Post"] = ONE_CLICK
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    message["Content-Language"] = rendered.language  # after the parts: set_content clears Content-*
    return message.as_bytes(policy=_WRITE_POLICY)
