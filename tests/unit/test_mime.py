"""Unit tests of the raw MIME message and its RFC 8058 one-click unsubscribe headers."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

import pytest

from shared.channels.copy import RenderedEmail, render_email
from shared.channels.mime import ONE_CLICK, ascii_address, build_mime, list_unsubscribe_value
from shared.channels.unsubscribe import (
    make_token,
    token_from_url,
    unsubscribe_url,
    verify_token,
)
from shared.offers import load_offers

SECRET = b"mime-test-secret"
NOW = datetime(2026, 4, 7, 8, 15, tzinfo=UTC)
SENDER = "Glasfaser <angebote@news.example.ch>"
RECIPIENT = "anna.muster@example.ch"


def _url(customer_id: str = "C-1") -> str:
    token = make_token(SECRET, customer_id=customer_id, household_id="H-1", channel="email",
                       campaign_id="fibre-rollout", issued_at=NOW)
    return unsubscribe_url("https://unsubscribe.example.ch/one-click", token)


def _rendered(url: str, language: str = "fr") -> RenderedEmail:
    offer = next(o for o in load_offers() if o.offer_id == "fibre-1g-upgrade")
    return render_email(language=language, first_name="Anna", last_name="Müller", offer=offer,
                        target_group="upgrade", new_speed_mbps=1000, current_speed_mbps=100,
                        unsubscribe_url=url)


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_headers_follow_rfc_8058() -> None:
    url = _url()
    raw = build_mime(rendered=_rendered(url), sender=SENDER, recipient=RECIPIENT, unsubscribe_url=url,
                     unsubscribe_mailto="mailto:unsubscribe@news.example.ch?subject=unsubscribe")
    message = _parse(raw)
    assert message["List-Unsubscribe"] == f"<{url}>, <mailto:unsubscribe@news.example.ch?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The long URL stays on one physical line, in clear (no encoded words that would break it).
    assert f"List-Unsubscribe: <{url}>".encode() in raw
    token = token_from_url(url)
    assert token is not None
    assert verify_token(SECRET, token, now=NOW).customer_id == "C-1"


def test_without_mailto_only_the_https_uri() -> None:
    url = _url()
    message = _parse(build_mime(rendered=_rendered(url), sender=SENDER, recipient=RECIPIENT, unsubscribe_url=url))
    assert message["List-Unsubscribe"] == f"<{url}>"
    assert message["List-Unsubscribe-Post"] == ONE_CLICK


def test_multipart_alternative_text_then_html_in_utf8() -> None:
    url = _url()
    rendered = _rendered(url)
    message = _parse(build_mime(rendered=rendered, sender=SENDER, recipient=RECIPIENT, unsubscribe_url=url,
                                sent_at=NOW))
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parts)
    text_part, html_part = parts
    assert isinstance(text_part, EmailMessage) and isinstance(html_part, EmailMessage)
    # On the wire every line ends in CRLF; the words are the rendered ones.
    assert text_part.get_content().replace("\r\n", "\n") == rendered.text
    assert html_part.get_content().replace("\r\n", "\n") == rendered.html
    assert message["Subject"] == "Votre logement est raccordé à la fibre optique"
    assert message["From"] == SENDER
    assert message["To"] == RECIPIENT
    assert message["Content-Language"] == "fr"
    assert message["Date"] == "Tue, 07 Apr 2026 08:15:00 +0000"
    # Message-ID on the sender's own domain (a made-up one is a spam signal)
    assert message["Message-ID"].endswith("@news.example.ch>")


def test_from_carries_a_display_name_in_the_recipients_language_also_when_not_ascii() -> None:
    # Given a French recipient's email with the display name of the French copy
    from shared.channels.copy import sender_name

    url = "https://news.example.ch/unsubscribe?token=abc"
    raw = build_mime(rendered=_rendered(url), sender=SENDER, recipient=RECIPIENT, unsubscribe_url=url,
                     sender_name=sender_name("fr"))
    # Then the wire holds an encoded word (7-bit), and From reads back as name and address
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0].lower()
    sender = _parse(raw)["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Votre équipe fibre optique", "angebote@news.example.ch")


def test_raw_message_is_7bit_with_crlf_and_short_lines() -> None:
    url = _url()
    raw = build_mime(rendered=_rendered(url, "it"), sender=SENDER, recipient=RECIPIENT, unsubscribe_url=url,
                     message_id_domain="news.example.ch")
    raw.decode("ascii")
    lines = raw.split(b"\r\n")
    assert all(b"\n" not in line for line in lines)
    assert max(len(line) for line in lines) <= 998
    assert b"@news.example.ch>" in raw


@pytest.mark.parametrize(("url", "mailto"), [
    ("http://unsubscribe.example.ch/u?token=a.b", None),
    ("https://unsubscribe.example.ch/u?token=a.b>, <https://evil.example", None),
    ("https://unsubscribe.example.ch/u?token=a.b\r\nBcc: x@evil.example", None),
    ("https://unsubscribe.example.ch/u?token=a.b", "https://not-a-mailto.example"),
    ("https://unsubscribe.example.ch/u?token=a.b", "mailto:a@b.ch>"),
])
def test_bad_unsubscribe_uris_are_refused(url: str, mailto: str | None) -> None:
    with pytest.raises(ValueError):
        list_unsubscribe_value(url, mailto)


def test_header_injection_in_addresses_is_refused() -> None:
    url = _url()
    with pytest.raises(ValueError):
        build_mime(rendered=_rendered(url), sender=SENDER, recipient="a@b.ch\r\nBcc: x@evil.example",
                   unsubscribe_url=url)


def test_naive_sent_at_is_refused() -> None:
    url = _url()
    with pytest.raises(ValueError):
        build_mime(rendered=_rendered(url), sender=SENDER, recipient=RECIPIENT, unsubscribe_url=url,
                   sent_at=datetime(2026, 4, 7, 8, 15))


def test_an_internationalised_domain_goes_into_to_in_its_ascii_idna_form_never_as_an_encoded_word() -> None:
    # Given a customer whose address has an internationalised domain, and a sender with a non-ASCII name
    url = _url()
    raw = build_mime(rendered=_rendered(url), sender="Glasfaser Zürich <angebote@news.example.ch>",
                     recipient="anna@bücher.ch", unsubscribe_url=url)
    # Then To: carries the IDNA form (RFC 2047 §5: no encoded word inside an address) ...
    header_lines = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    [to_line] = [line for line in header_lines if line.startswith(b"To:")]
    assert to_line == b"To: anna@xn--bcher-kva.ch"
    # ... while the display name may be an encoded word, outside the addr-spec
    [from_line] = [line for line in header_lines if line.startswith(b"From:")]
    assert from_line == b"From: Glasfaser =?utf-8?q?Z=C3=BCrich?= <angebote@news.example.ch>"
    message = _parse(raw)
    assert message["To"].addresses[0].domain == "xn--bcher-kva.ch"
    assert message["From"].addresses[0].display_name == "Glasfaser Zürich"


@pytest.mark.parametrize(("unicode_form", "ascii_form"), [
    ("anna@bücher.ch", "anna@xn--bcher-kva.ch"),
    ("hans@zürich.example", "hans@xn--zrich-kva.example"),
    ("anna.muster@example.ch", "anna.muster@example.ch"),
])
def test_ascii_address_encodes_the_domain_only(unicode_form: str, ascii_form: str) -> None:
    assert ascii_address(unicode_form) == ascii_form


def test_an_address_with_a_non_ascii_local_part_is_a_rejected_delivery_not_a_retry() -> None:
    # SES takes no SMTPUTF8: the step is recorded as skipped with the reason instead of failing again and again
    from shared.dispatch import DeliveryRejected

    url = _url()
    with pytest.raises(DeliveryRejected, match="local part is not ASCII"):
        build_mime(rendered=_rendered(url), sender=SENDER, recipient="jürg@bücher.ch", unsubscribe_url=url)
