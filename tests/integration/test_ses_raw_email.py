"""Integration test: the built MIME message sent through SES v2 on moto keeps its RFC 8058 headers."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage

import boto3
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import RawMessage, ses_backends

from shared.channels.copy import language_for, render_email
from shared.channels.mime import build_mime
from shared.channels.unsubscribe import (
    make_token,
    token_from_url,
    unsubscribe_url,
    verify_token,
)
from shared.offers import load_offers

REGION = "eu-central-2"
SENDER = "angebote@news.example.ch"
RECIPIENT = "claire.dupont@example.ch"
SECRET = b"integration-secret"
SENT_AT = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_SESSION_TOKEN", "testing"), ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def _build_for_vaud_customer() -> bytes:
    language = language_for("fr", "VD")
    offer = next(o for o in load_offers() if o.offer_id == "fibre-1g-upgrade")
    token = make_token(SECRET, customer_id="C-4711", household_id="H-0815", channel="email",
                       campaign_id="fibre-rollout", issued_at=SENT_AT)
    url = unsubscribe_url("https://unsubscribe.example.ch/one-click", token)
    rendered = render_email(language=language, first_name="Claire", last_name="Dupont", offer=offer,
                            target_group="upgrade", new_speed_mbps=1000, current_speed_mbps=100,
                            unsubscribe_url=url)
    return build_mime(rendered=rendered, sender=SENDER, recipient=RECIPIENT, unsubscribe_url=url,
                      unsubscribe_mailto="mailto:unsubscribe@news.example.ch", sent_at=SENT_AT)


def test_raw_email_through_sesv2_keeps_one_click_headers_and_language(aws: None) -> None:
    sesv2 = boto3.client("sesv2", region_name=REGION)
    sesv2.create_email_identity(EmailIdentity=SENDER)
    response = sesv2.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": [RECIPIENT]},
        Content={"Raw": {"Data": _build_for_vaud_customer()}},
    )
    # moto 5.2 hands SES v2 raw messages to the SES (v1) backend, which keeps the decoded text.
    sent = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    assert len(sent) == 1
    stored = sent[0]
    assert isinstance(stored, RawMessage)
    assert stored.id == response["MessageId"]
    assert RECIPIENT in stored.destinations

    message = email.message_from_string(stored.raw_data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https_uri, mailto_uri = (uri.strip().strip("<>") for uri in str(message["List-Unsubscribe"]).split(","))
    assert https_uri.startswith("https://unsubscribe.example.ch/one-click?")
    assert mailto_uri == "mailto:unsubscribe@news.example.ch"
    token = token_from_url(https_uri)
    assert token is not None
    claim = verify_token(SECRET, token, now=SENT_AT + timedelta(days=2))
    assert (claim.customer_id, claim.household_id, claim.channel) == ("C-4711", "H-0815", "email")

    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    words = text.get_content()
    assert "Bonjour Claire Dupont" in words
    assert "Votre logement est raccordé à la fibre optique" in words
    assert "CHF 59.– par mois" in words
    assert "Se désinscrire ici" in words
    assert message["Content-Language"] == "fr"
