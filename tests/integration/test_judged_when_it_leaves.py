"""Design rule 9 against moto: a contact is judged at the moment it leaves, with the state of that moment.

A letter waits in the open batch for the cut-off, a call in the queue for the morning's list; whatever
arrives in between — an order, an objection, a postponed marketable_from, a new CRM record, an expired
offer — decides. What may no longer go is withdrawn with a decision and gives back its place in the caps
and its budget. Each test names the finding of issue 12 it reproduces.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

import yaml

from functions.call_list_exporter.handler import handler as call_handler
from functions.email.handler import handler as email_handler
from functions.print_batcher.handler import handler as print_handler
from functions.responses.logic import apply_response
from functions.sms.handler import handler as sms_handler
from shared.campaign import campaign
from shared.events import ResponseReceived
from shared.offers import default_offers_path
from shared.stores.dynamo import query_all
from tests.integration import helpers as h

MONDAY = h.MONDAY
TUESDAY = MONDAY + timedelta(days=1)


def _respond(household_id: str, at: datetime, type_: str, customer_id: str | None = None, **extra: Any) -> None:
    response = ResponseReceived(correlation_id=household_id, household_id=household_id, customer_id=customer_id,
                                at=at, type=type_, **extra)  # type: ignore[arg-type]
    apply_response(h.cfg(), campaign(), response)


def _print_request(journey: dict[str, Any], at: datetime, step: int | None = None) -> None:
    detail = h.contact_requested(journey, "print", step=step)
    h.no_failures(h.invoke(print_handler, h.sqs_event("ContactRequested", detail, at)))


def _cut_off(day: date) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = h.invoke(print_handler, h.scheduled("cut-off", h.local(day, 17)))["result"]
    return result


def _call_request(journey: dict[str, Any], at: datetime) -> None:
    h.no_failures(h.invoke(call_handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "call"), at)))


def _export(day: date) -> list[dict[str, str]]:
    h.invoke(call_handler, h.scheduled("export", h.local(day, 6)))
    body = h.s3_get(h.cfg().call_list_bucket, f"call-lists/{day.isoformat()}.csv")
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def _prospect(household_id: str, at: datetime, **household: Any) -> dict[str, Any]:
    return h.seed(household_id, None, target_group="prospect", offer_id="fibre-1g-welcome", due_at=at,
                  household={"max_down_mbps": 1000, **household})


def _upgrade_call(household_id: str, at: datetime, *, offer_id: str = "fibre-10g-upgrade",
                  **customer: Any) -> dict[str, Any]:
    return h.seed(household_id, f"C-{household_id[2:]}", target_group="upgrade", offer_id=offer_id, due_at=at,
                  step=3, cycle_started_at=at - timedelta(days=14), household={"max_down_mbps": 10000},
                  customer={"mobile": "+41791234567", **customer})


def _decisions(household_id: str, decision: str | None = None) -> list[dict[str, Any]]:
    return [d for d in h.decisions(household_id) if decision is None or d["decision"] == decision]


def _budget_spent() -> int:
    return sum(int(i.get("spent_micro_chf", 0)) for i in h.scan(h.cfg().budget_table))


def _pressure(household_id: str) -> list[str]:
    item = h.get(h.cfg().contacts_table, {"household_id": household_id, "sk": "pressure"})
    return list(item.get("history", [])) if item else []


def _batch_rows(batch_id: str) -> list[dict[str, str]]:
    body = h.s3_get(h.cfg().print_bucket, f"batches/{batch_id}.csv")
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def _upload_offers(change: dict[str, dict[str, Any]]) -> None:
    offers = yaml.safe_load(default_offers_path().read_text(encoding="utf-8"))
    for offer in offers:
        offer.update(change.get(offer["offer_id"], {}))
    h.client("s3").put_object(Bucket=h.cfg().feed_bucket, Key="config/offers.yaml",
                              Body=yaml.safe_dump(offers, allow_unicode=True).encode("utf-8"))


# ------------------------------------------------------------------------------ finding 1: the open batch
def test_an_order_at_noon_withdraws_the_letter_from_the_open_batch(stack) -> None:
    """Given a prospect's letter batched on Monday morning (its cost reserved, its place in the caps taken)
    and a second household's letter in the same batch,
    When the household orders at noon and the 17:00 cut-off closes the batch,
    Then only the other letter leaves; the first is withdrawn with a decision, its claim is `withdrawn`,
    its place in the caps and its budget are given back."""
    morning = h.local(MONDAY, 10)
    _print_request(_prospect("H-order", morning), morning)
    _print_request(_prospect("H-other", morning, street="Seestrasse"), morning)
    assert _pressure("H-order") and _budget_spent() > 0
    spent_for_two = _budget_spent()
    _respond("H-order", h.local(MONDAY, 12), "order")
    _cut_off(MONDAY)
    rows = _batch_rows("2026-06-08-partially-addressed")
    assert [r["street"] for r in rows] == ["Seestrasse"]
    [claim] = h.claims("H-order")
    assert claim["status"] == "withdrawn"
    [decision] = _decisions("H-order", "skipped")
    assert "ordered" in decision["reason"] and "withdrawn" in decision["reason"]
    assert datetime.fromisoformat(decision["at"]) == h.local(MONDAY, 17)
    assert _pressure("H-order") == []
    assert _budget_spent() == spent_for_two // 2


def test_an_objection_to_print_at_noon_withdraws_the_letter(stack) -> None:
    """Given a prospect's letter in Monday's open batch,
    When the household objects to print at noon (no customer id: the residents),
    Then the cut-off leaves it out, with a skipped decision naming the objection."""
    morning = h.local(MONDAY, 10)
    _print_request(_prospect("H-optout", morning), morning)
    _respond("H-optout", h.local(MONDAY, 12), "opt_out", channel="print")
    assert _cut_off(MONDAY) == []
    [decision] = _decisions("H-optout", "skipped")
    assert "suppressed: print" in decision["reason"]


def test_a_postponed_marketable_from_defers_the_batched_letter_and_puts_the_step_back(stack) -> None:
    """Given a prospect's letter in Monday's open batch (its one-step journey moved on to its second cycle),
    When a corrected feed row at noon moves marketable_from to the next Monday,
    Then the cut-off leaves it out with a `deferred` decision, and the journey is live again at that step,
    due at the new marketable_from — so the letter goes out then, and not before."""
    morning = h.local(MONDAY, 10)
    _print_request(_prospect("H-late", morning), morning)
    moved = h.journey("H-late")
    assert (moved["status"], moved["cycle"], moved["step"]) == ("live", 2, 1)
    later = MONDAY + timedelta(days=7)
    household = h.household("H-late")
    h.put(h.cfg().households_table, household | {"marketable_from": later.isoformat()})
    assert _cut_off(MONDAY) == []
    [decision] = _decisions("H-late", "deferred")
    assert "before marketable_from" in decision["reason"]
    journey = h.journey("H-late")
    assert (journey["status"], journey["cycle"], journey["step"]) == ("live", 1, 1)
    assert journey["due_at"] == h.iso_z(h.local(later, 0))
    # When the step falls due again on the new marketable_from and is requested, Then it leaves at that cut-off
    _print_request(journey, h.local(later, 0))
    _cut_off(later)
    [claim] = h.claims("H-late")
    assert claim["status"] == "sent" and datetime.fromisoformat(claim["at"]) == h.local(later, 17)


# ------------------------------------------------------------------ finding 3: an order after completion
def test_an_order_after_the_last_step_stops_the_queued_call(stack) -> None:
    """Given an upgrade journey whose last step (the call) was requested on Monday, so the journey is completed,
    When the household orders on Monday afternoon,
    Then Tuesday's 06:00 list does not hold the call, and the withdrawal is recorded."""
    h.upload_config("journeys: {upgrade: {steps: [{channel: email, day: 0}, {channel: print, day: 7}, "
                    "{channel: call, day: 14}], repeat_every_days: 75, max_cycles: 1}}\n")
    morning = h.local(MONDAY, 10)
    _call_request(_upgrade_call("H-done", morning), morning)
    assert h.journey("H-done")["status"] == "completed"
    _respond("H-done", h.local(MONDAY, 15), "order", customer_id="C-done")
    assert _export(TUESDAY) == []
    [claim] = h.claims("H-done")
    assert claim["status"] == "withdrawn"
    assert any("ordered" in d["reason"] for d in _decisions("H-done", "skipped"))


# ----------------------------------------------------------- finding 4: caps judged when it is recorded
def test_a_call_is_judged_against_the_caps_at_the_export_instant(stack) -> None:
    """Given a household with three contacts in the 30 days before Tuesday 06:00, the oldest of which falls
    out of the 30-day window at 07:00 (so at the call window's opening, 08:00, a fourth would be allowed),
    When Tuesday's list is exported at 06:00 (the instant the call is recorded as made),
    Then the call is not listed (a fourth contact in 30 days at 06:00) but deferred, with the cap named."""
    morning = h.local(MONDAY, 10)
    journey = _upgrade_call("H-caps", morning)
    oldest = h.local(TUESDAY, 7) - timedelta(days=30)
    history = [f"email|{oldest.isoformat()}", f"print|{(oldest + timedelta(days=5)).isoformat()}",
               f"email|{(oldest + timedelta(days=10)).isoformat()}"]
    h.put(h.cfg().contacts_table, {"household_id": "H-caps", "sk": "pressure", "history": history, "version": 1})
    _call_request(journey, morning)
    assert _export(TUESDAY) == []
    [decision] = _decisions("H-caps", "deferred")
    assert "contact pressure cap" in decision["reason"] and "all channels" in decision["reason"]


# ------------------------------------------------------------- finding 5: the CRM record of the moment
def test_a_customer_who_left_the_crm_is_not_called(stack) -> None:
    """Given a queued call for a customer,
    When a new CRM extract no longer has the customer at that household (their record removed),
    Then the morning's list leaves the call out, with the reason."""
    morning = h.local(MONDAY, 10)
    _call_request(_upgrade_call("H-left", morning), morning)
    h.client("dynamodb").delete_item(TableName=h.cfg().customers_table,
                                     Key=h.to_item({"household_id": "H-left", "customer_id": "C-left"}))
    assert _export(TUESDAY) == []
    [decision] = _decisions("H-left", "skipped")
    assert "not in the current CRM extract" in decision["reason"]


def test_a_withdrawn_call_consent_applies_to_the_queued_call(stack) -> None:
    """Given a queued call for a customer with an unlisted number and call consent,
    When the next CRM extract withdraws the call consent,
    Then the call is not listed (UWG: unlisted numbers only with consent)."""
    morning = h.local(MONDAY, 10)
    _call_request(_upgrade_call("H-consent", morning, phone_listing="unlisted", call_consent=True), morning)
    customer = h.get(h.cfg().customers_table, {"household_id": "H-consent", "customer_id": "C-consent"})
    h.put(h.cfg().customers_table, customer | {"call_consent": False})
    assert _export(TUESDAY) == []
    assert any("without call consent" in d["reason"] for d in _decisions("H-consent", "skipped"))


def test_an_email_for_a_customer_who_left_is_not_sent(stack) -> None:
    """Given an email step requested for a customer who is no longer in the CRM at the household,
    When the email function handles it,
    Then nothing is sent and the skip says why."""
    morning = h.local(MONDAY, 10)
    journey = h.seed("H-gone", None, target_group="upgrade", offer_id="fibre-10g-upgrade", due_at=morning)
    journey = journey | {"customer_id": "C-gone"}
    h.no_failures(h.invoke(email_handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "email"),
                                                       morning)))
    assert h.ses_sent() == []
    [decision] = _decisions("H-gone", "skipped")
    assert "not in the current CRM extract" in decision["reason"]


# ------------------------------------------------------------------------- finding 7: offers expire
def test_a_letter_whose_offer_expired_before_the_cut_off_advertises_a_valid_one(stack) -> None:
    """Given an upgrade letter batched on Monday for the 10 Gbit/s offer, which ends on Sunday before,
    When the cut-off closes the batch on Monday,
    Then the letter advertises the best offer valid that day (1 Gbit/s), in the file and the contact history."""
    _upload_offers({"fibre-10g-upgrade": {"valid_to": (MONDAY - timedelta(days=1)).isoformat()}})
    morning = h.local(MONDAY, 10)
    journey = h.seed("H-offer", "C-offer", target_group="upgrade", offer_id="fibre-10g-upgrade", due_at=morning,
                     step=2, cycle_started_at=morning - timedelta(days=7), household={"max_down_mbps": 10000})
    _print_request(journey, morning)
    _cut_off(MONDAY)
    [row] = _batch_rows("2026-06-08-personalised")
    assert row["offer_id"] == "fibre-1g-upgrade"
    [claim] = h.claims("H-offer")
    assert (claim["status"], claim["offer_id"]) == ("sent", "fibre-1g-upgrade")


def test_a_letter_with_no_valid_offer_left_is_withdrawn_and_the_journey_ends(stack) -> None:
    """Given a prospect letter batched on Monday morning while its offer is valid,
    When marketing operations end every prospect offer on Sunday before (a new catalogue) and the cut-off runs,
    Then the letter is withdrawn with the reason, and the journey ends (nothing may be advertised)."""
    morning = h.local(MONDAY, 10)
    _print_request(_prospect("H-expired", morning), morning)
    assert h.journey("H-expired")["status"] == "live"  # waiting for its second cycle
    ended = (MONDAY - timedelta(days=1)).isoformat()
    _upload_offers({o: {"valid_to": ended} for o in ("fibre-500-welcome", "fibre-1g-welcome")})
    _bump_config_version()
    assert _cut_off(MONDAY) == []
    [decision] = _decisions("H-expired", "skipped")
    assert "offer fibre-1g-welcome not valid on 2026-06-08" in decision["reason"]
    journey = h.journey("H-expired")
    assert journey["status"] == "ended" and "not valid" in journey["end_reason"]


def test_a_queued_call_with_an_expired_offer_and_none_other_is_withdrawn_and_the_journey_ended(stack) -> None:
    """Given a queued call whose offer and every other upgrade offer ended on Monday,
    When Tuesday's list is made,
    Then the call is not listed; the decision names the offer; the journey ends."""
    morning = h.local(MONDAY, 10)
    _call_request(_upgrade_call("H-noffer", morning), morning)
    _upload_offers({o: {"valid_to": MONDAY.isoformat()}
                    for o in ("fibre-1g-upgrade", "fibre-10g-upgrade", "fibre-500-upgrade")})
    _bump_config_version()
    assert _export(TUESDAY) == []
    [decision] = _decisions("H-noffer", "skipped")
    assert "offer fibre-10g-upgrade not valid on 2026-06-09" in decision["reason"]
    journey = h.journey("H-noffer")
    assert journey["status"] == "ended" and "not valid" in journey["end_reason"]


def _bump_config_version() -> None:
    """The functions read the campaign once per config version: a new upload takes effect with a new one."""
    import os

    from shared.campaign import reset_campaign_cache

    os.environ["CONFIG_VERSION"] = os.environ.get("CONFIG_VERSION", "v") + "+"
    reset_campaign_cache()


# -------------------------------------------------- finding 8: a former customer's objection to mail
def test_a_former_customers_objection_to_print_stops_partially_addressed_mail(stack) -> None:
    """Given a household with only a former customer (a prospect household),
    When that former customer opts out of print,
    Then the household's letter "to the residents" is not batched, with the reason."""
    morning = h.local(MONDAY, 10)
    journey = _prospect("H-former", morning)
    h.seed_customer("H-former", "C-former", has_internet=False, has_mobile=False)
    _respond("H-former", h.local(MONDAY, 9), "opt_out", customer_id="C-former", channel="print")
    _print_request(journey, morning)
    assert h.scan(h.cfg().print_table) == []
    [decision] = _decisions("H-former", "skipped")
    assert "a resident objected to mail" in decision["reason"]


# ------------------------------------------------------------------------- finding 10: by reading the code
def test_an_sms_handled_after_the_window_closed_is_deferred_not_sent(stack) -> None:
    """Given an SMS step requested at 19:59 (inside the window)
    When its message is only handled at 20:30 (redelivered after a crash), by the running clock,
    Then it is not sent after 20:00 but deferred to the next opening."""
    from shared.clock import set_clock

    requested = h.local(MONDAY, 19, 59)
    journey = h.seed("H-late-sms", "C-late-sms", target_group="switch", offer_id="fibre-1g-switch-combo",
                     due_at=requested, customer={"has_internet": False})
    set_clock(lambda: h.local(MONDAY, 20, 30))
    try:
        h.no_failures(h.invoke(sms_handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "sms"),
                                                         requested)))
    finally:
        set_clock(None)
    assert h.sms_sent() == []
    [decision] = _decisions("H-late-sms", "deferred")
    assert "outside the sms window" in decision["reason"]
    assert h.journey("H-late-sms")["due_at"] == h.iso_z(h.local(TUESDAY, 8))


def test_a_call_waiting_longer_than_a_cycle_is_withdrawn_with_a_decision(stack) -> None:
    """Given a call queued on Monday that no export listed for longer than its journey's cycle (75 days),
    When the export runs,
    Then the call is withdrawn with a decision (it never expires in silence), and the queue item is kept
    as long as the contact history until then."""
    morning = h.local(MONDAY, 10)
    _call_request(_upgrade_call("H-backlog", morning), morning)
    [pending] = [i for i in h.scan(h.cfg().calls_table) if i["queue"] == "pending"]
    assert int(pending["expires_at"]) >= int((morning + timedelta(days=730)).timestamp())
    later = MONDAY + timedelta(days=78)  # a Tuesday
    assert _export(later) == []
    [decision] = _decisions("H-backlog", "skipped")
    assert "not listed within 75 days" in decision["reason"]
    assert [i for i in h.scan(h.cfg().calls_table) if i["queue"] == "pending"] == []


def test_a_request_whose_journey_ended_meanwhile_ends_with_a_decision(stack) -> None:
    """Given an email step requested by the tick,
    When the household orders before the email function handles the request, and the request is delivered twice,
    Then nothing is sent and exactly one decision says why."""
    morning = h.local(MONDAY, 10)
    journey = h.seed("H-stale", "C-stale", target_group="upgrade", offer_id="fibre-10g-upgrade", due_at=morning)
    _respond("H-stale", h.local(MONDAY, 9, 59), "order", customer_id="C-stale")
    event = h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), morning)
    for _ in range(2):
        h.no_failures(h.invoke(email_handler, event))
    assert h.ses_sent() == []
    [decision] = _decisions("H-stale", "skipped")
    assert "journey ended since the request" in decision["reason"] or "ended" in decision["reason"]


def _query_pending() -> list[dict[str, Any]]:
    return query_all(TableName=h.cfg().calls_table, KeyConditionExpression="queue = :q",
                     ExpressionAttributeValues={":q": {"S": "pending"}})
