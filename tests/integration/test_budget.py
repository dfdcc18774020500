"""The monthly budget against moto: every contact reserves its cost from the month's budget shards in the
transaction that claims it; when the month cannot pay, the step is deferred to the 1st of next month,
00:00 Europe/Zurich, with the reason, and goes out then. The month's reservations never exceed its budget."""

from __future__ import annotations

from datetime import date, datetime

from functions.call_list_exporter.handler import handler as call_handler
from functions.email.handler import handler as email_handler
from functions.print_batcher.handler import handler as print_handler
from shared.stores.records import utc_key
from tests.integration import helpers as h

END_OF_JUNE = date(2026, 6, 29)  # a Monday
JULY_1 = h.local(date(2026, 7, 1), 0)
HOUSEHOLDS = [f"H-{n}" for n in range(1, 8)]
# CHF 0.10 a month over 16 shards (CHF 0.00625 each) and emails at CHF 0.02: exactly five fit, each one
# drawn from several shards, because no single shard holds a whole email.
CONFIG = "budget_chf: {monthly: 0.10}\nunit_cost_chf: {email: 0.02, print_personalised: 0.05, call: 6.50}\n"
REASON = "monthly budget exhausted (CHF 0.00 of 0.10 left in 2026-06); due again 2026-07-01T00:00:00+02:00"


def _email_step(household_id: str, at: datetime) -> dict:
    return h.seed(household_id, f"C{household_id[1:]}", target_group="upgrade", offer_id="fibre-1g-upgrade",
                  due_at=at)


def _month(month: str) -> list[dict]:
    return [i for i in h.scan(h.cfg().budget_table) if i["month"] == month]


def _emails(now: datetime, households: list[str]) -> None:
    events = [h.bus_event("ContactRequested", h.contact_requested(h.journey(hh) or {}, "email"), now)
              for hh in households]
    h.no_failures(h.invoke(email_handler, h.sqs_batch(events)))


def test_the_month_pays_for_five_emails_the_rest_wait_for_next_month_and_go_out_then(stack) -> None:
    # Given a budget of CHF 0.10 a month, emails at CHF 0.02, and seven email steps due on 29 June
    h.upload_config(CONFIG)
    now = h.local(END_OF_JUNE, 9)
    for household_id in HOUSEHOLDS:
        _email_step(household_id, now)
    # When the email function handles the seven requests
    _emails(now, HOUSEHOLDS)
    # Then exactly five emails left, and June's shards hold exactly CHF 0.10 spent and nothing left
    assert len(h.ses_sent()) == 5
    june = _month("2026-06")
    assert len(june) == 16 and sum(i["limit_micro_chf"] for i in june) == 100_000
    assert sum(i["spent_micro_chf"] for i in june) == 100_000 and min(i["remaining_micro_chf"] for i in june) == 0
    # ... the two others are deferred to 1 July 00:00 Zurich time, with the reason
    deferred = [hh for hh in HOUSEHOLDS if not h.claims(hh)]
    assert len(deferred) == 2
    for household_id in deferred:
        [decision] = h.decisions(household_id)
        assert (decision["decision"], decision["channel"], decision["reason"]) == ("deferred", "email", REASON)
        journey = h.journey(household_id) or {}
        assert (journey["step"], journey["due_at"]) == (1, utc_key(JULY_1))
    # When they are requested again when July begins
    _emails(JULY_1, deferred)
    # Then they go out, paid from July's budget
    assert len(h.ses_sent()) == 7
    for household_id in deferred:
        [claim] = h.claims(household_id)
        assert claim["status"] == "sent" and datetime.fromisoformat(claim["at"]) == JULY_1
        assert claim["budget_month"] == "2026-07" and sum(claim["budget_shares"].values()) == 20_000
    assert sum(i["spent_micro_chf"] for i in _month("2026-07")) == 40_000


def test_a_letter_is_paid_from_the_month_of_its_cut_off(stack) -> None:
    # Given a print step requested on Tuesday 30 June after the 17:00 cut-off
    h.upload_config(CONFIG)
    now = h.local(date(2026, 6, 30), 18)
    journey = h.seed("H-P", "C-P", target_group="upgrade", offer_id="fibre-1g-upgrade", due_at=now, step=2)
    # When the print batcher handles it
    h.no_failures(h.invoke(print_handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "print"), now)))
    # Then the piece waits for Wednesday 1 July's cut-off and is paid from July, not June
    [claim] = h.claims("H-P")
    assert claim["at"].startswith("2026-07-01T17:00") and claim["budget_month"] == "2026-07"
    assert sum(i["spent_micro_chf"] for i in _month("2026-07")) == 50_000 and _month("2026-06") == []


def test_calls_are_paid_when_listed_and_wait_for_next_month_when_the_month_is_short(stack) -> None:
    # Given a budget of CHF 13 (two calls at 6.50) and three call steps requested on 29 June
    h.upload_config("budget_chf: {monthly: 13}\ncalls: {per_day: 5}\n")
    now = h.local(END_OF_JUNE, 10)
    for household_id in ("H-1", "H-2", "H-3"):
        journey = h.seed(household_id, f"C{household_id[1:]}", target_group="upgrade", offer_id="fibre-1g-upgrade",
                         due_at=now, step=3, cycle_started_at=now)
        h.no_failures(h.invoke(call_handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "call"),
                                                          now)))
    # When Tuesday 30 June's list is made
    result = h.invoke(call_handler, h.scheduled("export", h.local(date(2026, 6, 30), 6)))["result"]
    # Then two calls are listed and paid from June; the third waits for July with the reason
    assert result["rows"] == 2
    assert sum(i["spent_micro_chf"] for i in _month("2026-06")) == 13_000_000
    [waiting] = [hh for hh in ("H-1", "H-2", "H-3") if h.claims(hh)[0]["status"] == "queued"]
    [decision] = h.decisions(waiting)
    assert decision["decision"] == "deferred"
    assert decision["reason"] == ("call list: monthly budget exhausted (CHF 0.00 of 13.00 left in 2026-06); "
                                  "listed again from 2026-07-01")
    # When 1 July's list is made, the call is on it, paid from July
    assert h.invoke(call_handler, h.scheduled("export", h.local(date(2026, 7, 1), 6)))["result"]["rows"] == 1
    assert h.claims(waiting)[0]["status"] == "sent"
    assert sum(i["spent_micro_chf"] for i in _month("2026-07")) == 6_500_000
