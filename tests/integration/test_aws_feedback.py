"""AWS's own feedback against moto, in the shapes AWS documents (events/aws/): an SES bounce and complaint put on
the default bus, an SMS "Stop" reply published to the stack's SMS topic. Each travels the template's wiring
(MailFeedbackRule, SmsInboundSubscription) into the responses queue, the responses function takes it from there,
and the channel is suppressed as a responses file's row would suppress it: the next step on that channel is
skipped by the contact gate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from functions.email.handler import handler as email_handler
from functions.responses.handler import handler as responses_handler
from functions.sms.handler import handler as sms_handler
from shared.aws import client
from tests.integration import helpers as h

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "aws"
NOW = h.local(h.MONDAY, 10)


def _sample(name: str, stack: Any) -> dict[str, Any]:
    text = (SAMPLES / name).read_text(encoding="utf-8").replace("channel-dispatch-mail", f"{stack.name}-mail")
    return json.loads(text)  # type: ignore[no-any-return]


def _drain_responses_queue(stack: Any) -> dict[str, Any]:
    """What the template's wiring put into the responses queue, as Lambda's SQS event source hands it over."""
    sqs = client("sqs")
    messages = sqs.receive_message(QueueUrl=stack.queue_urls["ResponsesQueue"], MaxNumberOfMessages=10,
                                   WaitTimeSeconds=0).get("Messages", [])
    assert messages, "nothing reached the responses queue"
    records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "AIDA",
                               "ApproximateFirstReceiveTimestamp": "0"},
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-2:123456789012:ResponsesQueue",
                "awsRegion": "eu-central-2"} for m in messages]
    return {"Records": records}


def _put_on_default_bus(event: dict[str, Any]) -> None:
    result = client("events").put_events(Entries=[{
        "Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
        "Time": event["time"], "Resources": event["resources"]}])
    assert result["FailedEntryCount"] == 0, result


def _seed_upgrade(customer: dict[str, Any] | None = None) -> dict[str, Any]:
    return h.seed("H-1", "C-1", target_group="upgrade", offer_id="fibre-10g-upgrade", due_at=NOW,
                  customer={"email": "anna.muster@example.ch", "mobile": "079 123 45 67", **(customer or {})})


def _gate_skips(handler: Any, journey: dict[str, Any], channel: str) -> None:
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", h.contact_requested(journey, channel), NOW)))
    [decision] = h.decisions("H-1")
    assert decision["decision"] == "skipped" and "suppressed" in decision["reason"], decision


def test_an_ses_hard_bounce_suppresses_email_as_a_files_bounce_does(stack) -> None:
    # Given a customer whose email SES tagged with the household and customer ids
    journey = _seed_upgrade()
    # When SES publishes the hard bounce of that email to the default bus
    _put_on_default_bus(_sample("ses-bounce.json", stack))
    h.no_failures(h.invoke(responses_handler, _drain_responses_queue(stack)))
    # Then, as a responses file's email_bounce row: the response is on record, the customer suppressed for email
    assert [r["type"] for r in h.contacts("H-1", "response#")] == ["email_bounce"]
    assert h.suppressed_channels("customer#C-1") == ["email"]
    # ... and the next email step is skipped by the gate, nothing sent
    _gate_skips(email_handler, journey, "email")
    assert h.ses_sent() == []


def test_an_ses_complaint_suppresses_email(stack) -> None:
    journey = _seed_upgrade()
    _put_on_default_bus(_sample("ses-complaint.json", stack))
    h.no_failures(h.invoke(responses_handler, _drain_responses_queue(stack)))
    assert [r["type"] for r in h.contacts("H-1", "response#")] == ["email_complaint"]
    assert h.suppressed_channels("customer#C-1") == ["email"]
    _gate_skips(email_handler, journey, "email")


def test_a_bounce_without_our_tags_still_suppresses_the_address(stack) -> None:
    # Given a bounce whose message carried no ids (sent before the tags existed): the address alone
    journey = _seed_upgrade()
    event = _sample("ses-bounce.json", stack)
    for tag in ("household_id", "customer_id"):
        del event["detail"]["mail"]["tags"][tag]
    _put_on_default_bus(event)
    h.no_failures(h.invoke(responses_handler, _drain_responses_queue(stack)))
    # Then no customer is named, yet the gate blocks email to every customer with that address
    assert h.suppressed_channels("customer#C-1") == []
    _gate_skips(email_handler, journey, "email")


def test_a_transient_bounce_suppresses_nothing(stack) -> None:
    _seed_upgrade()
    event = _sample("ses-bounce.json", stack)
    event["detail"]["bounce"]["bounceType"] = "Transient"
    _put_on_default_bus(event)
    h.no_failures(h.invoke(responses_handler, _drain_responses_queue(stack)))
    assert h.suppressed_channels("customer#C-1") == []
    assert h.contacts("H-1", "response#") == []


def test_another_stacks_bounce_stays_on_the_bus(stack) -> None:
    # A bounce of mail sent through another configuration set (a second stack in the account) is not ours
    _seed_upgrade()
    event = _sample("ses-bounce.json", stack)
    event["detail"]["mail"]["tags"]["ses:configuration-set"] = ["staging-mail"]
    _put_on_default_bus(event)
    sqs = client("sqs")
    assert not sqs.receive_message(QueueUrl=stack.queue_urls["ResponsesQueue"]).get("Messages")


def test_an_sms_stop_reply_suppresses_sms_to_that_number(stack) -> None:
    # Given a switch customer whose mobile is written in national notation
    journey = h.seed("H-1", "C-1", target_group="switch", offer_id="fibre-10g-switch", due_at=NOW,
                     customer={"mobile": "079 123 45 67", "has_internet": False})
    # When End User Messaging SMS publishes the "Stop" reply from +41791234567 to the stack's topic
    notification = _sample("sms-stop.json", stack)
    client("sns").publish(TopicArn=stack.refs["SmsInboundTopic"], Message=notification["Message"])
    h.no_failures(h.invoke(responses_handler, _drain_responses_queue(stack)))
    # Then the gate skips the next SMS step to that customer, and nothing is sent
    _gate_skips(sms_handler, journey, "sms")
    assert h.sms_sent() == []


def test_an_sms_reply_without_an_opt_out_keyword_suppresses_nothing(stack) -> None:
    h.seed("H-1", "C-1", target_group="switch", offer_id="fibre-10g-switch", due_at=NOW)
    payload = json.loads(_sample("sms-stop.json", stack)["Message"]) | {"messageKeyword": "", "messageBody": "Danke"}
    client("sns").publish(TopicArn=stack.refs["SmsInboundTopic"], Message=json.dumps(payload))
    h.no_failures(h.invoke(responses_handler, _drain_responses_queue(stack)))
    assert [i["subject"].split("#")[0] for i in h.scan(h.cfg().suppression_table)] == []


def test_the_sample_reply_is_end_user_messagings_documented_payload() -> None:
    payload = json.loads(json.loads((SAMPLES / "sms-stop.json").read_text(encoding="utf-8"))["Message"])
    assert set(payload) == {"originationNumber", "destinationNumber", "messageKeyword", "messageBody",
                            "inboundMessageId", "previousPublishedMessageId"}
