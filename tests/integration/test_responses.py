"""Responses against moto: orders end journeys, opt-outs, bounces and STOPs grow the suppression
list, call outcomes book the next attempt or suppress calls; response files are applied row by row
with bad rows listed beside the drop."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from functions.call_list_exporter.handler import handler as call_handler
from functions.journey.handler import handler as tick_handler
from functions.responses.handler import handler
from tests.integration import helpers as h

NOW = h.local(h.MONDAY, 9)
TUESDAY, WEDNESDAY = date(2026, 6, 9), date(2026, 6, 10)


def _response(at: datetime, household_id: str = "H-1", customer_id: str | None = "C-1", **fields: object) -> None:
    detail = {"version": "1", "correlation_id": household_id, "at": h.iso_z(at), "household_id": household_id,
              "customer_id": customer_id, **fields}
    h.no_failures(h.invoke(handler, h.sqs_event("ResponseReceived", detail, at)))


def _upgrade(step: int = 1, due_at: datetime = NOW) -> dict:
    return h.seed("H-1", "C-1", target_group="upgrade", offer_id="fibre-10g-upgrade", due_at=due_at, step=step,
                  cycle_started_at=due_at)


def test_an_order_ends_the_journey_and_a_later_tick_requests_nothing(stack) -> None:
    # Given a live journey whose next step falls due on Wednesday
    h.seed_household("H-1")
    h.seed_journey("H-1", target_group="upgrade", offer_id="fibre-10g-upgrade", customer_id="C-1",
                   due_at=h.local(WEDNESDAY, 9))
    # When the household orders on Tuesday
    _response(h.local(TUESDAY, 15), type="order")
    # Then the journey has ended for that reason ...
    j = h.journey("H-1")
    assert (j["status"], j["end_reason"]) == ("ended", "order")
    assert "due_shard" not in j
    # ... the response is on record, and a tick after the old due time requests nothing
    assert [r["type"] for r in h.contacts("H-1", "response#")] == ["order"]
    tap = h.BusTap(stack)
    result = h.invoke(tick_handler, h.scheduled("tick", h.local(WEDNESDAY, 10)))
    assert result["result"]["requested"] == 0
    assert tap.events("ContactRequested") == []


def test_opt_out_email_suppresses_email_for_the_customer(stack) -> None:
    _upgrade()
    _response(NOW, type="opt_out", channel="email")
    assert h.suppressed_channels("customer#C-1") == ["email"]
    assert h.journey("H-1")["status"] == "live"  # other channels go on


def test_opt_out_all_suppresses_everything_and_ends_the_journey(stack) -> None:
    _upgrade()
    _response(NOW, type="opt_out", channel="all")
    assert h.suppressed_channels("customer#C-1") == ["all"]
    assert h.journey("H-1")["status"] == "ended"


def test_prospect_opt_out_without_customer_suppresses_the_household(stack) -> None:
    _response(NOW, customer_id=None, type="opt_out", channel="print")
    assert h.suppressed_channels("household#H-1") == ["print"]


def test_email_bounce_suppresses_email(stack) -> None:
    _response(NOW, type="email_bounce")
    assert h.suppressed_channels("customer#C-1") == ["email"]


def test_sms_stop_suppresses_sms(stack) -> None:
    _response(NOW, type="sms_stop")
    _response(NOW + h.hours(1), type="email_complaint")
    assert h.suppressed_channels("customer#C-1") == ["email", "sms"]


def test_call_outcome_do_not_call_suppresses_calls(stack) -> None:
    _response(NOW, type="call_outcome", outcome="do_not_call")
    assert h.suppressed_channels("customer#C-1") == ["call"]


def _listed_call() -> dict:
    """A call step requested on Monday and put on Tuesday's list."""
    journey = _upgrade(step=3)
    h.no_failures(h.invoke(call_handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "call"), NOW)))
    assert h.invoke(call_handler, h.scheduled("export", h.local(TUESDAY, 6)))["result"]["rows"] == 1
    return journey


def test_call_not_reached_queues_a_second_attempt(stack) -> None:
    # Given a call put on Tuesday's list
    _listed_call()
    # When the call centre reports Tuesday afternoon that nobody answered
    _response(h.local(TUESDAY, 15), type="call_outcome", outcome="not_reached")
    # Then attempt 2 of the same step waits in the call queue, its contact queued
    [pending] = _pending_calls()
    assert pending["contact_sk"].endswith("#a02")
    attempts = {c["attempt"]: c["status"] for c in h.claims("H-1")}
    assert attempts == {1: "sent", 2: "queued"}
    # ... and the same report again books nothing more
    _response(h.local(TUESDAY, 15), type="call_outcome", outcome="not_reached")
    assert len(_pending_calls()) == 1


def _pending_calls() -> list[dict]:
    """The call queue (beside it the table keeps the rows of the last days' lists)."""
    return [i for i in h.scan(h.cfg().calls_table) if i["queue"] == "pending"]


def test_second_call_attempt_is_listed_within_the_attempt_window(stack) -> None:
    # Given attempt 1 on Tuesday's list was not reached (max_attempts 3 within attempt_window_days 7)
    _listed_call()
    _response(h.local(TUESDAY, 15), type="call_outcome", outcome="not_reached")
    # When the next exports run during the attempt window
    for day in (WEDNESDAY, date(2026, 6, 11), date(2026, 6, 12), date(2026, 6, 13)):
        h.invoke(call_handler, h.scheduled("export", h.local(day, 6)))
    # Then attempt 2 has been on a list within the window (an unanswered call is not a second contact)
    lists = [k for k in h.s3_keys(h.cfg().call_list_bucket) if k != "call-lists/2026-06-09.csv"]
    bodies = [h.s3_get(h.cfg().call_list_bucket, k).decode("utf-8-sig") for k in lists]
    rows = [r for body in bodies for r in list(csv.reader(io.StringIO(body), delimiter=";"))[1:]]
    assert [(r[3], r[-1]) for r in rows] == [("H-1", "2")], (
        "attempt 2 never listed within the 7-day attempt window; decisions: "
        + "; ".join(d["reason"] for d in h.decisions("H-1")))


def test_responses_file_drop_applies_good_rows_and_rejects_bad_ones(runtime, stack) -> None:
    # Given a live journey and a responses file with an order, an opt-out, and a bad row (opt_out with no channel)
    h.seed_household("H-1")
    h.seed_journey("H-1", target_group="upgrade", offer_id="fibre-10g-upgrade", customer_id="C-1",
                   due_at=h.local(WEDNESDAY, 9))
    text = ("at,household_id,customer_id,type,channel,outcome\n"
            "2026-06-08T10:00:00+02:00,H-1,C-1,order,,\n"
            "2026-06-08T11:00:00+02:00,H-2,C-2,opt_out,,\n"
            "2026-06-08T12:00:00Z,H-3,C-3,sms_stop,,\n")
    # When it is dropped into the feed bucket and the runtime delivers the notification
    runtime.start_clock(NOW)
    runtime.drop(h.cfg().feed_bucket, "responses/2026-06-08.csv", text.encode(), h.local(h.MONDAY, 13))
    runtime.drain()
    # Then the good rows took effect ...
    assert runtime.errors == []
    assert h.journey("H-1")["status"] == "ended"
    assert h.suppressed_channels("customer#C-3") == ["sms"]
    assert h.suppressed_channels("customer#C-2") == []
    # ... and the bad row is listed beside the drop with its line and reason
    rejected = list(csv.DictReader(io.StringIO(
        h.s3_get(h.cfg().feed_bucket, "rejected/responses/2026-06-08.csv").decode("utf-8"))))
    assert [(r["source"], r["line"]) for r in rejected] == [("responses", "3")]
    assert "channel" in rejected[0]["reason"]
    assert set(runtime.dlq_depths().values()) == {0}


def test_a_call_centre_upload_with_a_space_in_its_name_is_applied(stack) -> None:
    """Given a call-centre upload named "call-outcomes/Anrufe 9. Juni.csv", announced URL-encoded as S3 does,
    When the responses function handles the notification,
    Then the file is read (no NoSuchKey into the DLQ) and its order ends the journey (issue 13, finding 8)."""
    from urllib.parse import quote_plus

    from shared.aws import client

    _upgrade()
    key = "call-outcomes/Anrufe 9. Juni.csv"
    text = "at,household_id,customer_id,type,channel,outcome\n2026-06-08T10:00:00+02:00,H-1,C-1,call_outcome,,ordered\n"
    client("s3").put_object(Bucket=h.cfg().feed_bucket, Key=key, Body=text.encode())
    h.no_failures(h.invoke(handler, h.s3_drop_event(h.cfg().feed_bucket, quote_plus(key, safe="/"), NOW)))
    assert h.journey("H-1")["status"] == "ended"


def test_a_folder_object_and_a_duplicated_column_never_fail_into_the_dlq(stack) -> None:
    """Given the console's "Create folder" under responses/ and a responses file with a repeated column,
    When their notifications are handled,
    Then the folder is ignored, and the file is set aside in rejected/ with its reason, both without a failure."""
    from shared.aws import client

    bucket = h.cfg().feed_bucket
    client("s3").put_object(Bucket=bucket, Key="responses/", Body=b"")
    h.no_failures(h.invoke(handler, h.s3_drop_event(bucket, "responses/", NOW)))
    text = "at,household_id,customer_id,type,type,channel,outcome\n"
    client("s3").put_object(Bucket=bucket, Key="responses/twice.csv", Body=text.encode())
    h.no_failures(h.invoke(handler, h.s3_drop_event(bucket, "responses/twice.csv", NOW)))
    reason = h.s3_get(bucket, "rejected/responses/twice.csv.reason.txt").decode("utf-8")
    assert "duplicate column 'type'" in reason
