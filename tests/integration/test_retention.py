"""Personal data kept for a bounded time (the campaign's `retention_days`): households and customers expire that long
after the last feed row or CRM extract that named them, journeys that long after they ended; a live journey never
expires. DynamoDB's TTL deletes them (moto stores the attribute but never expires: the tests read it)."""

from __future__ import annotations

from datetime import timedelta

from functions.ingest.handler import handler as ingest_handler
from functions.responses.handler import handler as responses_handler
from shared.aws import client
from tests.integration import helpers as h
from tests.integration.test_ingest import CRM_HEADER, FEED_HEADER

NOW = h.local(h.MONDAY, 9)
RETENTION_DAYS = 730  # the default of config.yaml


def _drop(key: str, text: str) -> None:
    s = h.cfg()
    client("s3").put_object(Bucket=s.feed_bucket, Key=key, Body=text.encode("utf-8"))
    h.no_failures(h.invoke(ingest_handler, h.s3_drop_event(s.feed_bucket, key, NOW)))


def _epoch(days: int) -> int:
    return int((NOW + timedelta(days=days)).timestamp())


def test_households_and_customers_expire_retention_days_after_the_drop_that_named_them(stack) -> None:
    # When a feed row and a CRM extract name a household and its customer
    _drop("feed/rollout.csv", FEED_HEADER + "H-1,Bahnhofstrasse,1,8001,Zürich,Zürich,ZH,2026-06-01T08:00:00Z,"
                                            "2026-06-01,10000,false\n")
    _drop("crm/extract.csv", CRM_HEADER + "C-1,H-1,Anna,Muster,de,anna@example.ch,079 123 45 67,listed,true,100,"
                                          "true,true,true,false,false,false\n")
    # Then each carries its expiry: retention_days after that drop
    s = h.cfg()
    assert h.household("H-1")["expires_at"] == _epoch(RETENTION_DAYS)
    assert h.get(s.customers_table, {"household_id": "H-1", "customer_id": "C-1"})["expires_at"] == _epoch(
        RETENTION_DAYS)
    # ... and the tables expire on that attribute
    for table in (s.households_table, s.customers_table, s.journeys_table):
        ttl = client("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at"), table


def test_a_live_journey_never_expires_an_ended_one_does(stack) -> None:
    # Given a live journey: no expiry
    h.seed("H-1", "C-1", target_group="upgrade", offer_id="fibre-10g-upgrade", due_at=NOW)
    assert "expires_at" not in h.journey("H-1")
    # When the household orders
    detail = {"version": "1", "correlation_id": "H-1", "at": h.iso_z(NOW), "household_id": "H-1",
              "customer_id": "C-1", "type": "order"}
    h.no_failures(h.invoke(responses_handler, h.sqs_event("ResponseReceived", detail, NOW)))
    # Then the ended journey expires retention_days after its end
    journey = h.journey("H-1")
    assert journey["status"] == "ended" and journey["expires_at"] == _epoch(RETENTION_DAYS)


def test_a_journey_ended_by_an_erasure_expires_too(stack) -> None:
    # Given a customer's live journey
    h.seed("H-1", "C-1", target_group="upgrade", offer_id="fibre-10g-upgrade", due_at=NOW)
    # When the customer is erased
    detail = {"version": "1", "correlation_id": "C-1", "customer_id": "C-1"}
    h.no_failures(h.invoke(responses_handler, h.sqs_event("ErasureRequested", detail, NOW)))
    # Then the journey ended, and expires retention_days later
    journey = h.journey("H-1")
    assert journey["status"] == "ended" and journey["expires_at"] == _epoch(RETENTION_DAYS)
