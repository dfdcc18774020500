"""The business metrics the handlers write (EMF on stdout, as Lambda's log would carry them), on real paths
against moto: a contact made and paid, deferred, refused by the provider, an ambiguous claim, a feed drop's
rows, the day's call list and its backlog, a print batch."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from functions.call_list_exporter.handler import handler as call_handler
from functions.email.handler import handler as email_handler
from functions.ingest.handler import handler as ingest_handler
from shared.aws import client
from shared.stores.records import contact_sk
from tests.integration import helpers as h
from tests.unit.test_metrics import emf_documents

NOW = h.local(h.MONDAY, 9)
NAMESPACE = "ChannelDispatch/test"  # the template's !Sub for the stack the fixture provisions


@pytest.fixture(autouse=True)
def _metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def _values(out: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], list[float]]:
    """Every value written, by (metric name, its dimensions), all in the stack's namespace."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = {}
    for doc in emf_documents(out):
        [directive] = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE
        dims = tuple(sorted((d, doc[d]) for d in directive["Dimensions"][0]))
        for m in directive["Metrics"]:
            value = doc[m["Name"]]
            found.setdefault((m["Name"], dims), []).extend(value if isinstance(value, list) else [value])
    return found


def _seed_email(**customer: Any) -> dict:
    return h.seed("H-1", "C-1", target_group="upgrade", offer_id="fibre-1g-upgrade", due_at=NOW,
                  household={"max_down_mbps": 1000, **customer.pop("household", {})},
                  customer={"email": "anna@example.ch", **customer})


def _email(journey: dict) -> None:
    h.no_failures(h.invoke(email_handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "email"), NOW)))


def test_an_email_sent_is_a_contact_made_its_cost_reserved_and_the_months_pace(stack, capsys) -> None:
    # Given an upgrade customer with an email due on Monday 8 June
    journey = _seed_email()
    capsys.readouterr()
    # When the email function sends it
    _email(journey)
    values = _values(capsys.readouterr().out)
    # Then one contact made on email for the upgrade group, CHF 0.002 reserved, and the month's pace:
    # 0.002 of 50000 spent on day 8 of 30
    assert values[("ContactsMade", (("channel", "email"), ("target_group", "upgrade")))] == [1.0]
    assert values[("BudgetReservedChf", ())] == [pytest.approx(0.002)]
    assert values[("BudgetPace", ())] == [pytest.approx((0.002 / 50000) / (8 / 30))]
    assert not any(name in ("ContactsSkipped", "ContactsDeferred") for name, _ in values)


def test_a_deferred_email_is_counted_with_its_reason_code(stack, capsys) -> None:
    # Given a household that may only be marketed from Wednesday
    journey = _seed_email(household={"marketable_from": date(2026, 6, 10)})
    capsys.readouterr()
    _email(journey)
    values = _values(capsys.readouterr().out)
    # Then a deferral by the reason's code, nothing made, nothing paid
    assert values == {("ContactsDeferred", (("channel", "email"), ("reason", "before marketable_from"),
                                            ("target_group", "upgrade"))): [1.0]}


def test_an_address_refused_is_a_provider_rejection_and_its_reservation_is_given_back(stack, capsys) -> None:
    journey = _seed_email(email="jürg@bücher.ch")  # SMTPUTF8, which SES does not take
    capsys.readouterr()
    _email(journey)
    values = _values(capsys.readouterr().out)
    assert values[("ProviderRejections", (("channel", "email"),))] == [1.0]
    assert values[("ContactsSkipped", (("channel", "email"), ("reason", "provider rejected"),
                                       ("target_group", "upgrade")))] == [1.0]
    assert values[("BudgetReservedChf", ())] == [pytest.approx(0.002), pytest.approx(-0.002)]
    assert ("ContactsMade", (("channel", "email"), ("target_group", "upgrade"))) not in values


def test_an_ambiguous_claim_is_counted_for_its_alarm(stack, capsys) -> None:
    # Given a step claimed by an invocation that died before SES confirmed
    journey = _seed_email()
    h.put(h.cfg().contacts_table, {"household_id": "H-1", "sk": contact_sk(journey["journey_id"], 1, 1),
                                   "status": "claimed", "channel": "email", "claimed_epoch": 0,
                                   "at": NOW.isoformat()})
    capsys.readouterr()
    _email(journey)
    values = _values(capsys.readouterr().out)
    assert values[("AmbiguousClaims", ())] == [1.0]


def test_a_feed_drop_counts_its_rows_and_the_share_rejected(stack, capsys) -> None:
    # Given a feed with two good rows and two bad ones (a postcode of three digits, a naive connected_at)
    header = ("household_id,street,house_number,postcode,locality,commune,canton,connected_at,marketable_from,"
              "max_down_mbps,no_ads_sticker\n")
    feed = header + (
        "H-1,Bahnhofstrasse,1,8001,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-10,10000,false\n"
        "H-2,Seestrasse,12a,800,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,2026-06-10,10000,false\n"
        "H-3,Rue du Lac,3,1003,Lausanne,Lausanne,VD,2026-06-01T11:00:00Z,2026-06-12,1000,true\n"
        "H-4,Via Nassa,5,6900,Lugano,Lugano,TI,2026-06-01T10:00:00,2026-06-10,1000,false\n"
    )
    s = h.cfg()
    client("s3").put_object(Bucket=s.feed_bucket, Key="feed/2026-06-08.csv", Body=feed.encode("utf-8"))
    capsys.readouterr()
    # When the drop is ingested
    h.no_failures(h.invoke(ingest_handler, h.s3_drop_event(s.feed_bucket, "feed/2026-06-08.csv", NOW)))
    values = _values(capsys.readouterr().out)
    # Then 2 accepted, 2 rejected: 50 % of the drop (above the alarm's 5)
    feed_source = (("source", "feed"),)
    assert values[("RowsAccepted", feed_source)] == [2.0]
    assert values[("RowsRejected", feed_source)] == [2.0]
    assert values[("DropRejectedPercent", feed_source)] == [50.0]


def test_the_call_export_counts_the_list_against_capacity_and_the_backlog_beyond_its_limit(stack, capsys) -> None:
    # Given a call centre of two calls a day, a backlog allowed of no day at all, and three calls requested
    # on Monday at 10:00
    h.upload_config("calls: {per_day: 2, max_backlog_days: 0}\n")
    monday = h.local(h.MONDAY, 10)
    for n, offer_id in ((1, "fibre-500-upgrade"), (2, "fibre-10g-upgrade"), (3, "fibre-1g-upgrade")):
        journey = h.seed(f"H-{n}", f"C-{n}", target_group="upgrade", offer_id=offer_id, due_at=monday, step=3,
                         cycle_started_at=monday, household={"max_down_mbps": 10000},
                         customer={"mobile": f"+4179{n}{n}{n}{n}{n}{n}{n}"})
        h.no_failures(h.invoke(call_handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "call"),
                                                         monday)))
    capsys.readouterr()
    # When Tuesday's export runs at 06:00
    h.invoke(call_handler, h.scheduled("export", h.local(date(2026, 6, 9), 6)))
    values = _values(capsys.readouterr().out)
    # Then two rows of a capacity of two, one call left waiting 20 hours: 20/24 days beyond the limit of 0
    assert values[("CallListRows", ())] == [2.0]
    assert values[("CallListCapacity", ())] == [2.0]
    assert values[("CallBacklog", ())] == [1.0]
    assert values[("CallBacklogOldestDays", ())] == [pytest.approx(20 / 24)]
    assert values[("CallBacklogDaysOverLimit", ())] == [pytest.approx(20 / 24)]
    assert values[("ContactsMade", (("channel", "call"), ("target_group", "upgrade")))] == [1.0, 1.0]
    assert values[("BudgetReservedChf", ())] == [pytest.approx(6.5), pytest.approx(6.5)]


def test_a_print_cut_off_counts_the_batchs_pieces_and_each_as_a_contact_made(stack, capsys) -> None:
    from functions.print_batcher.handler import handler as print_handler

    # Given three prospects' print steps requested on Monday morning (partially addressed pieces)
    now = h.local(h.MONDAY, 10)
    for n in range(3):
        journey = h.seed(f"H-{n}", None, target_group="prospect", offer_id="fibre-1g-welcome", due_at=now,
                         household={"max_down_mbps": 1000})
        h.no_failures(h.invoke(print_handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "print"),
                                                          now)))
    capsys.readouterr()
    # When Monday's cut-off closes the batch
    h.invoke(print_handler, h.scheduled("cut-off", h.local(h.MONDAY, 17)))
    values = _values(capsys.readouterr().out)
    # Then one batch of three pieces, three contacts made for the prospect group
    assert values[("PrintPieces", (("kind", "partially_addressed"),))] == [3.0]
    assert values[("ContactsMade", (("channel", "print"), ("target_group", "prospect")))] == [1.0, 1.0, 1.0]
