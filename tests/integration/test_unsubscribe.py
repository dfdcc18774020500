"""One-click unsubscribe against moto: the URL of a sent email's List-Unsubscribe header, POSTed as
RFC 8058 asks, suppresses email for that customer; a GET only shows a form; a bad token changes nothing."""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from email import policy
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from functions.email.handler import handler as email_handler
from functions.unsubscribe.handler import handler as unsubscribe_handler
from tests.integration import helpers as h

NOW = h.local(h.MONDAY, 9)


def _send_first_email() -> str:
    """Seed a French upgrade customer, send step 1 through the email handler; the List-Unsubscribe URL."""
    journey = h.seed("H-1", "C-1", target_group="upgrade", offer_id="fibre-1g-upgrade", due_at=NOW,
                     household={"canton": "VD", "language": "fr", "max_down_mbps": 1000},
                     customer={"first_name": "Claire", "language": "fr", "email": "claire@example.ch"})
    h.no_failures(h.invoke(email_handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), NOW)))
    [sent] = h.ses_sent()
    message = email.message_from_string(sent.raw_data, policy=policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return str(message["List-Unsubscribe"]).split(",")[0].strip().strip("<>")


def api_event(method: str, url: str, at: datetime, body: str = "") -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) request as Lambda receives it."""
    parts = urlsplit(url)
    return {
        "version": "2.0", "routeKey": f"{method} /unsubscribe", "rawPath": parts.path, "rawQueryString": parts.query,
        "headers": {"content-type": "application/x-www-form-urlencoded", "host": parts.netloc},
        "queryStringParameters": dict(parse_qsl(parts.query)),
        "requestContext": {"http": {"method": method, "path": parts.path}, "timeEpoch": int(at.timestamp() * 1000),
                           "routeKey": f"{method} /unsubscribe", "stage": "$default"},
        "body": body, "isBase64Encoded": False,
    }


def one_click(url: str, at: datetime) -> dict[str, Any]:
    result: dict[str, Any] = h.invoke(unsubscribe_handler, api_event("POST", url, at, "List-Unsubscribe=One-Click"))
    return result


def test_one_click_post_suppresses_email_and_a_later_email_step_is_skipped(stack) -> None:
    # Given an email that went out with its one-click URL
    url = _send_first_email()
    # When the mail provider POSTs it a day later
    result = one_click(url, NOW + timedelta(days=1))
    # Then 200 with a short page in the customer's language, and email is suppressed for the customer
    assert result["statusCode"] == 200
    assert result["headers"]["Content-Language"] == "fr" and "Désabonnement confirmé" in result["body"]
    assert h.suppressed_channels("customer#C-1") == ["email"]
    # ... and the opt-out is recorded like any response
    [response] = h.contacts("H-1", "response#")
    assert (response["type"], response["channel"]) == ("opt_out", "email")
    # When a later email step of the next cycle comes due
    later = NOW + timedelta(days=75)
    journey = h.seed_journey("H-1", target_group="upgrade", offer_id="fibre-1g-upgrade", customer_id="C-1",
                             due_at=later, cycle=2, state="requested")
    h.no_failures(h.invoke(email_handler, h.sqs_event(
        "ContactRequested", h.contact_requested(journey, "email", cycle=2), later)))
    # Then it is skipped for the suppression, and no second email left
    assert len(h.ses_sent()) == 1
    [decision] = [d for d in h.decisions("H-1") if d["cycle"] == 2]
    assert (decision["decision"], decision["reason"]) == ("skipped", "suppressed: email")


def test_a_tampered_token_is_refused_without_detail_and_suppresses_nothing(stack) -> None:
    url = _send_first_email()
    _payload, signature = dict(parse_qsl(urlsplit(url).query))["token"].split(".")
    forged = url.replace(signature, ("A" if signature[0] != "A" else "B") + signature[1:])
    result = one_click(forged, NOW + timedelta(days=1))
    assert result["statusCode"] == 400
    assert "signature" not in result["body"] and "C-1" not in result["body"]
    assert h.suppressed_channels("customer#C-1") == []
    assert h.contacts("H-1", "response#") == []


def test_an_expired_token_is_refused_the_same_way(stack) -> None:
    url = _send_first_email()
    result = one_click(url, NOW + timedelta(days=500))
    assert result["statusCode"] == 400
    assert h.suppressed_channels("customer#C-1") == []


def test_a_get_shows_a_form_that_posts_and_unsubscribes_nobody(stack) -> None:
    # Given a mail scanner (or the person) following the link
    url = _send_first_email()
    result = h.invoke(unsubscribe_handler, api_event("GET", url, NOW + timedelta(hours=1)))
    # Then a confirmation page with a POST form carrying the token, and nothing suppressed
    assert result["statusCode"] == 200
    body = result["body"]
    assert '<form method="post"' in body and "token=" in body
    assert h.suppressed_channels("customer#C-1") == []
    assert h.contacts("H-1", "response#") == []


def test_a_post_with_the_token_in_the_form_body_unsubscribes(stack) -> None:
    # Given a form post whose token travels in the body rather than the query
    from urllib.parse import urlencode

    url = _send_first_email()
    token = dict(parse_qsl(urlsplit(url).query))["token"]
    bare = url.split("?")[0]
    body = urlencode({"token": token, "List-Unsubscribe": "One-Click"})
    result = h.invoke(unsubscribe_handler, api_event("POST", bare, NOW + timedelta(hours=2), body))
    # Then it unsubscribes like the one-click POST
    assert result["statusCode"] == 200
    assert h.suppressed_channels("customer#C-1") == ["email"]
