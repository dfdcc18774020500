"""Least privilege and safe storage in template.yaml (issue 7).

Each property is checked by a `check_*` function over the raw template (infra.template.load_template) or
the translated one (infra.sam_check.translate, where the function roles exist); the tests run them on the
real template, and the mutation tests below show that each check fails once its property is removed.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from collections.abc import Callable
from typing import Any

import pytest

from infra.sam_check import translate
from infra.template import load_template, logical_id_of

RAW: dict[str, Any] = load_template()
TRANSLATED: dict[str, Any] = translate()

# The only Allow on "*": SMS go to phone numbers, and sns:Publish with PhoneNumber has no resource ARN.
STAR_ALLOWED = {("SmsFunction", "sns:Publish")}

# Scan: erasure (shared.erasure, run by the responses function) finds a person's print pieces, which
# have no customer index. The exports in infra/ scan too, but run outside Lambda with operators' roles.
SCANS = {"ResponsesFunction": {"${PrintTable.Arn}"}}

# DeleteItem: the call-list exporter drops listed and stale requests; erasure deletes the customer's
# items, print pieces and pending call requests.
DELETES = {
    "CallListExporterFunction": {"${CallsTable.Arn}"},
    "ResponsesFunction": {"${CustomersTable.Arn}", "${PrintTable.Arn}", "${CallsTable.Arn}"},
}


# --------------------------------------------------------------------------- helpers


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r.get("Type") == kind}


def _props(resource: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = resource.get("Properties", {})
    return props


def _render(resource: Any) -> str:
    """A policy resource as text: "${X.Arn}" for !GetAtt X.Arn, the template of a !Sub, "*" as is."""
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        logical, attribute = resource["Fn::GetAtt"]
        return f"${{{logical}.{attribute}}}"
    if isinstance(resource, dict) and "Ref" in resource:
        return f"${{{resource['Ref']}}}"
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        arg = resource["Fn::Sub"]
        if isinstance(arg, str):
            return arg
        text, variables = arg
        for name, value in variables.items():
            text = text.replace(f"${{{name}}}", _render(value))
        return str(text)
    return json.dumps(resource, sort_keys=True)


def _function_names(raw: dict[str, Any]) -> list[str]:
    return sorted(_of_type(raw, "AWS::Serverless::Function"))


def _statements(translated: dict[str, Any], function: str) -> list[dict[str, Any]]:
    """The inline statements of the function's execution role, as deployed."""
    resources = translated["Resources"]
    role = resources[logical_id_of(_props(resources[function])["Role"])]
    assert role["Type"] == "AWS::IAM::Role", f"{function}: its Role is not a role of the stack"
    return [s for p in _props(role).get("Policies", []) for s in _as_list(p["PolicyDocument"]["Statement"])]


def _allowed(translated: dict[str, Any], function: str, action: str) -> set[str]:
    """Resources on which the function's role allows `action` (wildcard action patterns count)."""
    found: set[str] = set()
    for statement in _statements(translated, function):
        if statement.get("Effect") != "Allow":
            continue
        if any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in _as_list(statement.get("Action", []))):
            found |= {_render(r) for r in _as_list(statement.get("Resource", []))}
    return found


def _bucket_object_pattern(resource: str, buckets: set[str]) -> bool:
    """`${Bucket.Arn}/prefix/...*`: objects under a named prefix of one of the stack's buckets."""
    for bucket in buckets:
        head = f"${{{bucket}.Arn}}/"
        if resource.startswith(head):
            key = resource[len(head):]
            return "/" in key.split("*", 1)[0]  # a prefix ending in "/" before any wildcard
    return False


# --------------------------------------------------------------------------- checks


def check_no_wildcards(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    buckets = set(_of_type(raw, "AWS::S3::Bucket"))
    for function in _function_names(raw):
        statements = _statements(translated, function)
        assert statements, f"{function}: its role has no inline statements"
        for statement in statements:
            if statement.get("Effect") != "Allow":
                continue
            assert "NotAction" not in statement and "NotResource" not in statement, f"{function}: {statement}"
            actions = [str(a) for a in _as_list(statement["Action"])]
            for action in actions:
                assert "*" not in action, f"{function}: wildcard action {action}"
            for resource in (_render(r) for r in _as_list(statement["Resource"])):
                if resource == "*":
                    assert all((function, a) in STAR_ALLOWED for a in actions), (
                        f"{function}: {actions} allowed on every resource")
                else:
                    assert "*" not in resource or _bucket_object_pattern(resource, buckets), (
                        f"{function}: wildcard resource {resource}")


def check_sms_cannot_publish_to_topics(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    denies = [s for s in _statements(translated, "SmsFunction") if s.get("Effect") == "Deny"
              and "sns:Publish" in _as_list(s.get("Action", []))]
    assert any(_render(r) in ("arn:aws:sns:*:*:*", "arn:${AWS::Partition}:sns:*:*:*")
               for s in denies for r in _as_list(s["Resource"])), "SmsFunction: sns:Publish on '*' reaches topics"


def check_scans(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    found = {f: r for f in _function_names(raw) if (r := _allowed(translated, f, "dynamodb:Scan"))}
    assert found == SCANS


def check_deletes(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    found = {f: r for f in _function_names(raw) if (r := _allowed(translated, f, "dynamodb:DeleteItem"))}
    assert found == DELETES
    for action in ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket", "dynamodb:DeleteTable"):
        assert not [f for f in _function_names(raw) if _allowed(translated, f, action)], action


def check_buckets(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    buckets = _of_type(raw, "AWS::S3::Bucket")
    assert buckets
    policies = _of_type(raw, "AWS::S3::BucketPolicy").values()
    for name, bucket in buckets.items():
        props = _props(bucket)
        rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        assert rules and all(r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules), (
            f"{name}: not encrypted")
        block = props.get("PublicAccessBlockConfiguration", {})
        for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            assert block.get(flag) is True, f"{name}: {flag} is not true"
        denials = [
            s for p in policies if logical_id_of(_props(p)["Bucket"]) == name
            for s in _as_list(_props(p)["PolicyDocument"]["Statement"])
            if s.get("Effect") == "Deny" and s.get("Principal") in ("*", {"AWS": "*"})
            and "s3:*" in _as_list(s.get("Action", []))
            and str(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
        ]
        assert denials, f"{name}: no bucket policy denies requests without TLS"
        covered = {_render(r) for s in denials for r in _as_list(s["Resource"])}
        assert {f"${{{name}.Arn}}", f"${{{name}.Arn}}/*"} <= covered, f"{name}: TLS denial misses {covered}"


def _dlqs(raw: dict[str, Any]) -> list[str]:
    return sorted(q for q in _of_type(raw, "AWS::SQS::Queue") if q.endswith("DLQ"))


def check_dlq_alarms(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    dlqs = _dlqs(raw)
    redrive_targets = {logical_id_of(_props(q)["RedrivePolicy"]["deadLetterTargetArn"])
                       for q in _of_type(raw, "AWS::SQS::Queue").values() if "RedrivePolicy" in _props(q)}
    assert dlqs and set(dlqs) == redrive_targets, "every dead-letter queue is named *DLQ"
    alarms = [_props(a) for a in _of_type(raw, "AWS::CloudWatch::Alarm").values()]
    for dlq in dlqs:
        mine = [a for a in alarms if a.get("Namespace") == "AWS/SQS"
                and a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
                and [d["Name"] for d in a.get("Dimensions", [])] == ["QueueName"]
                and logical_id_of(a["Dimensions"][0]["Value"]) == dlq]
        assert len(mine) == 1, f"{dlq}: {len(mine)} alarms on ApproximateNumberOfMessagesVisible"
        alarm = mine[0]
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and float(alarm["Threshold"]) == 0, dlq
        assert int(alarm["Period"]) == 60 and int(alarm["EvaluationPeriods"]) == 1, dlq
        assert alarm.get("AlarmActions") == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}],
                                                        {"Ref": "AWS::NoValue"}]}, dlq
    assert raw["Parameters"]["AlarmTopicArn"]["Default"] == ""
    assert raw.get("Conditions", {}).get("HasAlarmTopic") == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}


def check_queues_encrypted(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    queues = _of_type(raw, "AWS::SQS::Queue")
    assert queues
    for name, queue in queues.items():
        assert _props(queue).get("SqsManagedSseEnabled") is True, f"{name}: SqsManagedSseEnabled is not true"


def check_tables_encrypted(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    tables = _of_type(raw, "AWS::DynamoDB::Table")
    assert tables
    for name, table in tables.items():
        assert _props(table).get("SSESpecification", {}).get("SSEEnabled") is True, f"{name}: SSE not enabled"


CHECKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "no_wildcards": check_no_wildcards,
    "sms_cannot_publish_to_topics": check_sms_cannot_publish_to_topics,
    "scans": check_scans,
    "deletes": check_deletes,
    "buckets": check_buckets,
    "dlq_alarms": check_dlq_alarms,
    "queues_encrypted": check_queues_encrypted,
    "tables_encrypted": check_tables_encrypted,
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_template_has_the_property(name: str) -> None:
    CHECKS[name](RAW, TRANSLATED)


def test_every_function_has_its_own_role() -> None:
    roles = [logical_id_of(_props(TRANSLATED["Resources"][f])["Role"]) for f in _function_names(RAW)]
    assert len(roles) == len(set(roles)) == len(_function_names(RAW))


# --------------------------------------------------------------------------- each check fails without its property


def _role_policy(translated: dict[str, Any], function: str) -> dict[str, Any]:
    resources = translated["Resources"]
    return _props(resources[logical_id_of(_props(resources[function])["Role"])])["Policies"][0]["PolicyDocument"]  # type: ignore[no-any-return]


def _add_statement(function: str, statement: dict[str, Any]) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    def mutate(raw: dict[str, Any], translated: dict[str, Any]) -> None:
        _role_policy(translated, function)["Statement"].append(statement)

    return mutate


def _drop_sms_deny(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    role = resources[logical_id_of(_props(resources["SmsFunction"])["Role"])]
    for policy in _props(role)["Policies"]:
        document = policy["PolicyDocument"]
        document["Statement"] = [s for s in _as_list(document["Statement"]) if s.get("Effect") != "Deny"]


def _drop_delete(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    role = resources[logical_id_of(_props(resources["CallListExporterFunction"])["Role"])]
    for policy in _props(role)["Policies"]:
        for statement in _as_list(policy["PolicyDocument"]["Statement"]):
            statement["Action"] = [a for a in _as_list(statement["Action"]) if a != "dynamodb:DeleteItem"]


def _raw_edit(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    def mutate(raw: dict[str, Any], translated: dict[str, Any]) -> None:
        edit(raw["Resources"])

    return mutate


def _drop_alarm(resources: dict[str, Any]) -> None:
    del resources["SmsDLQAlarm"]


def _duplicate_alarm(resources: dict[str, Any]) -> None:
    resources["SmsDLQAlarm2"] = copy.deepcopy(resources["SmsDLQAlarm"])


MUTATIONS: dict[str, tuple[str, Callable[[dict[str, Any], dict[str, Any]], None]]] = {
    "wildcard action": ("no_wildcards", _add_statement(
        "EmailFunction", {"Effect": "Allow", "Action": "dynamodb:*",
                          "Resource": {"Fn::GetAtt": ["BudgetTable", "Arn"]}})),
    "wildcard resource": ("no_wildcards", _add_statement(
        "IngestFunction", {"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"})),
    "whole-bucket objects": ("no_wildcards", _add_statement(
        "VendorApiFunction", {"Effect": "Allow", "Action": "s3:GetObject",
                              "Resource": {"Fn::Sub": "${PrintBucket.Arn}/*"}})),
    "index wildcard": ("no_wildcards", _add_statement(
        "JourneyFunction", {"Effect": "Allow", "Action": "dynamodb:Query",
                            "Resource": {"Fn::Sub": "${JourneysTable.Arn}/index/*"}})),
    "sms deny removed": ("sms_cannot_publish_to_topics", _drop_sms_deny),
    "scan added": ("scans", _add_statement(
        "JourneyFunction", {"Effect": "Allow", "Action": "dynamodb:Scan",
                            "Resource": {"Fn::GetAtt": ["JourneysTable", "Arn"]}})),
    "delete added": ("deletes", _add_statement(
        "EmailFunction", {"Effect": "Allow", "Action": "dynamodb:DeleteItem",
                          "Resource": {"Fn::GetAtt": ["ContactsTable", "Arn"]}})),
    "delete removed": ("deletes", _drop_delete),
    "object delete added": ("deletes", _add_statement(
        "VendorApiFunction", {"Effect": "Allow", "Action": "s3:DeleteObject",
                              "Resource": {"Fn::Sub": "${PrintBucket.Arn}/batches/*"}})),
    "encryption removed": ("buckets", _raw_edit(lambda r: r["PrintBucket"]["Properties"].pop("BucketEncryption"))),
    "public access flag off": ("buckets", _raw_edit(
        lambda r: r["CallListBucket"]["Properties"]["PublicAccessBlockConfiguration"].update(IgnorePublicAcls=False))),
    "tls policy removed": ("buckets", _raw_edit(lambda r: r.pop("FeedBucketPolicy"))),
    "tls policy misses objects": ("buckets", _raw_edit(
        lambda r: r["PrintBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0].update(
            Resource=[{"Fn::GetAtt": ["PrintBucket", "Arn"]}]))),
    "dlq alarm removed": ("dlq_alarms", _raw_edit(_drop_alarm)),
    "dlq alarm doubled": ("dlq_alarms", _raw_edit(_duplicate_alarm)),
    "queue sse removed": ("queues_encrypted", _raw_edit(
        lambda r: r["EmailDLQ"]["Properties"].pop("SqsManagedSseEnabled"))),
    "table sse removed": ("tables_encrypted", _raw_edit(
        lambda r: r["CallsTable"]["Properties"].pop("SSESpecification"))),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_check_fails_without_its_property(mutation: str) -> None:
    check, mutate = MUTATIONS[mutation]
    raw, translated = copy.deepcopy(RAW), copy.deepcopy(TRANSLATED)
    mutate(raw, translated)
    with pytest.raises(AssertionError):
        CHECKS[check](raw, translated)
