"""template.yaml is the only wiring, and it agrees with the code (shared.events, shared.config, handlers)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest

from infra.template import functions, load_template, logical_id_of
from shared import events
from shared.config import CHANNELS

TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
REPO = Path(__file__).resolve().parents[2]

# What each function publishes (checked against the code below) and what is published on purpose
# without a consumer.
PUBLISHED = {
    "ingest": {events.HOUSEHOLD_CONNECTED},
    "segmenter": {events.HOUSEHOLD_SEGMENTED},
    "offer_picker": {events.JOURNEY_STARTED},
    "journey": {events.CONTACT_REQUESTED},
}
UNCONSUMED = {events.JOURNEY_STARTED: "informational: nothing needs to act on a journey's start"}

# AWS: "set the source queue's visibility timeout to at least six times the timeout that you
# configure on your function" (Lambda developer guide, "Using Lambda with Amazon SQS").
VISIBILITY_FACTOR = 6


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in RESOURCES.items() if r.get("Type") == kind}


def _props(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("Properties", {})


def _on_project_bus(rule: dict[str, Any]) -> bool:
    bus = _props(rule).get("EventBusName")
    return bus is not None and logical_id_of(bus) == "Bus"


RULES = _of_type("AWS::Events::Rule")
BUS_RULES = {name: r for name, r in RULES.items() if _on_project_bus(r)}
S3_RULES = {name: r for name, r in RULES.items()
            if _props(r).get("EventPattern", {}).get("source") == [events.S3_SOURCE]}
SES_RULES = {name: r for name, r in RULES.items()
             if _props(r).get("EventPattern", {}).get("source") == [events.SES_SOURCE]}
FUNCTIONS = _of_type("AWS::Serverless::Function")
GLOBAL_TIMEOUT = int(TEMPLATE.get("Globals", {}).get("Function", {}).get("Timeout", 3))


def _sqs_sources() -> list[tuple[str, str, dict[str, Any]]]:
    """(function, queue, event properties) of every SQS event source."""
    found = []
    for name, fn in FUNCTIONS.items():
        for source in _props(fn).get("Events", {}).values():
            if source.get("Type") == "SQS":
                found.append((name, logical_id_of(source["Properties"]["Queue"]), source["Properties"]))
    return found


SQS_SOURCES = _sqs_sources()
CONSUMED_QUEUES = {queue for _, queue, _ in SQS_SOURCES}


def _targets(rule: dict[str, Any]) -> list[str]:
    return [logical_id_of(t["Arn"]) for t in _props(rule).get("Targets", [])]


# --------------------------------------------------------------------------- sanity of the fixture


def test_template_declares_the_wiring() -> None:
    assert BUS_RULES, "no rule on the project's bus"
    assert S3_RULES, "no S3 drop rule"
    assert SQS_SOURCES, "no function consumes a queue"
    assert set(RULES) == set(BUS_RULES) | set(S3_RULES) | set(SES_RULES), (
        "a rule that is neither on the bus, nor an S3 drop rule, nor SES feedback")


def test_ses_feedback_rule_takes_this_stacks_bounces_and_complaints_to_the_responses_function() -> None:
    # SES publishes to the default bus only: the rule sits there, and picks this stack's configuration set.
    (name, rule), = SES_RULES.items()
    pattern = _props(rule)["EventPattern"]
    assert "EventBusName" not in _props(rule), name
    assert sorted(pattern["detail-type"]) == sorted(events.SES_FEEDBACK)
    (config_set,) = pattern["detail"]["mail"]["tags"][events.SES_CONFIGURATION_SET_TAG]
    assert logical_id_of(config_set) == "MailConfigurationSet"
    assert _targets(rule) == ["ResponsesQueue"]
    destination = _props(RESOURCES["MailFeedback"])
    assert logical_id_of(destination["ConfigurationSetName"]) == "MailConfigurationSet"
    assert sorted(destination["EventDestination"]["MatchingEventTypes"]) == ["BOUNCE", "COMPLAINT"]


def test_sms_replies_reach_the_responses_queue() -> None:
    subscription = _props(RESOURCES["SmsInboundSubscription"])
    assert logical_id_of(subscription["TopicArn"]) == "SmsInboundTopic"
    assert (subscription["Protocol"], logical_id_of(subscription["Endpoint"])) == ("sqs", "ResponsesQueue")
    assert not subscription.get("RawMessageDelivery"), "the handler reads SNS notifications (time and message)"
    statements = [s for p in _of_type("AWS::SQS::QueuePolicy").values()
                  for s in _props(p)["PolicyDocument"]["Statement"]
                  if s.get("Principal") == {"Service": "sns.amazonaws.com"}]
    assert [[logical_id_of(a) for a in s["Condition"]["ArnEquals"]["aws:SourceArn"]] for s in statements] == [
        ["SmsInboundTopic"]]


def test_functions_returns_every_serverless_function() -> None:
    specs = functions(TEMPLATE)
    assert [s.logical_id for s in specs] == list(FUNCTIONS)
    for spec in specs:
        props = _props(FUNCTIONS[spec.logical_id])
        assert spec.handler == props["Handler"]
        declared_queues = {logical_id_of(e["Properties"]["Queue"]) for e in props.get("Events", {}).values()
                           if e["Type"] == "SQS"}
        assert {q.queue for q in spec.queues} == declared_queues
        declared_schedules = {n for n, e in props.get("Events", {}).items() if e["Type"] in ("ScheduleV2", "Schedule")}
        assert {s.name for s in spec.schedules} == declared_schedules
        declared_apis = {n for n, e in props.get("Events", {}).items() if e["Type"] in ("HttpApi", "Api")}
        assert {a.name for a in spec.apis} == declared_apis


# --------------------------------------------------------------------------- event bus rules


@pytest.mark.parametrize("name", sorted(BUS_RULES))
def test_bus_rule_matches_only_declared_project_events(name: str) -> None:
    pattern = _props(BUS_RULES[name])["EventPattern"]
    assert pattern.get("source") == [events.SOURCE], f"{name}: source must be exactly [{events.SOURCE}]"
    detail_types = pattern.get("detail-type")
    assert isinstance(detail_types, list) and detail_types, f"{name}: no detail-type"
    unknown = [d for d in detail_types if d not in events.DETAIL_TYPES]
    assert not unknown, f"{name}: detail-type(s) {unknown} not declared in shared.events.DETAIL_TYPES"


def _routed_detail_types() -> set[str]:
    return {d for r in BUS_RULES.values() for d in _props(r)["EventPattern"].get("detail-type", [])}


@pytest.mark.parametrize("detail_type", sorted(set().union(*PUBLISHED.values())))
def test_every_published_event_is_routed_or_documented_unconsumed(detail_type: str) -> None:
    routed = detail_type in _routed_detail_types()
    assert routed or detail_type in UNCONSUMED, f"{detail_type} is published but no rule routes it"
    if detail_type in UNCONSUMED:
        assert not routed, f"{detail_type} is documented as unconsumed but a rule routes it"


def _published_in_code(function_dir: Path) -> set[str]:
    """Event classes constructed in modules of the function that build Outgoing(...) events."""
    found: set[str] = set()
    for path in function_dir.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        if not any(c.func.id == "Outgoing" for c in calls):  # type: ignore[attr-defined]
            continue
        found |= {c.func.id for c in calls if c.func.id in events.PAYLOADS}  # type: ignore[attr-defined]
    return found


@pytest.mark.parametrize("function", sorted(PUBLISHED))
def test_published_events_agree_with_the_code(function: str) -> None:
    assert _published_in_code(REPO / "functions" / function) == PUBLISHED[function]


def test_no_other_function_publishes() -> None:
    publishing = {d.name for d in (REPO / "functions").iterdir() if d.is_dir() and _published_in_code(d)}
    assert publishing == set(PUBLISHED)


def test_every_routed_detail_type_has_a_publisher_or_comes_from_outside() -> None:
    published = set().union(*PUBLISHED.values())
    from_outside = {events.RESPONSE_RECEIVED,  # PutEvents by other systems (web forms, the call centre)
                    events.ERASURE_REQUESTED}  # operations, on a person's request
    assert _routed_detail_types() <= published | from_outside


def _contact_rules() -> dict[str, list[str]]:
    rules = {}
    for name, rule in BUS_RULES.items():
        pattern = _props(rule)["EventPattern"]
        if events.CONTACT_REQUESTED in pattern.get("detail-type", []):
            rules[name] = pattern.get("detail", {}).get("channel")
    return rules


def test_contact_requested_rules_filter_on_a_known_channel() -> None:
    rules = _contact_rules()
    assert rules
    for name, channels in rules.items():
        assert isinstance(channels, list) and channels, f"{name}: ContactRequested without a detail.channel filter"
        assert all(c in CHANNELS for c in channels), f"{name}: channel(s) {channels} not in {CHANNELS}"
        pattern = _props(BUS_RULES[name])["EventPattern"]
        assert pattern["detail-type"] == [events.CONTACT_REQUESTED], f"{name}: mixes ContactRequested with others"


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_channel_has_exactly_one_contact_rule(channel: str) -> None:
    matching = [name for name, channels in _contact_rules().items() if channel in (channels or [])]
    assert len(matching) == 1, f"channel {channel}: rules {matching}"


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_targets_a_consumed_queue_with_a_send_permission(name: str) -> None:
    targets = _targets(RULES[name])
    assert targets, f"{name}: no target"
    policies = _of_type("AWS::SQS::QueuePolicy").values()
    for target in targets:
        assert RESOURCES[target]["Type"] == "AWS::SQS::Queue", f"{name}: target {target} is not a queue"
        assert target in CONSUMED_QUEUES, f"{name}: target {target} is consumed by no function"
        allowed = [p for p in policies
                   if target in {logical_id_of(q) for q in _props(p)["Queues"]}
                   and any(name in {logical_id_of(a) for a in s.get("Condition", {}).get("ArnEquals", {})
                                    .get("aws:SourceArn", [])}
                           for s in _props(p)["PolicyDocument"]["Statement"])]
        assert allowed, f"{name}: no queue policy lets the rule send to {target}"


# --------------------------------------------------------------------------- queues and event sources


@pytest.mark.parametrize("queue", sorted(CONSUMED_QUEUES))
def test_consumed_queue_has_a_redrive_policy_to_a_dlq(queue: str) -> None:
    props = _props(RESOURCES[queue])
    redrive = props.get("RedrivePolicy")
    assert redrive, f"{queue}: no RedrivePolicy"
    dlq = logical_id_of(redrive["deadLetterTargetArn"])
    assert RESOURCES[dlq]["Type"] == "AWS::SQS::Queue"
    assert dlq != queue and dlq not in CONSUMED_QUEUES, f"{queue}: the DLQ {dlq} is itself consumed"
    assert int(redrive["maxReceiveCount"]) >= 1
    assert int(_props(RESOURCES[dlq]).get("MessageRetentionPeriod", 345600)) >= int(
        props.get("MessageRetentionPeriod", 345600)), f"{dlq}: keeps messages shorter than {queue}"


def _timeout(function: str) -> int:
    return int(_props(FUNCTIONS[function]).get("Timeout", GLOBAL_TIMEOUT))


@pytest.mark.parametrize(("function", "queue"), sorted((f, q) for f, q, _ in SQS_SOURCES))
def test_visibility_timeout_is_at_least_the_function_timeout(function: str, queue: str) -> None:
    """The hard limit: CloudFormation refuses an event source mapping below it."""
    assert int(_props(RESOURCES[queue])["VisibilityTimeout"]) >= _timeout(function)


@pytest.mark.parametrize(("function", "queue"), sorted((f, q) for f, q, _ in SQS_SOURCES))
def test_visibility_timeout_is_six_times_the_function_timeout(function: str, queue: str) -> None:
    """AWS's advice for SQS event sources: visibility timeout >= 6 x the function's timeout."""
    visibility = int(_props(RESOURCES[queue])["VisibilityTimeout"])
    timeout = _timeout(function)
    assert visibility >= VISIBILITY_FACTOR * timeout, (
        f"{queue}: VisibilityTimeout {visibility} s < {VISIBILITY_FACTOR} x {function} Timeout {timeout} s "
        f"= {VISIBILITY_FACTOR * timeout} s")


@pytest.mark.parametrize(("function", "queue"), sorted((f, q) for f, q, _ in SQS_SOURCES))
def test_sqs_event_reports_batch_item_failures(function: str, queue: str) -> None:
    props = next(p for f, q, p in SQS_SOURCES if (f, q) == (function, queue))
    assert "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []), f"{function} <- {queue}"
    assert 1 <= int(props.get("BatchSize", 10)) <= 10_000


def test_each_queue_has_one_consumer() -> None:
    queues = [q for _, q, _ in SQS_SOURCES]
    assert len(queues) == len(set(queues))


# --------------------------------------------------------------------------- handlers


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_handler_names_an_importable_attribute(function: str) -> None:
    handler = _props(FUNCTIONS[function])["Handler"]
    module_name, _, attribute = handler.rpartition(".")
    assert module_name and attribute, f"{function}: Handler {handler!r} is not module.attribute"
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute)), f"{function}: {handler} is not callable"


# --------------------------------------------------------------------------- S3 drops


def _key_prefixes(rule: dict[str, Any]) -> set[str]:
    keys = _props(rule)["EventPattern"]["detail"]["object"]["key"]
    assert all(set(k) == {"prefix"} for k in keys), f"key filter other than prefix: {keys}"
    return {k["prefix"] for k in keys}


def test_s3_drop_rules_use_the_prefixes_of_shared_events() -> None:
    all_prefixes = set().union(*(_key_prefixes(r) for r in S3_RULES.values()))
    assert all_prefixes == {events.FEED_PREFIX, events.CRM_PREFIX, events.RESPONSES_PREFIX,
                            events.CALL_OUTCOMES_PREFIX}


def _drop_prefixes_for(function: str) -> set[str]:
    queues = {q for f, q, _ in SQS_SOURCES if f == function}
    return set().union(*(_key_prefixes(r) for r in S3_RULES.values() if set(_targets(r)) & queues))


def test_s3_drops_reach_the_right_functions() -> None:
    assert _drop_prefixes_for("IngestFunction") == {events.FEED_PREFIX, events.CRM_PREFIX}
    assert _drop_prefixes_for("ResponsesFunction") == {events.RESPONSES_PREFIX, events.CALL_OUTCOMES_PREFIX}


@pytest.mark.parametrize("name", sorted(S3_RULES))
def test_s3_drop_rule_listens_to_the_feed_bucket(name: str) -> None:
    pattern = _props(S3_RULES[name])["EventPattern"]
    assert pattern["detail-type"] == [events.S3_OBJECT_CREATED]
    assert [logical_id_of(b) for b in pattern["detail"]["bucket"]["name"]] == ["FeedBucket"]
    assert _props(RESOURCES["FeedBucket"])["NotificationConfiguration"]["EventBridgeConfiguration"][
        "EventBridgeEnabled"] is True


# --------------------------------------------------------------------------- what `sam build` packages

LOCAL_ONLY = {"moto", "localstack-client"}  # the embedded and LocalStack stacks; never in a function
# The Lambda runtime's own SDK: the python3.12 runtime ships boto3, kept current by AWS, so the layer leaves it out
# (about 25 MB less to load per cold start). Locally pyproject's boto3 stands in for it.
IN_THE_RUNTIME = {"boto3"}
# DuckDB runs the report on a run's lake files, locally; deployed, the report runs on Athena (sqlglot transpiles
# its SQL, so sqlglot ships and DuckDB, some 60 MB, does not).
LOCAL_ENGINE = {"duckdb"}
LAYER_REQUIREMENTS = REPO / "layers" / "dependencies" / "requirements.txt"


def _names(requirements: list[str]) -> dict[str, str]:
    import re

    return {re.split(r"[\[<>=!~ ]", r, maxsplit=1)[0].lower(): r for r in requirements}


def test_layer_requirements_are_pyprojects_runtime_dependencies_without_the_local_stack_and_boto3() -> None:
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    lines = LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    packaged = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    leave_out = LOCAL_ONLY | IN_THE_RUNTIME | LOCAL_ENGINE
    wanted = {name: spec for name, spec in _names(declared).items() if name not in leave_out}
    assert _names(packaged) == wanted


def test_no_function_imports_the_local_stack() -> None:
    for path in [*(REPO / "functions").rglob("*.py"), *(REPO / "shared").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.split(".")[0] in {"moto", "localstack_client", "infra"}], path


# The channels whose claim waits for the provider's answer (status "claimed" until confirmed sent); print
# and call claims are final in their own transaction ("batched", "queued").
CONFIRMING = {"EmailFunction", "SmsFunction"}


@pytest.mark.parametrize(("function", "queue"), [(f, q) for f, q, _ in SQS_SOURCES if f in CONFIRMING])
def test_claim_lease_outlives_an_invocation_and_ends_before_the_redelivery(function: str, queue: str) -> None:
    """A claim is confirmed within one invocation (its timeout); the next delivery of a crashed one comes
    after the visibility timeout and must see it as ambiguous, not as still in flight."""
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    lease = float(variables["CLAIM_LEASE_SECONDS"])
    timeout = int(_props(FUNCTIONS[function]).get("Timeout", GLOBAL_TIMEOUT))
    visibility = int(_props(RESOURCES[queue])["VisibilityTimeout"])
    assert timeout < lease < visibility


def test_the_import_arrows_run_one_way_shared_never_imports_functions() -> None:
    """Given the library every function uses (shared/), When its modules are read (lazy imports too),
    Then none imports from functions/ or infra/: the arrows run functions/ -> shared/, infra/ -> both."""
    root = Path(__file__).resolve().parents[2] / "shared"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.relative_to(root.parent)}: {n}" for n in names
                          if n.split(".")[0] in ("functions", "infra")]
    assert offenders == []
