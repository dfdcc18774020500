"""infra.chaos: the fault plan is a function of the seed; each botocore hook does what the fault means.

No AWS here: the clients' HTTP session is the test's, so nothing leaves the process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.session import get_session

from infra.chaos import (
    AMBIGUOUS,
    Chaos,
    FaultPlan,
    SimulatedCrash,
    check_invariants,
    compare,
    partial_failures,
    throttled_attempts,
)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


class Service:
    """A botocore client whose requests are answered here (its HTTP session): what went out is in `sent`."""

    def __init__(self, name: str, chaos: Chaos, max_attempts: int = 8) -> None:
        created: Any = get_session().create_client(
            name, region_name="eu-central-2", endpoint_url="https://aws.invalid", aws_access_key_id="testing",
            aws_secret_access_key="testing", config=Config(retries={"max_attempts": max_attempts, "mode": "standard"}))
        self.client = created
        chaos.install(created)  # as the runtime does (shared.aws client hooks, when a client is created)
        self.sent: list[dict[str, Any]] = []
        created._endpoint.http_session = self  # the wire: what botocore sends arrives in `send`

    def send(self, request: Any) -> AWSResponse:
        headers: Any = {"x-amzn-RequestId": "test"}
        if self.client.meta.service_model.protocol == "query":  # SNS
            self.sent.append({"raw": request.body})
            xml = b"<PublishResponse><PublishResult><MessageId>m1</MessageId></PublishResult></PublishResponse>"
            headers["Content-Type"] = "text/xml"
            return AWSResponse(request.url, 200, headers, _Body(xml))
        if self.client.meta.service_model.protocol == "rest-xml":  # S3
            self.sent.append({"raw": request.body})
            return AWSResponse(request.url, 200, headers, _Body(b""))
        body = json.loads(request.body or b"{}")
        self.sent.append(body)
        answer: dict[str, Any] = {}
        if "Entries" in body:  # PutEvents: every entry that arrived is accepted
            answer = {"FailedEntryCount": 0, "Entries": [{"EventId": f"e{i}"} for i in range(len(body["Entries"]))]}
        headers["Content-Type"] = "application/json"
        return AWSResponse(request.url, 200, headers, _Body(json.dumps(answer).encode("utf-8")))


def _entries(n: int) -> list[dict[str, Any]]:
    return [{"Source": "test", "DetailType": "Thing", "Detail": json.dumps({"n": i}), "EventBusName": "bus"}
            for i in range(n)]


def _invocation(chaos: Chaos, failure: str | None = None, at_call: int = 1) -> Any:
    plan = chaos.begin("SomeFunction", "batch-key", 1, True, ["message-1"])
    plan.failure, plan.at_call = failure, at_call
    return plan


# --------------------------------------------------------------------------- the plan


def test_the_plan_is_a_function_of_seed_and_place() -> None:
    keys = [f"EmailQueue:{i:04x}:1" for i in range(400)]
    first = [FaultPlan(3, 0.05).duplicate(k, 1) for k in keys]
    assert first == [FaultPlan(3, 0.05).duplicate(k, 1) for k in keys]
    assert first != [FaultPlan(4, 0.05).duplicate(k, 1) for k in keys]
    plans = [FaultPlan(3, 0.05).invocation("EmailFunction", k, 10, True) for k in keys]
    again = [FaultPlan(3, 0.05).invocation("EmailFunction", k, 10, True) for k in keys]
    assert [(p.failure, p.at_call, p.before_handler) for p in plans] == [
        (p.failure, p.at_call, p.before_handler) for p in again]
    assert [p.throttle_rng.random() for p in plans] == [p.throttle_rng.random() for p in again]
    # a later receive of the same message is another draw
    assert [FaultPlan(3, 0.05).duplicate(k, 2) for k in keys] != first


def test_the_rate_is_the_probability_per_opportunity() -> None:
    plan = FaultPlan(11, 0.05)
    n = 20_000
    duplicates = sum(plan.duplicate(f"q:{i}:1", 1) is not None for i in range(n))
    failures = sum(plan.invocation("F", f"k{i}", 10, True).failure is not None for i in range(n))
    assert 0.04 * n < duplicates < 0.06 * n
    assert 0.04 * n < failures < 0.06 * n
    kinds = {plan.invocation("F", f"k{i}", 10, True).failure for i in range(2_000)}
    assert kinds == {None, "crash_before", "crash_after", "throttle_exhausted", "batch_failure"}
    schedule = [plan.invocation("Tick", f"k{i}", 1, False) for i in range(2_000)]
    assert {p.failure for p in schedule} == kinds
    assert {p.at_call for p in schedule if p.failure} == {1, 2, 3}
    assert FaultPlan(1, 0.0).duplicate("q:x:1", 1) is None
    assert FaultPlan(1, 1.0).duplicate("q:x:1", 1) in ("same", "later")
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultPlan(1, 1.5)


def test_throttle_and_partial_draws() -> None:
    import random

    rng = random.Random(5)
    drawn = [throttled_attempts(rng, 1.0) for _ in range(300)]
    assert set(drawn) == {1, 2, 3}
    assert all(throttled_attempts(rng, 0.0) == 0 for _ in range(100))
    failed = [partial_failures(rng, 1.0, 4) for _ in range(200)]
    assert all(f and set(f) <= {0, 1, 2, 3} for f in failed)
    assert any(len(f) == 4 for f in failed) and any(len(f) < 4 for f in failed)
    assert partial_failures(rng, 0.0, 4) == []


# --------------------------------------------------------------------------- the hooks


def test_a_crash_is_not_an_exception_anybody_catches() -> None:
    assert issubclass(SimulatedCrash, BaseException) and not issubclass(SimulatedCrash, Exception)


def test_crash_before_a_write_leaves_no_effect() -> None:
    chaos = Chaos(1, 0.0)
    ddb = Service("dynamodb", chaos)
    _invocation(chaos, "crash_before", at_call=2)
    ddb.client.get_item(TableName="t", Key={"k": {"S": "1"}})  # a read: not an effect
    ddb.client.put_item(TableName="t", Item={"k": {"S": "1"}})  # the first write
    with pytest.raises(SimulatedCrash):
        ddb.client.update_item(TableName="t", Key={"k": {"S": "1"}}, UpdateExpression="SET a = :a",
                               ExpressionAttributeValues={":a": {"S": "x"}})
    assert len(ddb.sent) == 2  # the get and the put; the update never left
    chaos.end()
    assert [f.kind for f in chaos.faults] == ["crash_before"]


@pytest.mark.parametrize(("service", "call"), [
    ("sesv2", lambda c: c.send_email(FromEmailAddress="a@b.ch", Destination={"ToAddresses": ["c@d.ch"]},
                                     Content={"Raw": {"Data": b"x"}})),
    ("sns", lambda c: c.publish(PhoneNumber="+41790000000", Message="hi")),
    ("s3", lambda c: c.put_object(Bucket="bucket", Key="k", Body=b"x")),
    ("events", lambda c: c.put_events(Entries=_entries(1))),
    ("dynamodb", lambda c: c.transact_write_items(TransactItems=[{"Put": {"TableName": "t",
                                                                          "Item": {"k": {"S": "1"}}}}])),
])
def test_crash_after_an_effect_happens_once_it_went_out(service: str, call: Any) -> None:
    chaos = Chaos(1, 0.0)
    target = Service(service, chaos)
    _invocation(chaos, "crash_after")
    with pytest.raises(SimulatedCrash):
        call(target.client)
    assert len(target.sent) == 1  # the effect happened, then the process died
    assert [f.kind for f in chaos.faults] == ["crash_after"]


def test_a_crash_can_be_aimed_at_one_operation() -> None:
    chaos = Chaos(1, 0.0)
    ddb, ses = Service("dynamodb", chaos), Service("sesv2", chaos)
    plan = _invocation(chaos, "crash_after")
    plan.operation = "SendEmail"
    ddb.client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"k": {"S": "1"}}}}])
    with pytest.raises(SimulatedCrash, match="after sesv2 SendEmail"):
        ses.client.send_email(FromEmailAddress="a@b.ch", Destination={"ToAddresses": ["c@d.ch"]},
                              Content={"Raw": {"Data": b"x"}})
    assert (len(ddb.sent), len(ses.sent)) == (1, 1)


def test_no_fault_outside_an_invocation_but_the_pollers_throttles() -> None:
    chaos = Chaos(1, 1.0)  # every opportunity faulted
    ddb = Service("dynamodb", chaos)
    ddb.client.put_item(TableName="t", Item={"k": {"S": "1"}})  # the runtime's own writes: untouched
    assert len(ddb.sent) == 1 and not chaos.faults
    sqs = Service("sqs", chaos)
    answer = sqs.client.receive_message(QueueUrl="https://aws.invalid/123/q", MaxNumberOfMessages=10)
    assert 1 <= answer["ResponseMetadata"]["RetryAttempts"] <= 3  # throttled, then retried by botocore
    assert [(f.kind, f.absorbed) for f in chaos.faults] == [("throttle_retried", True)]


@pytest.mark.parametrize(("service", "code"), [("dynamodb", "ProvisionedThroughputExceededException"),
                                               ("events", "ThrottlingException")])
def test_a_throttle_is_retried_by_the_sdk_without_sleeping(service: str, code: str) -> None:
    chaos = Chaos(2, 1.0)
    target = Service(service, chaos)
    _invocation(chaos, None)
    began = time.perf_counter()
    answer = target.client.get_item(TableName="t", Key={"k": {"S": "1"}}) if service == "dynamodb" \
        else target.client.list_rules()
    retries = answer["ResponseMetadata"]["RetryAttempts"]
    assert 1 <= retries <= 3  # botocore's standard retry handler saw the throttle ({code}) and tried again
    assert len(target.sent) == 1  # only the last attempt went out
    assert time.perf_counter() - began < 1.0 and chaos.backoff_seconds > 0  # backed off on paper only
    assert [(f.kind, f.absorbed) for f in chaos.faults] == [("throttle_retried", True)]


@pytest.mark.parametrize(("service", "code"), [("dynamodb", "ProvisionedThroughputExceededException"),
                                               ("events", "ThrottlingException")])
def test_a_throttle_that_outlasts_the_retries_surfaces_as_the_services_error(service: str, code: str) -> None:
    chaos = Chaos(2, 0.0)
    target = Service(service, chaos, max_attempts=4)
    _invocation(chaos, "throttle_exhausted")
    with pytest.raises(ClientError) as raised:
        if service == "dynamodb":
            target.client.get_item(TableName="t", Key={"k": {"S": "1"}})
        else:
            target.client.list_rules()
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 4  # max_attempts: retries
    assert not target.sent
    assert [f.kind for f in chaos.faults] == ["throttle_exhausted"]


def test_partial_put_events_holds_entries_back_and_says_so() -> None:
    chaos = Chaos(3, 0.0)
    events = Service("events", chaos)
    plan = _invocation(chaos, None)
    chaos.plan.rate = 1.0  # every PutEvents partly fails; no throttles drawn on a rate-1 plan here:
    plan.throttle_rng.random = lambda: 1.0
    entries = _entries(4)
    answer = events.client.put_events(Entries=entries)
    failed = [i for i, e in enumerate(answer["Entries"]) if e.get("ErrorCode")]
    assert answer["FailedEntryCount"] == len(failed) >= 1 and len(answer["Entries"]) == 4
    arrived = [e["Detail"] for e in events.sent[0]["Entries"]] if len(failed) < 4 else []
    assert arrived == [e["Detail"] for i, e in enumerate(entries) if i not in failed]  # held back, not sent
    fault = chaos.faults[-1]
    assert fault.kind == "partial_put_events" and not fault.absorbed
    chaos.plan.rate = 0.0
    again = events.client.put_events(Entries=[entries[i] for i in failed])  # the publisher's retry
    assert again["FailedEntryCount"] == 0
    assert fault.absorbed


def test_partial_put_events_of_every_entry_sends_nothing() -> None:
    chaos = Chaos(3, 1.0)
    events = Service("events", chaos)
    plan = _invocation(chaos, None)
    plan.throttle_rng.random = lambda: 1.0
    answer = events.client.put_events(Entries=_entries(1))
    assert answer["FailedEntryCount"] == 1 and answer["Entries"][0]["ErrorCode"]
    assert not events.sent


# --------------------------------------------------------------------------- the proof's tools


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _contact(n: int, household: str = "H1", channel: str = "email", at: str = "2026-03-10T10:00:00+01:00",
             step: int = 1) -> dict[str, Any]:
    return {"contact_id": f"c{n}", "household_id": household, "customer_id": "C1", "target_group": "upgrade",
            "channel": channel, "kind": None, "journey_id": "j1", "cycle": 1, "step": step, "offer_id": "o",
            "at": at, "attempt": 1}


def test_compare_tells_ambiguous_claims_from_differences(tmp_path: Path) -> None:
    free, chaos = tmp_path / "free", tmp_path / "chaos"
    _write(free / "contact-history.jsonl", [_contact(1, step=1), _contact(2, step=2), _contact(3, step=3)])
    _write(chaos / "contact-history.jsonl", [_contact(1, step=1), _contact(3, step=3)])
    _write(chaos / "decisions.jsonl", [{"household_id": "H1", "customer_id": "C1", "channel": "email",
                                        "at": "2026-03-10T10:00:00+01:00", "decision": "skipped",
                                        "reason": f"{AMBIGUOUS}: claimed but not confirmed sent; never resent",
                                        "journey_id": "j1", "cycle": 1, "step": 2}])
    result = compare(free, chaos)
    assert (result.same, result.total, result.ambiguous, result.differences) == (2, 3, 1, [])
    assert result.lines()[0] == "same contacts: 2 of 3; ambiguous: 1 (reported, not resent); differences: none"

    _write(chaos / "contact-history.jsonl", [_contact(1, step=1), _contact(4, step=4)])
    result = compare(free, chaos)
    assert len(result.differences) == 2  # step 3 missing without a reason, step 4 extra
    assert "differences: missing" in result.lines()[0]


def test_invariants_are_checked_on_a_runs_output(tmp_path: Path) -> None:
    _write(tmp_path / "households.jsonl", [{"household_id": "H1", "marketable_from": "2026-03-09", "canton": "ZH"}])
    _write(tmp_path / "responses.jsonl", [
        {"at": "2026-03-20T09:00:00+01:00", "household_id": "H1", "customer_id": None, "type": "order",
         "channel": None, "outcome": None}])
    _write(tmp_path / "contact-history.jsonl", [
        _contact(1, at="2026-03-08T10:00:00+01:00", step=1),  # before marketable_from
        _contact(2, at="2026-03-10T10:00:00+01:00", step=2),
        _contact(3, at="2026-03-11T10:00:00+01:00", step=2),  # the same step again; 3 emails in 7 days
        _contact(4, channel="sms", at="2026-03-15T10:00:00+01:00", step=3),  # a Sunday
        _contact(5, channel="print", at="2026-03-21T17:00:00+01:00", step=4),  # after the order
    ])
    found = "\n".join(check_invariants(tmp_path, dlq={"EmailDLQ": 1}, unresolved_claims=2))
    for expected in ("fair play: c1", "at most once: step", "caps: H1 has 3 email", "windows: sms c4",
                     "exit on conversion: print c5", "1 message(s) in EmailDLQ", "2 claim(s)",
                     "print c5 (H1) in no print batch"):
        assert expected in found, found

    _write(tmp_path / "contact-history.jsonl", [_contact(2, at="2026-03-10T10:00:00+01:00", step=2)])
    assert check_invariants(tmp_path) == []


def test_a_message_is_known_by_its_content_in_every_run() -> None:
    """The runtime keys the faults on a message's content: not on its random ids, nor on the stack's name."""
    from infra.runtime import _body_of

    def message(event_id: str, stack: str) -> dict[str, Any]:
        return {"Body": json.dumps({"id": event_id, "source": "aws.s3", "time": "2026-03-02T08:00:00Z",
                                    "detail": {"bucket": {"name": f"{stack}-feedbucket"}, "object": {"key": "k"}}})}

    first = _body_of("IngestQueue", message("a1", "dispatch-3-1234"), "dispatch-3-1234")
    assert first == _body_of("IngestQueue", message("b2", "dispatch-3-9876"), "dispatch-3-9876")
    assert first != _body_of("ResponsesQueue", message("a1", "dispatch-3-1234"), "dispatch-3-1234")
    other = {"Body": json.dumps({"id": "a1", "source": "aws.s3", "time": "2026-03-02T09:00:00Z"})}
    assert first != _body_of("IngestQueue", other, "dispatch-3-1234")


_CRM_HEADER = ("customer_id,household_id,first_name,last_name,language,email,mobile,phone_listing,has_internet,"
               "internet_down_mbps,has_mobile,email_consent,sms_consent,call_consent,do_not_call,do_not_mail\n")


def test_the_rule_check_reads_what_the_product_accepted(tmp_path: Path) -> None:
    """Issue 13.10: a rejected CRM row (empty customer_id) and partially addressed pieces (customer None) give no
    false finding; a field the ingest ignored counts as the ingest took it."""
    # Given a CRM extract with a row the ingest rejects (no customer_id) in another household, and an email the
    # ingest ignores (a space in it)
    crm = tmp_path / "customers.csv"
    crm.write_text(_CRM_HEADER
                   + "C1,H1,Anna,Muster,de,anna@example.ch,079 123 45 67,listed,true,100,false,true,false,false,"
                     "false,false\n"
                   + ",H9,Nobody,Here,de,,,listed,true,100,false,false,false,false,false,false\n"
                   + "C2,H2,Luca,Rossi,it,luca @example.ch,,listed,true,100,false,true,false,false,false,false\n",
                   encoding="utf-8")
    _write(tmp_path / "households.jsonl", [{"household_id": h, "marketable_from": "2026-03-09T06:00:00+01:00",
                                            "canton": "ZH"} for h in ("H1", "H2", "H3")])
    pieces = [{**_contact(10 + n, household=h, channel="print", at=f"2026-03-1{n}T17:00:00+01:00"),
               "customer_id": None, "kind": "partially_addressed", "target_group": "prospect"}
              for n, h in enumerate(("H2", "H3"))]
    _write(tmp_path / "contact-history.jsonl", [_contact(1, at="2026-03-10T10:00:00+01:00"), *pieces])
    _write(tmp_path / "print" / "b1.csv", [])
    (tmp_path / "print" / "b1.csv").write_text("piece_id\nc10\nc11\n", encoding="utf-8")
    # When the rules are checked against that extract, then nothing is found
    assert check_invariants(tmp_path, crm) == []
    # ... while an email to the customer whose address the ingest ignored is one
    _write(tmp_path / "contact-history.jsonl", [{**_contact(2, household="H2", at="2026-03-10T10:00:00+01:00"),
                                                "customer_id": "C2"}])
    assert check_invariants(tmp_path, crm) == ["eligibility: email c2 (H2) without an address and email consent"]


def test_fair_play_with_marketable_from_as_an_instant(tmp_path: Path) -> None:
    _write(tmp_path / "households.jsonl", [{"household_id": "H1", "marketable_from": "2026-03-10T12:00:00+01:00"}])
    _write(tmp_path / "contact-history.jsonl", [_contact(1, at="2026-03-10T10:00:00+01:00")])
    assert [f.split(" at ")[0] for f in check_invariants(tmp_path)] == ["fair play: c1 (H1)"]
