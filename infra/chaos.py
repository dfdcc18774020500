"""Fault injection for the local runtime (`dispatch run --chaos RATE --seed S`), and the proof that it changes
nothing but what it must: a chaos run's contacts against the fault-free run's, and the design's invariants.

The faults, each drawn from the seed, never from a shared sequence (the runtime polls queues in threads):

- **duplicate delivery**: a message delivered twice, in the same batch (same message id) or in a later one
  (a copy sent to the queue); drawn per message and receive;
- **crash** before or after an external effect (DynamoDB write, SES SendEmail, SNS Publish, S3 PutObject,
  EventBridge PutEvents): a botocore hook raises `SimulatedCrash`, which is not an `Exception`, so no code in
  the function catches it, like the death of the Lambda process; after-call means the effect happened;
- **throttling** of DynamoDB (ProvisionedThroughputExceededException), EventBridge (ThrottlingException) and
  SQS (RequestThrottled): a `before-send` hook answers an attempt with the service's 400 error, so botocore's
  own retry handler sees it like a real throttle and retries it (the back-off is not slept: the clock is
  simulated); some persist through every attempt, so the SDK gives up and the handler fails the record;
- **partial PutEvents**: some entries are taken out of the request and answered with an ErrorCode
  (FailedEntryCount > 0), so the publisher's retry of failed entries runs;
- **batch failure**: the whole invocation fails, before the handler runs (an init error, a throttled invoke)
  or after it ran (a timeout: the work done, the answer lost); an SQS batch goes back to its queue, a
  scheduled (asynchronous) invocation is retried by Lambda.

RATE is a probability per opportunity: per delivered message (duplicates), per throttle-able request
(retried throttles), per PutEvents request (partial failure) and per invocation for the faults that fail
an invocation (crash before, crash after, a throttle that exhausts the retries, batch failure: one of them,
at RATE in total), so a record fails a receive with probability about RATE and reaches its dead-letter
queue after maxReceiveCount (5) failures in a row: about RATE**5 (3e-7 at 0.05) per message.

Every draw comes from `random.Random` seeded with a hash of (seed, fault kind, the function, the batch's
messages by content and receive count, or the schedule's time and attempt), then drawn in call order
within the invocation, which is deterministic: the same seed and inputs give the same faults.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# Requests whose effect is visible outside the function: a crash may come before or after each.
MUTATING = {
    "dynamodb": frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}),
    "sesv2": frozenset({"SendEmail"}),
    "ses": frozenset({"SendEmail", "SendRawEmail"}),
    "sns": frozenset({"Publish"}),
    "s3": frozenset({"PutObject"}),
    "eventbridge": frozenset({"PutEvents"}),
}
# How each service says "slow down" (error code, JSON protocol version, __type prefix).
THROTTLES = {
    "dynamodb": ("ProvisionedThroughputExceededException", "1.0", "com.amazonaws.dynamodb.v20120810#"),
    "eventbridge": ("ThrottlingException", "1.1", ""),
    "sqs": ("RequestThrottled", "1.0", "com.amazonaws.sqs#"),
}
# The runtime's own SQS requests (Lambda's poller): throttled and retried, never exhausted.
POLLER_OPERATIONS = frozenset({"ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"})
UNLIMITED = -1

FAILURES = ("crash_before", "crash_after", "throttle_exhausted", "batch_failure")
KINDS = {
    "duplicate_same_batch": "duplicate delivery, same batch",
    "duplicate_later_batch": "duplicate delivery, later batch",
    "crash_before": "crash before an effect",
    "crash_after": "crash after an effect",
    "throttle_retried": "throttle, retried by the SDK",
    "throttle_exhausted": "throttle, SDK retries exhausted",
    "partial_put_events": "partial PutEvents failure",
    "batch_failure_before": "invocation failure, before the handler",
    "batch_failure_after": "invocation failure, after the handler",
}
AMBIGUOUS = "ambiguous claim"


class SimulatedCrash(BaseException):
    """The Lambda process died here. Not an `Exception`: no handler, batch processor or SDK code catches it."""


def _seeded(seed: int, *parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(str(p) for p in (seed, *parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# --------------------------------------------------------------------------- the plan: pure and per seed


@dataclass
class InvocationPlan:
    """The faults of one invocation: at most one that fails it, and the draws for its requests."""

    function: str
    key: str
    units: tuple[str, ...]  # what the invocation holds back when it fails (message ids, a schedule's firing)
    failure: str | None  # one of FAILURES, or None
    at_call: int  # the failure's request: the n-th mutating (crash) or throttle-able (throttle) request
    before_handler: bool  # batch failure: before the handler runs (else after: its answer is lost)
    throttle_rng: random.Random
    partial_rng: random.Random
    mutating_calls: int = 0  # so far: of the planned operation only, when there is one
    throttle_calls: int = 0
    triggered: bool = False  # the failure happened
    operation: str | None = None  # a crash at this operation only (e.g. "SendEmail"): for tests that aim


class FaultPlan:
    """What fails where, from (seed, rate) alone."""

    def __init__(self, seed: int, rate: float) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"chaos rate {rate}: expected a probability between 0 and 1")
        self.seed = seed
        self.rate = rate

    def duplicate(self, message_key: str, receive_count: int) -> str | None:
        """'same' (again in this batch), 'later' (a copy to the queue) or None, for one delivery."""
        rng = _seeded(self.seed, "duplicate", message_key, receive_count)
        if rng.random() >= self.rate:
            return None
        return "same" if rng.random() < 0.5 else "later"

    def invocation(self, function: str, key: str, records: int, sqs: bool,
                   units: Sequence[str] = ()) -> InvocationPlan:
        rng = _seeded(self.seed, "failure", function, key)
        failure: str | None = None
        at_call = 0
        before = False
        if rng.random() < self.rate:
            failure = rng.choice(FAILURES)
            # Where: spread over about the requests such an invocation makes (a record: two or three writes,
            # more throttle-able requests). A crash planned past an SQS invocation's last write happens at its
            # end (after its last effect, before its answer); a schedule's, and a throttle's, do not happen.
            at_call = rng.randint(1, max(1, 2 * records) if sqs else 3)
            before = rng.random() < 0.5
        throttle = _seeded(self.seed, "throttle", function, key)
        return InvocationPlan(function, key, tuple(units), failure, at_call, before, throttle,
                              _seeded(self.seed, "partial", function, key))

    def poller_throttle(self, queue: str, operation: str, index: int) -> int:
        """Attempts of the runtime's index-th `operation` on `queue` answered with a throttle (0: none)."""
        rng = _seeded(self.seed, "poller", queue, operation, index)
        return throttled_attempts(rng, self.rate)


def throttled_attempts(rng: random.Random, rate: float) -> int:
    """One draw per request: 0 (no throttle) or 1-3 throttled attempts before it goes through."""
    hit = rng.random() < rate
    attempts = 1 + int(rng.random() * 3)
    return attempts if hit else 0


def partial_failures(rng: random.Random, rate: float, entries: int) -> list[int]:
    """Which entries of one PutEvents request fail (empty: none); one draw sequence per request."""
    hit = rng.random() < rate
    first = rng.randrange(entries) if entries else 0
    others = [rng.random() < 0.5 for _ in range(entries)]
    if not hit or not entries:
        return []
    return sorted({first} | {i for i, fails in enumerate(others) if fails})


# --------------------------------------------------------------------------- what happened


@dataclass
class Fault:
    kind: str
    units: tuple[str, ...] = ()  # absorbed when every unit completed (message deleted, schedule ran)
    absorbed: bool = False  # absorbed there and then (a throttle the SDK retried, PutEvents entries re-sent)


@dataclass
class ChaosReport:
    seed: int
    rate: float
    injected: dict[str, int]
    absorbed: dict[str, int]
    planned_not_reached: int  # failures planned past an invocation's last request
    simulated_backoff_seconds: float

    def lines(self) -> list[str]:
        out = [f"chaos {self.rate:g}, seed {self.seed}: faults injected / absorbed"]
        for kind, label in KINDS.items():
            out.append(f"  {label:<40} {self.injected.get(kind, 0):>5} / {self.absorbed.get(kind, 0)}")
        out.append(f"  (failures planned past an invocation's last request, so not injected: "
                   f"{self.planned_not_reached}; SDK back-off not slept, the clock being simulated: "
                   f"{self.simulated_backoff_seconds:.0f} s)")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "rate": self.rate, "injected": dict(self.injected), "absorbed": dict(self.absorbed),
                "planned_not_reached": self.planned_not_reached,
                "simulated_backoff_seconds": round(self.simulated_backoff_seconds, 3)}


@dataclass
class _Call:
    """One API call's faults, kept in botocore's request context across its attempts."""

    service: str
    operation: str
    throttles: int = 0  # attempts still to throttle (UNLIMITED: every one)
    throttled: int = 0  # attempts throttled so far
    exhausted: bool = False
    crash_after: bool = False
    failed_entries: list[int] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    error_codes: list[str] = field(default_factory=list)
    sent_entries: list[dict[str, Any]] = field(default_factory=list)
    plan: InvocationPlan | None = None
    fault: Fault | None = None  # the retried throttle of this call


class Chaos:
    """The faults of one run: a `FaultPlan`, the botocore hooks that inject them, and their tally."""

    def __init__(self, seed: int, rate: float) -> None:
        self.plan = FaultPlan(seed, rate)
        self.faults: list[Fault] = []
        self.completed: set[str] = set()
        self.planned_not_reached = 0
        self.backoff_seconds = 0.0
        self.queue_names: dict[str, str] = {}  # queue URL -> logical id (stable across runs)
        self._lock = threading.Lock()
        self._invocation: InvocationPlan | None = None
        self._invoking_thread: int | None = None
        self._poller_calls: Counter[tuple[str, str]] = Counter()
        self._unsent: dict[str, Fault] = {}  # PutEvents entries answered as failed, until sent
        self._unsent_left: Counter[int] = Counter()

    @property
    def rate(self) -> float:
        return self.plan.rate

    # ------------------------------------------------------------------ the runtime's side
    def duplicate(self, message_key: str, receive_count: int) -> str | None:
        return self.plan.duplicate(message_key, receive_count)

    def record(self, kind: str, units: Iterable[str] = (), absorbed: bool = False) -> Fault:
        fault = Fault(kind, tuple(units), absorbed)
        with self._lock:
            self.faults.append(fault)
        return fault

    def begin(self, function: str, key: str, records: int, sqs: bool, units: Sequence[str]) -> InvocationPlan:
        """An invocation starts on this thread: its requests get its plan's faults."""
        plan = self.plan.invocation(function, key, records, sqs, units)
        self._invocation = plan
        self._invoking_thread = threading.get_ident()
        return plan

    def end(self) -> None:
        plan = self._invocation
        self._invocation = None
        self._invoking_thread = None
        if plan is not None and plan.failure is not None and not plan.triggered:
            self.planned_not_reached += 1

    def fail_batch(self, plan: InvocationPlan) -> None:
        """The runtime failed the whole invocation as planned (batch failure)."""
        plan.triggered = True
        self.record("batch_failure_before" if plan.before_handler else "batch_failure_after", plan.units)

    def crash_at_end(self, plan: InvocationPlan) -> bool:
        """A crash planned past the invocation's last write: the process dies after its last effect,
        before its answer (the whole batch fails). Whether that happened."""
        if plan.failure not in ("crash_before", "crash_after") or plan.triggered:
            return False
        plan.triggered = True
        self.record("crash_after", plan.units)
        return True

    def mark_completed(self, units: Iterable[str]) -> None:
        with self._lock:
            self.completed.update(units)

    def report(self) -> ChaosReport:
        injected: Counter[str] = Counter()
        absorbed: Counter[str] = Counter()
        for fault in self.faults:
            injected[fault.kind] += 1
            if fault.absorbed or (fault.units and all(u in self.completed for u in fault.units)):
                absorbed[fault.kind] += 1
        return ChaosReport(self.plan.seed, self.plan.rate, dict(injected), dict(absorbed), self.planned_not_reached,
                           self.backoff_seconds)

    # ------------------------------------------------------------------ botocore hooks
    def install(self, created: Any) -> None:
        """`shared.aws.add_client_hook`: register the hooks on a new client."""
        events = created.meta.events
        service = created.meta.service_model.service_id.hyphenize()
        events.register(f"before-parameter-build.{service}", self._before_parameters)
        events.register_first(f"before-call.{service}", self._before_call)
        events.register_first(f"before-send.{service}", self._before_send)
        events.register(f"after-call.{service}", self._after_call)
        self._no_sleep(events, service)

    def _no_sleep(self, events: Any, service: str) -> None:
        """Keep botocore's retry decisions (attempts, retry quota) but not its sleeping: the clock is simulated."""
        unique_id = f"retry-config-{service}"
        emitter = getattr(events, "_emitter", events)
        registered = getattr(emitter, "_unique_id_handlers", {}).get(unique_id)
        if not registered:
            return
        original = registered["handler"]

        def needs_retry(**kwargs: Any) -> Any:
            delay = original(**kwargs)
            if delay is None or delay is False:
                return delay
            with self._lock:
                self.backoff_seconds += float(delay)
            return 0.0

        events.unregister(f"needs-retry.{service}", unique_id=unique_id)
        events.register(f"needs-retry.{service}", needs_retry, unique_id=unique_id)

    def _current(self) -> InvocationPlan | None:
        if self._invoking_thread is not None and threading.get_ident() == self._invoking_thread:
            return self._invocation
        return None

    def _before_parameters(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_id.hyphenize()
        operation = model.name
        plan = self._current()
        call = _Call(service, operation, plan=plan)
        if plan is None:
            if service == "sqs" and operation in POLLER_OPERATIONS and "QueueUrl" in params:
                queue = self.queue_names.get(params["QueueUrl"], params["QueueUrl"].rsplit("/", 1)[-1])
                with self._lock:
                    index = self._poller_calls[(queue, operation)]
                    self._poller_calls[(queue, operation)] += 1
                call.throttles = self.plan.poller_throttle(queue, operation, index)
            context["chaos"] = call
            return
        if service in THROTTLES:
            plan.throttle_calls += 1
            call.throttles = throttled_attempts(plan.throttle_rng, self.rate)
            if plan.failure == "throttle_exhausted" and not plan.triggered and plan.throttle_calls >= plan.at_call:
                plan.triggered = True
                call.throttles, call.exhausted = UNLIMITED, True
                self.record("throttle_exhausted", plan.units)
        if operation in MUTATING.get(service, ()) and plan.operation in (None, operation):
            plan.mutating_calls += 1
        if service == "eventbridge" and operation == "PutEvents":
            entries = list(params.get("Entries", []))
            failed = partial_failures(plan.partial_rng, self.rate, len(entries))
            if failed:
                call.entries = entries
                call.failed_entries = failed
                call.error_codes = [plan.partial_rng.choice(("InternalFailure", "ThrottlingException")) for _ in failed]
                if len(failed) < len(entries):  # all failing: nothing is sent (see _before_call)
                    params["Entries"] = [e for i, e in enumerate(entries) if i not in set(failed)]
            call.sent_entries = [e for i, e in enumerate(entries) if i not in set(failed)]
        context["chaos"] = call

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        call: _Call | None = context.get("chaos")
        plan = call.plan if call else None
        if call is None or plan is None:
            return None
        if call.operation in MUTATING.get(call.service, ()) and plan.operation in (None, call.operation):
            if plan.failure == "crash_before" and not plan.triggered and plan.mutating_calls >= plan.at_call:
                plan.triggered = True
                self.record("crash_before", plan.units)
                raise SimulatedCrash(f"{plan.function}: died before {call.service} {call.operation}")
            if plan.failure == "crash_after" and not plan.triggered and plan.mutating_calls >= plan.at_call:
                call.crash_after = True
        if call.failed_entries and len(call.failed_entries) == len(call.entries):
            # Every entry fails: nothing is sent, the answer says so entry by entry.
            return _http_ok(), {"FailedEntryCount": 0, "Entries": [],
                                "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "chaos"}}
        return None

    def _before_send(self, request: Any, **_: Any) -> Any:
        call: _Call | None = (getattr(request, "context", None) or {}).get("chaos")
        if call is None or call.throttles == 0 or call.service not in THROTTLES:
            return None
        if call.throttles > 0:
            call.throttles -= 1
        call.throttled += 1
        if call.throttled == 1 and not call.exhausted:
            call.fault = self.record("throttle_retried")
        return throttle_response(call.service, str(getattr(request, "url", "")))

    def _after_call(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call: _Call | None = context.get("chaos")
        if call is None:
            return
        ok = http_response is not None and 200 <= int(http_response.status_code) < 300
        fault = call.fault
        if fault is not None and ok:
            fault.absorbed = True
        elif fault is not None and call.plan is not None:
            fault.units = call.plan.units  # the SDK gave up (retry quota): the record fails like an exhausted one
        if call.service == "eventbridge" and call.operation == "PutEvents" and ok:
            self._put_events_answered(call, parsed)
        plan = call.plan
        if call.crash_after and ok and plan is not None and not plan.triggered:
            plan.triggered = True
            self.record("crash_after", plan.units)
            raise SimulatedCrash(f"{plan.function}: died after {call.service} {call.operation}")

    def _put_events_answered(self, call: _Call, parsed: dict[str, Any]) -> None:
        """Note the entries that went through (an earlier failure of theirs is absorbed), then put the
        entries this request held back into the answer as failed."""
        self.note_published(call.sent_entries, list(parsed.get("Entries", [])))
        if not call.failed_entries:
            return
        sent = iter(parsed.get("Entries", []))
        codes = iter(call.error_codes)
        merged: list[dict[str, Any]] = []
        for i in range(len(call.entries)):
            if i in call.failed_entries:
                merged.append({"ErrorCode": next(codes), "ErrorMessage": "chaos: entry not accepted, try again"})
            else:
                merged.append(next(sent, {}))
        parsed["Entries"] = merged
        parsed["FailedEntryCount"] = int(parsed.get("FailedEntryCount", 0)) + len(call.failed_entries)
        fault = self.record("partial_put_events", call.plan.units if call.plan else ())
        with self._lock:
            for i in call.failed_entries:
                self._unsent[_entry_key(call.entries[i])] = fault
                self._unsent_left[id(fault)] += 1

    def note_published(self, entries: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]]) -> None:
        """Entries a PutEvents put on the bus: an earlier partial failure of theirs is absorbed."""
        with self._lock:
            for entry, result in zip(entries, results, strict=False):
                if result.get("ErrorCode"):
                    continue
                fault = self._unsent.pop(_entry_key(entry), None)
                if fault is not None:
                    self._unsent_left[id(fault)] -= 1
                    if self._unsent_left[id(fault)] <= 0:
                        fault.absorbed = True


def _entry_key(entry: dict[str, Any]) -> str:
    return json.dumps([entry.get("Source"), entry.get("DetailType"), entry.get("Detail"), str(entry.get("Time"))])


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._data


def _http_ok() -> Any:
    from botocore.awsrequest import AWSResponse

    headers: Any = {"x-amzn-RequestId": "chaos"}
    return AWSResponse("https://chaos.invalid/", 200, headers, _Body(b"{}"))


def throttle_response(service: str, url: str) -> Any:
    """The HTTP answer a throttled request gets from the service (botocore parses and retries it)."""
    from botocore.awsrequest import AWSResponse

    code, version, prefix = THROTTLES[service]
    body = json.dumps({"__type": f"{prefix}{code}", "message": "Rate exceeded (chaos)"}).encode("utf-8")
    headers: Any = {"Content-Type": f"application/x-amz-json-{version}", "x-amzn-RequestId": "chaos-throttle",
                    "Content-Length": str(len(body))}
    if service == "sqs":
        headers["x-amzn-query-error"] = f"{code};Sender"
    return AWSResponse(url or "https://chaos.invalid/", 400, headers, _Body(body))


# --------------------------------------------------------------------------- the proof: same contacts


ContactKey = tuple[str, str, str, int, int]  # contact_id, household_id, channel, cycle, step


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def contact_key(c: dict[str, Any]) -> ContactKey:
    return (str(c["contact_id"]), str(c["household_id"]), str(c["channel"]), int(c["cycle"]), int(c["step"]))


def ambiguous_decisions(out: Path) -> list[dict[str, Any]]:
    return [d for d in read_jsonl(out / "decisions.jsonl") if str(d.get("reason", "")).startswith(AMBIGUOUS)]


@dataclass
class Comparison:
    total: int  # contacts of the fault-free run
    same: int
    ambiguous: int  # ambiguous claims reported by the chaos run
    missing: list[ContactKey]  # in the fault-free run only, and not reported ambiguous
    extra: list[ContactKey]  # in the chaos run only
    ambiguous_elsewhere: list[str]  # ambiguous claims with no contact in the fault-free run
    moved: list[str]  # the same contact at another time (not a difference of the set; told for information)

    @property
    def differences(self) -> list[str]:
        return ([f"missing (not ambiguous): {k}" for k in self.missing] + [f"extra: {k}" for k in self.extra]
                + [f"ambiguous, but no such contact without faults: {a}" for a in self.ambiguous_elsewhere])

    def lines(self) -> list[str]:
        text = "; ".join(self.differences) if self.differences else "none"
        out = [f"same contacts: {self.same} of {self.total}; ambiguous: {self.ambiguous} (reported, not resent); "
               f"differences: {text}"]
        if self.moved:
            out.append(f"  same contacts at another time: {len(self.moved)} ({'; '.join(self.moved[:5])})")
        return out


def compare(fault_free: Path, chaos: Path) -> Comparison:
    """The chaos run's contacts against the fault-free run's: equal, apart from the reported ambiguous claims."""
    free = {contact_key(c): c for c in read_jsonl(fault_free / "contact-history.jsonl")}
    made = {contact_key(c): c for c in read_jsonl(chaos / "contact-history.jsonl")}
    ambiguous = ambiguous_decisions(chaos)
    steps = {(str(d["household_id"]), str(d.get("journey_id")), int(d["cycle"]), int(d["step"]), str(d["channel"]))
             for d in ambiguous}
    explained: set[ContactKey] = set()
    for key, c in free.items():
        if key not in made and (c["household_id"], str(c.get("journey_id")), int(c["cycle"]), int(c["step"]),
                                c["channel"]) in steps:
            explained.add(key)
    matched = {(k[1], k[3], k[4], k[2]) for k in explained}
    elsewhere = [f"{d['household_id']} {d['channel']} cycle {d['cycle']} step {d['step']}" for d in ambiguous
                 if (str(d["household_id"]), int(d["cycle"]), int(d["step"]), str(d["channel"])) not in matched]
    moved = [f"{k[1]} {k[2]} {free[k]['at']} -> {made[k]['at']}" for k in sorted(set(free) & set(made))
             if free[k].get("at") != made[k].get("at")]
    return Comparison(total=len(free), same=len(set(free) & set(made)), ambiguous=len(ambiguous),
                      missing=sorted(set(free) - set(made) - explained), extra=sorted(set(made) - set(free)),
                      ambiguous_elsewhere=elsewhere, moved=moved)


# --------------------------------------------------------------------------- the proof: the design's rules


SUPPRESSING = {"email_bounce": "email", "email_complaint": "email", "sms_stop": "sms"}
PERSONAL = {"customer_id", "salutation", "first_name", "last_name"}


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _customers(path: Path | None) -> dict[str, dict[str, Any]]:
    """The customers the product ACCEPTED from customers.csv, by customer_id, as the ingest read them.

    Read through the ingest's own reader (shared.inputs): a rejected row (no id, a duplicate id) is no customer
    and never yields a finding; a field the ingest ignored is checked as the ingest took it (an email it left
    empty is no address, an unreadable consent is no consent).
    """
    from shared.inputs import CustomerRow, Rejected, open_rows

    if path is None or not path.is_file():
        return {}
    people: dict[str, dict[str, Any]] = {}
    for item in open_rows(path, CustomerRow, "customers"):
        if not isinstance(item, Rejected):
            row = item[1]
            people[row.customer_id] = row.model_dump()
    return people


def _true(row: dict[str, Any], key: str) -> bool:
    value = row.get(key)
    return value is True or (isinstance(value, str) and value.lower() == "true")


def check_invariants(out: Path, customers_csv: Path | None = None, config: Any = None,
                     dlq: dict[str, int] | None = None, unresolved_claims: int = 0) -> list[str]:
    """Every rule of design.md that a run's output can show, checked on that output; the violations found."""
    from shared.config import load_config

    config = config or load_config(None)
    tz = ZoneInfo(config.timezone)
    contacts = read_jsonl(out / "contact-history.jsonl")
    households = {h["household_id"]: h for h in read_jsonl(out / "households.jsonl")}
    responses = read_jsonl(out / "responses.jsonl")
    people = _customers(customers_csv)
    found: list[str] = []
    found += _fair_play(contacts, households, tz)
    found += _eligibility(contacts, people)
    found += _suppression_and_orders(contacts, responses)
    found += _pressure(contacts, responses, households, config, tz)
    found += _at_most_once(contacts)
    found += _nothing_lost(out, contacts, tz, dlq or {}, unresolved_claims)
    found += _minimisation(out)
    return found


def _fair_play(contacts: list[dict[str, Any]], households: dict[str, dict[str, Any]], tz: ZoneInfo) -> list[str]:
    from shared.domain.journey import marketable_instant

    found = []
    for c in contacts:
        opens = (households.get(c["household_id"]) or {}).get("marketable_from")
        if opens and _at(c["at"]) < marketable_instant(opens, tz):
            found.append(f"fair play: {c['contact_id']} ({c['household_id']}) at {c['at']} before {opens}")
    return found


def _eligibility(contacts: list[dict[str, Any]], people: dict[str, dict[str, Any]]) -> list[str]:
    found = []
    for c in contacts:
        what = f"{c['channel']} {c['contact_id']} ({c['household_id']})"
        if c["target_group"] == "prospect" and (c["channel"], c["kind"], c["customer_id"]) != (
                "print", "partially_addressed", None):
            found.append(f"eligibility: prospect contact {what} is not partially addressed print")
        if c.get("kind") == "partially_addressed" and c.get("customer_id") is not None:
            found.append(f"eligibility: partially addressed {what} names a customer")
        customer_id = c.get("customer_id")
        if customer_id is None:  # partially addressed: nobody to compare with (never the customer "")
            continue
        person = people.get(str(customer_id))
        if person is None:
            continue
        if person.get("household_id") != c["household_id"]:
            found.append(f"eligibility: {what} addresses a customer of another household")
        if c["channel"] == "sms" and not (person.get("mobile") and _true(person, "sms_consent")):
            found.append(f"eligibility: {what} without a mobile number and SMS consent")
        if c["channel"] == "email" and not (person.get("email") and _true(person, "email_consent")):
            found.append(f"eligibility: {what} without an address and email consent")
        if c["channel"] == "call" and (_true(person, "do_not_call") or not person.get("mobile") or not (
                person.get("phone_listing") == "listed" or _true(person, "call_consent"))):
            found.append(f"eligibility: call {what} against the law (do_not_call, starred or unlisted)")
    return found


def _suppression_and_orders(contacts: list[dict[str, Any]], responses: list[dict[str, Any]]) -> list[str]:
    found = []
    for r in responses:
        at = _at(r["at"])
        if r["type"] == "order" or (r["type"] == "call_outcome" and r.get("outcome") == "ordered"):
            for c in contacts:
                if c["household_id"] == r["household_id"] and _at(c["at"]) >= at:
                    found.append(f"exit on conversion: {c['channel']} {c['contact_id']} at {c['at']} after the "
                                 f"order of {r['household_id']} at {r['at']}")
            continue
        channel = r.get("channel") if r["type"] == "opt_out" else SUPPRESSING.get(r["type"])
        if r["type"] == "call_outcome" and r.get("outcome") == "do_not_call":
            channel = "call"
        if not channel:
            continue
        for c in contacts:
            if c["household_id"] != r["household_id"] or _at(c["at"]) < at:
                continue
            if r.get("customer_id") and c.get("customer_id") != r["customer_id"]:
                continue
            if channel in ("all", c["channel"]):
                found.append(f"suppression: {c['channel']} {c['contact_id']} at {c['at']} after "
                             f"{r['type']} ({channel}) at {r['at']}")
    return found


def _pressure(contacts: list[dict[str, Any]], responses: list[dict[str, Any]],
              households: dict[str, dict[str, Any]], config: Any, tz: ZoneInfo) -> list[str]:
    from shared.domain.windows import is_public_holiday

    found = []
    unreached = [(r["household_id"], _at(r["at"])) for r in responses
                 if r["type"] == "call_outcome" and r.get("outcome") == "not_reached"]
    by_household: dict[str, list[dict[str, Any]]] = {}
    for c in contacts:
        by_household.setdefault(c["household_id"], []).append(c)
    for household, made in by_household.items():
        made.sort(key=lambda c: _at(c["at"]))
        calls = [c for c in made if c["channel"] == "call"]
        released = set()
        for i, call in enumerate(calls):  # a call that reached nobody gives its place in the caps back
            nxt = _at(calls[i + 1]["at"]) if i + 1 < len(calls) else None
            if any(h == household and _at(call["at"]) < at and (nxt is None or at < nxt) for h, at in unreached):
                released.add(call["contact_id"])
        counted = [c for c in made if c["contact_id"] not in released]
        caps = [(config.caps.all_channels, None)] + [(cap, ch) for ch, cap in config.caps.per_channel.items()]
        for cap, channel in caps:
            times = [_pressure_time(c, config, tz) for c in counted if channel is None or c["channel"] == channel]
            for start in times:
                inside = sum(1 for t in times if start <= t < start + timedelta(days=cap.days))
                if inside > cap.max:
                    found.append(f"caps: {household} has {inside} {channel or 'contacts'} in {cap.days} days "
                                 f"from {start.isoformat()} (at most {cap.max})")
                    break
        canton = (households.get(household) or {}).get("canton")
        for c in made:
            local = _at(c["at"]).astimezone(tz)
            if c["channel"] in ("sms", "call") and (local.weekday() == 6 or is_public_holiday(local.date(), canton)):
                found.append(f"windows: {c['channel']} {c['contact_id']} on a Sunday or public holiday ({c['at']})")
            if c["channel"] == "sms":
                window = config.windows.sms
                hours = window.saturday if local.weekday() == 5 else window.weekdays
                if not hours or not _inside(hours, local):
                    found.append(f"windows: sms {c['contact_id']} outside its window ({c['at']})")
    return found


def _pressure_time(c: dict[str, Any], config: Any, tz: ZoneInfo) -> datetime:
    """When a contact weighs on the caps: its time; a call's, the call window's opening on its list's day
    (the list is made at 06:00, the calls are made from the opening on, and the gate checks the opening)."""
    at = _at(c["at"])
    if c["channel"] != "call":
        return at
    local = at.astimezone(tz)
    window = config.windows.call
    hours = (window.saturday if local.weekday() == 5 else None) or window.weekdays
    opening = datetime.strptime(hours.split("-")[0].strip(), "%H:%M").time()
    return datetime.combine(local.date(), opening, tzinfo=tz)


def _inside(hours: str, local: datetime) -> bool:
    start, end = hours.split("-")
    clock = local.strftime("%H:%M:%S")
    return f"{start}:00" <= clock < f"{end}:00"


def _at_most_once(contacts: list[dict[str, Any]]) -> list[str]:
    found = []
    ids = Counter(c["contact_id"] for c in contacts)
    steps = Counter((c["household_id"], c["journey_id"], c["cycle"], c["step"], c.get("attempt") or 1)
                    for c in contacts)
    found += [f"at most once: contact {k} {n} times" for k, n in ids.items() if n > 1]
    found += [f"at most once: step {k} contacted {n} times" for k, n in steps.items() if n > 1]
    return found


def _nothing_lost(out: Path, contacts: list[dict[str, Any]], tz: ZoneInfo, dlq: dict[str, int],
                  unresolved_claims: int) -> list[str]:
    found = [f"nothing lost: {n} message(s) in {q}" for q, n in sorted(dlq.items()) if n]
    if unresolved_claims:
        found.append(f"nothing lost: {unresolved_claims} claim(s) neither sent nor reported ambiguous")
    pieces: set[str] = set()
    for path in sorted((out / "print").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            pieces |= {row["piece_id"] for row in csv.DictReader(handle)}
    for c in contacts:
        if c["channel"] == "print" and c["contact_id"] not in pieces:
            found.append(f"nothing lost: print {c['contact_id']} ({c['household_id']}) in no print batch")
    listed: set[tuple[str, str, str]] = set()
    for path in sorted((out / "call-lists").glob("*.csv")):
        text = path.read_bytes().decode("utf-8-sig")
        listed |= {(row["call_date"], row["household_id"], row["customer_id"])
                   for row in csv.DictReader(io.StringIO(text), delimiter=";")}
    for c in contacts:
        if c["channel"] == "call":
            day = _at(c["at"]).astimezone(tz).date().isoformat()
            if (day, c["household_id"], str(c["customer_id"])) not in listed:
                found.append(f"nothing lost: call {c['contact_id']} ({c['household_id']}) not on the {day} list")
    return found


def _minimisation(out: Path) -> list[str]:
    found = []
    for path in sorted((out / "print").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
        if any(r.get("kind") == "partially_addressed" for r in rows) and PERSONAL & set(reader.fieldnames or []):
            found.append(f"data minimisation: {path.name} carries personal columns for partially addressed mail")
    return found
