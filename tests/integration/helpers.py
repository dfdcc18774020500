"""Shared builders for the integration tests: Lambda-shaped events, seeded state, and readers of what
landed in DynamoDB, S3, SES, SNS and on the bus (all on the in-process moto of the `stack` fixture)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from infra.embedded import REGION
from infra.lambda_context import LambdaContext
from shared.aws import client
from shared.events import SOURCE
from shared.settings import Settings, settings
from shared.stores.dynamo import from_item, query_all, to_item
from shared.stores.records import journey_id

TZ = ZoneInfo("Europe/Zurich")
CAMPAIGN_ID = "fibre-rollout"
# A plain Monday in June 2026: no federal or Zurich holiday near it, every default offer is valid.
MONDAY = date(2026, 6, 8)
SUNDAY = date(2026, 6, 14)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Europe/Zurich wall-clock time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def iso_z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------- events
def bus_event(detail_type: str, detail: dict[str, Any], time: datetime, source: str = SOURCE) -> dict[str, Any]:
    """An EventBridge event as a rule delivers it to an SQS target."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": source,
        "account": "123456789012", "time": iso_z(time), "region": REGION, "resources": [], "detail": detail,
    }


def sqs_event(detail_type: str, detail: dict[str, Any], time: datetime, source: str = SOURCE,
              message_id: str | None = None) -> dict[str, Any]:
    """A Lambda SQS event with one record whose body is the EventBridge event."""
    return sqs_batch([bus_event(detail_type, detail, time, source)], message_ids=[message_id] if message_id else None)


def sqs_batch(events: list[dict[str, Any]], message_ids: list[str] | None = None) -> dict[str, Any]:
    ids = message_ids or [str(uuid.uuid4()) for _ in events]
    return {"Records": [{
        "messageId": mid, "receiptHandle": f"handle-{mid}", "body": json.dumps(event),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "AIDA",
                       "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:test-queue", "awsRegion": REGION,
    } for mid, event in zip(ids, events, strict=True)]}


def s3_drop_event(bucket: str, key: str, time: datetime) -> dict[str, Any]:
    """The SQS event carrying an S3 "Object Created" notification (as the IngestRule delivers it)."""
    detail = {"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 1}, "reason": "PutObject"}
    return sqs_event("Object Created", detail, time, source="aws.s3")


def scheduled(task: str, at: datetime) -> dict[str, Any]:
    return {"task": task, "scheduled_time": iso_z(at)}


def invoke(handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any]) -> Any:
    return handler(event, LambdaContext("test-function", REGION))


def no_failures(result: dict[str, Any]) -> None:
    assert result.get("batchItemFailures", []) == [], result


# ------------------------------------------------------------------------------------- seeding
def cfg() -> Settings:
    return settings()


def put(table: str, item: dict[str, Any]) -> None:
    client("dynamodb").put_item(TableName=table, Item=to_item(item))


def seed_household(household_id: str, *, marketable_from: date = date(2026, 6, 1), canton: str = "ZH",
                   language: str | None = "de", street: str = "Bahnhofstrasse", house_number: str = "1",
                   postcode: str = "8001", locality: str = "Zürich", no_ads_sticker: bool = False,
                   max_down_mbps: int = 10000, target_group: str | None = None) -> dict[str, Any]:
    item = {
        "household_id": household_id, "street": street, "house_number": house_number, "postcode": postcode,
        "locality": locality, "commune": locality, "canton": canton,
        "connected_at": "2026-05-20T10:00:00+02:00", "marketable_from": marketable_from.isoformat(),
        "max_down_mbps": max_down_mbps, "no_ads_sticker": no_ads_sticker, "language": language,
        "target_group": target_group,
    }
    put(cfg().households_table, item)
    return item


def seed_customer(household_id: str, customer_id: str, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "customer_id": customer_id, "household_id": household_id, "first_name": "Anna", "last_name": "Muster",
        "language": "de", "email": f"{customer_id.lower()}@example.ch", "mobile": "+41791234567",
        "phone_listing": "listed", "has_internet": True, "internet_down_mbps": 100, "has_mobile": True,
        "email_consent": True, "sms_consent": True, "call_consent": True, "do_not_call": False,
        "do_not_mail": False,
    }
    item |= overrides
    put(cfg().customers_table, item)
    return item


def seed_journey(household_id: str, *, target_group: str, offer_id: str, customer_id: str | None,
                 due_at: datetime, cycle: int = 1, step: int = 1, cycle_started_at: datetime | None = None,
                 state: str = "ready") -> dict[str, Any]:
    """A live journey at (cycle, step), as the offer picker and the tick leave it."""
    from shared.stores.journeys import Journey, new_journey_item

    journey = Journey(household_id=household_id, journey_id=journey_id(CAMPAIGN_ID, household_id), status="live",
                      target_group=target_group, offer_id=offer_id, customer_id=customer_id, cycle=cycle, step=step,
                      cycle_started_at=cycle_started_at or due_at, due_at=due_at, state=state)
    item = new_journey_item(journey, due_at)
    item["state"] = state
    put(cfg().journeys_table, item)
    return item


def seed(household_id: str, customer_id: str | None, *, target_group: str, offer_id: str, due_at: datetime,
         step: int = 1, household: dict[str, Any] | None = None, customer: dict[str, Any] | None = None,
         cycle_started_at: datetime | None = None) -> dict[str, Any]:
    """A household, its customer (unless a prospect) and its live journey at `step`, requested."""
    seed_household(household_id, target_group=target_group, **(household or {}))
    if customer_id is not None:
        seed_customer(household_id, customer_id, **(customer or {}))
    return seed_journey(household_id, target_group=target_group, offer_id=offer_id, customer_id=customer_id,
                        due_at=due_at, step=step, cycle_started_at=cycle_started_at, state="requested")


def contact_requested(journey: dict[str, Any], channel: str, *, step: int | None = None, cycle: int = 1,
                      attempt: int = 1) -> dict[str, Any]:
    """The ContactRequested detail the journey tick publishes for the journey's current step."""
    return {
        "version": "1", "correlation_id": journey["household_id"], "household_id": journey["household_id"],
        "journey_id": journey["journey_id"], "customer_id": journey.get("customer_id"),
        "target_group": journey["target_group"], "channel": channel, "cycle": cycle,
        "step": step if step is not None else journey["step"], "offer_id": journey["offer_id"],
        "due_at": journey["due_at"], "attempt": attempt,
    }


def upload_config(text: str) -> None:
    client("s3").put_object(Bucket=cfg().feed_bucket, Key="config/config.yaml", Body=text.encode("utf-8"))


# ------------------------------------------------------------------------------------- reading
def get(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    item = client("dynamodb").get_item(TableName=table, Key=to_item(key)).get("Item")
    return from_item(item) if item else None


def household(household_id: str) -> dict[str, Any] | None:
    return get(cfg().households_table, {"household_id": household_id})


def journey(household_id: str) -> dict[str, Any] | None:
    return get(cfg().journeys_table, {"household_id": household_id})


def contacts(household_id: str, prefix: str = "") -> list[dict[str, Any]]:
    """The household's items in the contacts table (claims, decisions, pressure, responses)."""
    return query_all(TableName=cfg().contacts_table,
                     KeyConditionExpression="household_id = :h AND begins_with(sk, :p)",
                     ExpressionAttributeValues={":h": {"S": household_id}, ":p": {"S": prefix}})


def claims(household_id: str) -> list[dict[str, Any]]:
    return contacts(household_id, "contact#")


def decisions(household_id: str) -> list[dict[str, Any]]:
    return contacts(household_id, "decision#")


def scan(table: str) -> list[dict[str, Any]]:
    from shared.stores.dynamo import scan_all

    return scan_all(table)


def suppressed_channels(subject: str) -> list[str]:
    item = get(cfg().suppression_table, {"subject": subject})
    return sorted(item.get("channels", [])) if item else []


def s3_get(bucket: str, key: str) -> bytes:
    return bytes(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def s3_keys(bucket: str, prefix: str = "") -> list[str]:
    response = client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in response.get("Contents", []))


def ses_sent() -> list[Any]:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


def sms_sent() -> list[tuple[str, str]]:
    """(phone number, text) of every SMS published through SNS."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())


def unsubscribe_secret_value() -> bytes:
    value = client("secretsmanager").get_secret_value(SecretId=cfg().unsubscribe_secret_arn)["SecretString"]
    return str(value).encode("utf-8")


class BusTap:
    """Everything published on the stack's bus by our functions, through a test rule to a test queue."""

    def __init__(self, stack: Any, name: str = "tap") -> None:
        sqs, events = client("sqs"), client("events")
        self.url = sqs.create_queue(QueueName=f"test-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = stack.attrs[("Bus", "Name")]
        events.put_rule(Name=f"test-{name}", EventBusName=bus, EventPattern=json.dumps({"source": [SOURCE]}),
                        State="ENABLED")
        events.put_targets(Rule=f"test-{name}", EventBusName=bus, Targets=[{"Id": name, "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def events(self, detail_type: str | None = None) -> list[dict[str, Any]]:
        """Every event seen so far (optionally of one detail-type), oldest first."""
        sqs = client("sqs")
        while True:
            messages = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for m in messages:
                self.seen.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        return [e for e in self.seen if detail_type is None or e["detail-type"] == detail_type]


def queue_bodies(stack: Any, queue: str) -> list[dict[str, Any]]:
    """Receive (and delete) every message waiting in one of the stack's queues."""
    sqs = client("sqs")
    url = stack.queue_urls[queue]
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for m in messages:
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
