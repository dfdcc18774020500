"""Email channel against moto: a requested email step goes through the contact gate, is claimed,
sent once through SES v2 with RFC 8058 one-click unsubscribe, and moves the journey on."""

from __future__ import annotations

import email
from datetime import date, datetime, timedelta
from email import policy

from functions.email.handler import handler
from shared.channels.unsubscribe import token_from_url, verify_token
from shared.stores.records import utc_key
from tests.integration import helpers as h

NOW = h.local(h.MONDAY, 9)


def _seed(household_id: str = "H-1", customer_id: str = "C-1", *, household: dict | None = None,
          customer: dict | None = None) -> dict:
    return h.seed(household_id, customer_id, target_group="upgrade", offer_id="fibre-1g-upgrade", due_at=NOW,
                  household={"canton": "VD", "language": "fr", "max_down_mbps": 1000, **(household or {})},
                  customer={"first_name": "Claire", "last_name": "Dupont", "language": "fr",
                            "email": "claire.dupont@example.ch", **(customer or {})})


def test_due_email_step_is_sent_once_with_one_click_unsubscribe_in_the_customers_language(stack) -> None:
    # Given a French-speaking upgrade customer with email consent, step 1 (email) requested
    journey = _seed()
    event = h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), NOW)
    # When the email function handles the request
    h.no_failures(h.invoke(handler, event))
    # Then one message left through SES to the customer ...
    [sent] = h.ses_sent()
    assert "claire.dupont@example.ch" in sent.destinations
    message = email.message_from_string(sent.raw_data, policy=policy.default)
    # From: the sender's address with a display name in the customer's language; Message-ID on the sender's domain
    assert message["From"].addresses[0].addr_spec == h.cfg().sender_email
    assert message["From"].addresses[0].display_name == "Votre équipe fibre optique"
    assert message["Message-ID"].endswith("@" + h.cfg().sender_email.split("@")[1] + ">")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # ... whose List-Unsubscribe URL is https and carries a token signed with the secret of Secrets Manager
    uri = str(message["List-Unsubscribe"]).split(",")[0].strip().strip("<>")
    assert uri.startswith("https://")
    token = token_from_url(uri)
    assert token is not None
    claim = verify_token(h.unsubscribe_secret_value(), token, now=NOW + timedelta(days=1))
    assert (claim.customer_id, claim.household_id, claim.channel, claim.campaign_id) == ("C-1", "H-1", "email",
                                                                                          h.CAMPAIGN_ID)
    # ... in French
    assert message["Content-Language"] == "fr"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Bonjour" in text and "Claire" in text
    # ... the claim of the step is confirmed sent at the time of the event
    [contact] = h.claims("H-1")
    assert contact["status"] == "sent" and contact["channel"] == "email"
    assert (contact["cycle"], contact["step"], contact["attempt"]) == (1, 1, 1)
    assert datetime.fromisoformat(contact["at"]) == NOW and contact["provider_message_id"] == sent.id
    # ... and the journey moved to step 2 (print, day 7)
    j = h.journey("H-1")
    assert (j["status"], j["cycle"], j["step"], j["state"]) == ("live", 1, 2, "ready")
    assert j["due_at"] == utc_key(NOW + timedelta(days=7))
    assert h.decisions("H-1") == []


def test_the_same_sqs_record_delivered_twice_sends_one_message(stack) -> None:
    journey = _seed()
    event = h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), NOW, message_id="m-1")
    h.no_failures(h.invoke(handler, event))
    # The same record again (visibility timeout passed, Lambda crashed after sending, ...)
    h.no_failures(h.invoke(handler, event))
    assert len(h.ses_sent()) == 1
    assert len(h.claims("H-1")) == 1
    assert h.journey("H-1")["step"] == 2


def test_the_same_request_twice_in_one_batch_sends_one_message(stack) -> None:
    journey = _seed()
    body = h.bus_event("ContactRequested", h.contact_requested(journey, "email"), NOW)
    h.no_failures(h.invoke(handler, h.sqs_batch([body, body])))
    assert len(h.ses_sent()) == 1


def test_no_email_consent_is_a_skipped_decision_and_no_message(stack) -> None:
    journey = _seed(customer={"email_consent": False})
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), NOW)))
    assert h.ses_sent() == []
    [decision] = h.decisions("H-1")
    assert (decision["decision"], decision["channel"], decision["reason"]) == ("skipped", "email", "no email consent")
    assert h.claims("H-1") == []
    # a skipped step is not retried: the journey goes on to its next step
    assert h.journey("H-1")["step"] == 2


def test_suppressed_email_is_skipped(stack) -> None:
    journey = _seed()
    h.put(h.cfg().suppression_table, {"subject": "customer#C-1", "channels": {"email"}})
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), NOW)))
    assert h.ses_sent() == []
    [decision] = h.decisions("H-1")
    assert decision["decision"] == "skipped" and "suppressed" in decision["reason"]


def test_before_marketable_from_is_deferred_to_midnight_zurich(stack) -> None:
    # Given a household that may only be marketed from Wednesday
    journey = _seed(household={"marketable_from": date(2026, 6, 10)})
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), NOW)))
    # Then nothing is sent; the step waits until 10 June 00:00 local, with the reason recorded
    assert h.ses_sent() == []
    assert h.claims("H-1") == []
    [decision] = h.decisions("H-1")
    assert decision["decision"] == "deferred" and "marketable_from" in decision["reason"]
    j = h.journey("H-1")
    assert (j["step"], j["state"], j["due_at"]) == (1, "ready", "2026-06-09T22:00:00Z")


def test_a_claim_left_unconfirmed_by_a_crash_is_reported_never_resent(stack) -> None:
    # Given a step claimed by an invocation that died before SES confirmed (status still "claimed")
    from shared.stores.records import contact_sk

    journey = _seed()
    sk = contact_sk(journey["journey_id"], 1, 1)
    h.put(h.cfg().contacts_table, {"household_id": "H-1", "sk": sk, "status": "claimed", "channel": "email",
                                   "claimed_epoch": 0, "at": NOW.isoformat()})
    # When the request is redelivered
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), NOW)))
    # Then nothing is sent; the claim is marked ambiguous and a skipped decision says why
    assert h.ses_sent() == []
    assert [c["status"] for c in h.claims("H-1")] == ["ambiguous"]
    [decision] = h.decisions("H-1")
    assert decision["decision"] == "skipped" and "ambiguous" in decision["reason"]


def test_email_capped_by_contact_pressure_is_deferred_until_the_cap_allows(stack) -> None:
    # Given an email to the household two days ago (cap: 1 email in 7 days)
    journey = _seed()
    earlier = NOW - timedelta(days=2)
    h.put(h.cfg().contacts_table, {"household_id": "H-1", "sk": "pressure", "version": 1,
                                   "history": [f"email|{earlier.isoformat()}"]})
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), NOW)))
    assert h.ses_sent() == []
    [decision] = h.decisions("H-1")
    assert decision["decision"] == "deferred" and "cap" in decision["reason"]
    assert h.journey("H-1")["due_at"] == utc_key(earlier + timedelta(days=7))


def test_an_internationalised_domain_goes_to_ses_and_into_to_in_its_idna_form(stack) -> None:
    # Given a customer whose address has an internationalised domain, stored as people write it
    journey = _seed(customer={"email": "claire@bücher.ch"})
    # When the email step is handled
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), NOW)))
    # Then SES got the ASCII (IDNA) form as destination, and To: holds it too, not an encoded word
    [sent] = h.ses_sent()
    assert set(sent.destinations) == {"claire@xn--bcher-kva.ch"}  # moto lists Destination and To: both
    assert "\nTo: claire@xn--bcher-kva.ch\r" in sent.raw_data
    assert "=?" not in next(line for line in sent.raw_data.splitlines() if line.startswith("To:"))
    assert [c["status"] for c in h.claims("H-1")] == ["sent"]


def test_an_address_ses_cannot_take_is_a_skipped_step_not_a_retry(stack) -> None:
    # Given a non-ASCII local part (SMTPUTF8, which SES does not offer)
    journey = _seed(customer={"email": "jürg@bücher.ch"})
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), NOW)))
    assert h.ses_sent() == []
    [decision] = h.decisions("H-1")
    assert decision["decision"] == "skipped" and "local part is not ASCII" in decision["reason"]
    assert h.journey("H-1")["step"] == 2
