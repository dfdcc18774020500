"""Least privilege and safe storage in template.yaml (issue 7).

Each property is checked by a `check_*` function over the raw template (infra.template.load_template) or
the translated one (infra.sam_check.translate: what CloudFormation deploys, with the roles SAM generates for
schedules); the tests run them on the real template, and the mutation tests below show that each check fails
once its property is removed.

Every function has an execution role declared in template.yaml (AWS::IAM::Role, inline policy only): the role
SAM would generate carries AWS managed policies (AWSLambdaBasicExecutionRole: logs on "*";
AWSLambdaSQSQueueExecutionRole: sqs on "*"). Each function logs to its own log group, declared with a retention.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.sam_check import translate
from infra.template import load_template, logical_id_of

RAW: dict[str, Any] = load_template()
TRANSLATED: dict[str, Any] = translate()

# The only Allow on "*": SMS go to phone numbers, and sns:Publish with PhoneNumber has no resource ARN.
STAR_ALLOWED = {("SmsFunction", "sns:Publish")}

# Scan: erasure (shared.erasure, run by the responses function) finds a person's print pieces, which
# have no customer index; ingest plans a CRM extract against every customer held (keys and segment fields).
# The exports in infra/ scan too, but run outside Lambda with operators' roles.
SCANS = {"ResponsesFunction": {"${PrintTable.Arn}"}, "IngestFunction": {"${CustomersTable.Arn}"}}

# Lambda writes a function's logs: a stream in its log group (the stack creates the group, with its retention).
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
LOG_STREAMS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${%s}:*"

# An SQS event source mapping polls with the function's role: what AWSLambdaSQSQueueExecutionRole grants, on the
# function's own queues only (the functions' code never calls SQS itself).
QUEUE_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}

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


def _role_of(translated: dict[str, Any], function: str) -> str:
    return logical_id_of(_props(translated["Resources"][function])["Role"])


def _owners(translated: dict[str, Any]) -> dict[str, str]:
    """Function roles: role -> the function whose execution role it is."""
    return {_role_of(translated, f): f for f in _of_type(translated, "AWS::Lambda::Function")}


def _role_statements(translated: dict[str, Any], role: str) -> list[dict[str, Any]]:
    resource = translated["Resources"][role]
    assert resource["Type"] == "AWS::IAM::Role", f"{role} is not a role of the stack"
    return [s for p in _props(resource).get("Policies", []) for s in _as_list(p["PolicyDocument"]["Statement"])]


def _statements(translated: dict[str, Any], function: str) -> list[dict[str, Any]]:
    """The inline statements of the function's execution role, as deployed."""
    return _role_statements(translated, _role_of(translated, function))


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


def _log_group_of(translated: dict[str, Any], function: str) -> str | None:
    group = _props(translated["Resources"][function]).get("LoggingConfig", {}).get("LogGroup")
    return logical_id_of(group) if group is not None else None


def _own_log_streams(translated: dict[str, Any], function: str | None) -> str | None:
    """`arn:...:log-group:${XLogGroup}:*`: the streams of the function's own log group."""
    group = _log_group_of(translated, function) if function else None
    return LOG_STREAMS % group if group else None


def _parameter_default(template: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict) and "Ref" in value and value["Ref"] in template.get("Parameters", {}):
        return template["Parameters"][value["Ref"]].get("Default")
    return value


# --------------------------------------------------------------------------- checks


def _check_allow(role: str, owner: str | None, statement: dict[str, Any], buckets: set[str],
                 translated: dict[str, Any]) -> None:
    """One Allow of a role (`owner` is the function whose execution role it is, None for a schedule's role)."""
    assert "NotAction" not in statement and "NotResource" not in statement, f"{role}: {statement}"
    actions = [str(a) for a in _as_list(statement["Action"])]
    for action in actions:
        assert "*" not in action, f"{role}: wildcard action {action}"
    for resource in (_render(r) for r in _as_list(statement["Resource"])):
        if resource == "*":
            assert owner and all((owner, a) in STAR_ALLOWED for a in actions), (
                f"{role}: {actions} allowed on every resource")
        elif "*" in resource:
            own_streams = resource == _own_log_streams(translated, owner) and set(actions) <= LOG_ACTIONS
            assert own_streams or _bucket_object_pattern(resource, buckets), f"{role}: wildcard resource {resource}"


def check_no_wildcards(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    """Every role of the stack (functions' and the schedules' SAM generates)."""
    buckets = set(_of_type(raw, "AWS::S3::Bucket"))
    owners = _owners(translated)
    assert set(owners.values()) == set(_function_names(raw))
    for role in sorted(_of_type(translated, "AWS::IAM::Role")):
        statements = _role_statements(translated, role)
        assert statements, f"{role}: no inline statements"
        for statement in statements:
            if statement.get("Effect") == "Allow":
                _check_allow(role, owners.get(role), statement, buckets, translated)


def check_no_managed_policies(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    """A role's grants are its inline statements, all of them: what the other checks read is all there is."""
    for name, role in _of_type(translated, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in _props(role), f"{name}: {_props(role)['ManagedPolicyArns']}"
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        assert not _of_type(translated, kind), f"{kind}: a grant outside the roles' inline policies"
    # SAM silently ignores a function's Policies once it has a Role: such statements would be dead and misleading.
    ignored = [f for f in _function_names(raw) if "Policies" in _props(raw["Resources"][f])]
    assert not ignored, f"{ignored}: Policies next to Role (SAM ignores them); put them into the role"


def check_function_roles(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    roles = {f: _role_of(translated, f) for f in _function_names(raw)}
    assert len(set(roles.values())) == len(roles), f"roles shared between functions: {roles}"
    for function, role in roles.items():
        declared = raw["Resources"].get(role, {})
        assert declared.get("Type") == "AWS::IAM::Role", (
            f"{function}: role {role} is not declared in template.yaml (SAM generates one with managed policies)")
        trust = _as_list(_props(translated["Resources"][role])["AssumeRolePolicyDocument"]["Statement"])
        for statement in trust:
            assert statement.get("Effect") == "Allow" and _as_list(statement.get("Action")) == ["sts:AssumeRole"], (
                f"{role}: {statement}")
            assert set(statement.get("Principal", {})) == {"Service"}, f"{role}: {statement}"
            assert _as_list(statement["Principal"]["Service"]) == ["lambda.amazonaws.com"], f"{role}: {statement}"
        assert trust, f"{role}: trusts nobody"


def check_log_groups(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    groups = _of_type(translated, "AWS::Logs::LogGroup")
    used: list[str] = []
    for function in _function_names(raw):
        props = _props(translated["Resources"][function])
        group = _log_group_of(translated, function)
        assert group in groups, f"{function}: LoggingConfig.LogGroup names no log group of the stack"
        assert "FunctionName" in props, f"{function}: no FunctionName, so no log group name to match it"
        group_props = _props(groups[group])
        assert _render(group_props.get("LogGroupName")) == "/aws/lambda/" + _render(props["FunctionName"]), (
            f"{group}: not /aws/lambda/<the function's name>")
        retention = _parameter_default(translated, group_props.get("RetentionInDays"))
        assert retention is not None and int(retention) > 0, f"{group}: kept forever"
        for action in sorted(LOG_ACTIONS):
            assert _allowed(translated, function, action) == {LOG_STREAMS % group}, (
                f"{function}: {action} not (only) on its own log group {group}")
        used.append(group)
    assert len(used) == len(set(used)), f"log groups shared: {used}"
    # The stack creates every group: one a function created on the fly would keep its logs forever.
    creating = [f for f in _function_names(raw) if _allowed(translated, f, "logs:CreateLogGroup")]
    assert not creating, f"{creating}: may create log groups"


def check_queue_access(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    mappings = _of_type(translated, "AWS::Lambda::EventSourceMapping").values()
    for function in _function_names(raw):
        queues = {_render(_props(m)["EventSourceArn"]) for m in mappings
                  if logical_id_of(_props(m)["FunctionName"]) == function
                  and "StreamArn" not in json.dumps(_props(m)["EventSourceArn"])}  # its queues, not its streams
        for action in sorted(QUEUE_ACTIONS):
            assert _allowed(translated, function, action) == queues, f"{function}: {action} not on exactly {queues}"
        other = {str(a) for s in _statements(translated, function) if s.get("Effect") == "Allow"
                 for a in _as_list(s["Action"]) if str(a).lower().startswith("sqs:")} - QUEUE_ACTIONS
        # Lambda sends a scheduled run that failed every attempt to the function's on-failure destination
        # with the function's role: SendMessage on exactly that queue, nothing else.
        destination = _props(raw["Resources"][function]).get("EventInvokeConfig", {}).get(
            "DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        # ... as does a stream mapping with a batch that failed every retry (its on-failure destination)
        destinations = {_render(destination)} if destination is not None else set()
        destinations |= {_render(d) for d in _stream_on_failure(raw, function)}
        if destinations:
            assert _allowed(translated, function, "sqs:SendMessage") == destinations, function
            other.discard("sqs:SendMessage")
        assert not other, f"{function}: {other}"


def _stream_on_failure(raw: dict[str, Any], function: str) -> list[Any]:
    """The on-failure destinations of the function's DynamoDB stream event sources."""
    events = _props(raw["Resources"][function]).get("Events", {}).values()
    return [e["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] for e in events
            if e.get("Type") == "DynamoDB" and "DestinationConfig" in e.get("Properties", {})]


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
    on_failure = {logical_id_of(_props(f)["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"])
                  for f in _of_type(raw, "AWS::Serverless::Function").values() if "EventInvokeConfig" in _props(f)}
    on_failure |= {logical_id_of(d) for f in _of_type(raw, "AWS::Serverless::Function")
                   for d in _stream_on_failure(raw, f)}
    assert dlqs and set(dlqs) == redrive_targets | on_failure, "every dead-letter queue is named *DLQ"
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


def check_point_in_time_recovery(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    for name, table in _of_type(raw, "AWS::DynamoDB::Table").items():
        assert _props(table).get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True, (
            f"{name}: no point-in-time recovery")


# The tables with personal data or what points at a person: each expires its items (DynamoDB TTL). The suppression
# table is kept (an objection outlives retention), the budget table holds sums only.
EXPIRING_TABLES = {"HouseholdsTable", "CustomersTable", "JourneysTable", "ContactsTable", "PrintTable", "CallsTable"}


def check_personal_data_expires(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    tables = _of_type(raw, "AWS::DynamoDB::Table")
    assert set(tables) == EXPIRING_TABLES | {"SuppressionTable", "BudgetTable"}, sorted(tables)
    for name in EXPIRING_TABLES:
        ttl = _props(tables[name]).get("TimeToLiveSpecification", {})
        assert ttl.get("Enabled") is True and ttl.get("AttributeName") == "expires_at", f"{name}: kept forever"


LOG_BUCKET = "AccessLogBucket"


def check_bucket_access_logs_and_retention(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    """Every bucket's objects expire; every bucket but the log bucket logs its access there."""
    for name, bucket in _of_type(raw, "AWS::S3::Bucket").items():
        props = _props(bucket)
        rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
        expiring = [r for r in rules if r.get("Status") == "Enabled" and "ExpirationInDays" in r]
        assert expiring, f"{name}: nothing in it ever expires"
        if name == LOG_BUCKET:
            continue
        destination = props.get("LoggingConfiguration", {}).get("DestinationBucketName")
        assert destination is not None and logical_id_of(destination) == LOG_BUCKET, f"{name}: no access log"
    statements = [s for p in _of_type(raw, "AWS::S3::BucketPolicy").values()
                  if logical_id_of(_props(p)["Bucket"]) == LOG_BUCKET for s in _props(p)["PolicyDocument"]["Statement"]]
    assert any(s.get("Principal") == {"Service": "logging.s3.amazonaws.com"} and s.get("Effect") == "Allow"
               for s in statements), f"{LOG_BUCKET}: the logging service may not write to it"


def check_apis_logged_and_throttled(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    apis = _of_type(raw, "AWS::Serverless::HttpApi")
    assert {"VendorApi", "UnsubscribeApi"} <= set(apis)
    for name, api in apis.items():
        props = _props(api)
        destination = props.get("AccessLogSettings", {}).get("DestinationArn")
        assert destination is not None, f"{name}: no access log"
        group = _props(raw["Resources"][logical_id_of(destination)])
        assert _parameter_default(raw, group.get("RetentionInDays")), f"{name}: access log kept forever"
        assert "$context.requestId" in props["AccessLogSettings"]["Format"], name
        route = props.get("DefaultRouteSettings", {})
        assert route.get("ThrottlingBurstLimit") and route.get("ThrottlingRateLimit"), f"{name}: not throttled"
    for function in _function_names(raw):  # no route on the implicit API, which has neither
        for event in _props(raw["Resources"][function]).get("Events", {}).values():
            if event["Type"] == "HttpApi":
                api = event["Properties"].get("ApiId")
                assert api is not None and logical_id_of(api) in apis, f"{function}: on the implicit API"
    reserved = _props(raw["Resources"]["UnsubscribeFunction"]).get("ReservedConcurrentExecutions")
    assert reserved is not None and int(_parameter_default(raw, reserved)) > 0, "UnsubscribeFunction: no cap"


# The properties that name a resource in its account and region: each carries the stack's name, so that two stacks
# (staging beside production) never collide. The SES identity is the sender's domain, one per account and region:
# a second stack sets SenderIdentityExists=true and uses the first one's.
NAME_PROPERTIES = {"Name", "FunctionName", "LogGroupName", "BucketName", "LayerName", "TableName", "QueueName",
                   "TopicName", "RoleName", "AlarmName", "RuleName", "ScheduleName", "StageName"}
ONE_PER_ACCOUNT = {"SenderIdentity"}


def check_names_per_stack(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    for name, resource in translated["Resources"].items():
        for key, value in _props(resource).items():
            referring = isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value)  # names another
            if key in NAME_PROPERTIES and not (referring or key == "StageName" or name in ONE_PER_ACCOUNT):
                assert "${AWS::StackName}" in _render(value), f"{name}.{key} = {value}: the same in every stack"
    assert raw["Resources"]["SenderIdentity"].get("Condition") == "CreateSenderIdentity"


def check_mail_authenticated(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    """DMARC: a domain identity (the From address's domain) signing with Easy DKIM, a custom MAIL FROM on that
    domain (SPF aligned), the DNS records to publish as outputs, and every email through the configuration set."""
    identity = _props(raw["Resources"]["SenderIdentity"])
    assert identity["EmailIdentity"] == {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "SenderEmail"}]}]}, identity
    assert identity.get("DkimAttributes", {}).get("SigningEnabled") is True
    assert identity.get("DkimSigningAttributes", {}).get("NextSigningKeyLength") == "RSA_2048_BIT"
    domain = json.dumps(identity["EmailIdentity"], sort_keys=True)
    assert _render(identity.get("MailFromAttributes", {}).get("MailFromDomain", "")) == (
        "${MailFromSubdomain}." + domain), "no custom MAIL FROM on the From domain"
    outputs = raw.get("Outputs", {})
    for name in ("DkimRecord1", "DkimRecord2", "DkimRecord3", "MailFromMxRecord", "MailFromSpfRecord", "DmarcRecord"):
        assert name in outputs, f"output {name}: a DNS record to publish"
    variables = raw["Globals"]["Function"]["Environment"]["Variables"]
    assert logical_id_of(variables["MAIL_CONFIGURATION_SET"]) == "MailConfigurationSet"
    allowed = " ".join(_allowed(translated, "EmailFunction", "ses:SendEmail"))
    assert "configuration-set/${MailConfigurationSet}" in allowed, allowed


def check_checkov_skips_have_reasons(raw: dict[str, Any], translated: dict[str, Any]) -> None:
    skips = [(name, s) for name, r in raw["Resources"].items()
             for s in r.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips
    for name, skip in skips:
        assert str(skip.get("id", "")).startswith("CKV_"), f"{name}: {skip}"
        assert len(str(skip.get("comment", "")).split()) >= 6, f"{name}: {skip['id']} skipped without its reason"


CHECKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "no_wildcards": check_no_wildcards,
    "no_managed_policies": check_no_managed_policies,
    "function_roles": check_function_roles,
    "log_groups": check_log_groups,
    "queue_access": check_queue_access,
    "sms_cannot_publish_to_topics": check_sms_cannot_publish_to_topics,
    "scans": check_scans,
    "deletes": check_deletes,
    "buckets": check_buckets,
    "dlq_alarms": check_dlq_alarms,
    "queues_encrypted": check_queues_encrypted,
    "tables_encrypted": check_tables_encrypted,
    "point_in_time_recovery": check_point_in_time_recovery,
    "personal_data_expires": check_personal_data_expires,
    "bucket_access_logs_and_retention": check_bucket_access_logs_and_retention,
    "apis_logged_and_throttled": check_apis_logged_and_throttled,
    "names_per_stack": check_names_per_stack,
    "mail_authenticated": check_mail_authenticated,
    "checkov_skips_have_reasons": check_checkov_skips_have_reasons,
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_template_has_the_property(name: str) -> None:
    CHECKS[name](RAW, TRANSLATED)


# --------------------------------------------------------------------------- each check fails without its property


Mutation = Callable[[dict[str, Any], dict[str, Any]], None]


def _role_policy(translated: dict[str, Any], function: str) -> dict[str, Any]:
    """The first inline policy of the function's role (or of the role itself, for a schedule's role)."""
    resources = translated["Resources"]
    role = _role_of(translated, function) if resources[function]["Type"] == "AWS::Lambda::Function" else function
    return _props(resources[role])["Policies"][0]["PolicyDocument"]  # type: ignore[no-any-return]


def _add_statement(function: str, statement: dict[str, Any]) -> Mutation:
    def mutate(raw: dict[str, Any], translated: dict[str, Any]) -> None:
        _role_policy(translated, function)["Statement"].append(statement)

    return mutate


def _drop_statements(function: str, prefix: str) -> Mutation:
    """Remove from the function's role every Allow whose actions start with `prefix` (e.g. "logs:")."""
    def mutate(raw: dict[str, Any], translated: dict[str, Any]) -> None:
        for policy in _props(translated["Resources"][_role_of(translated, function)])["Policies"]:
            document = policy["PolicyDocument"]
            document["Statement"] = [s for s in _as_list(document["Statement"])
                                     if not any(str(a).startswith(prefix) for a in _as_list(s["Action"]))]

    return mutate


def _translated_edit(edit: Callable[[dict[str, Any]], None]) -> Mutation:
    def mutate(raw: dict[str, Any], translated: dict[str, Any]) -> None:
        edit(translated["Resources"])

    return mutate


@functools.cache
def _translated_without_role(function: str) -> str:
    """template.yaml translated as if `function` had no Role (SAM then generates one): as JSON, copied per use."""
    raw = copy.deepcopy(RAW)
    del raw["Resources"][function]["Properties"]["Role"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "template.json"
        path.write_text(json.dumps(raw), encoding="utf-8")
        return json.dumps(translate(path))


def _sam_generated_role(function: str) -> Mutation:
    def mutate(raw: dict[str, Any], translated: dict[str, Any]) -> None:
        del raw["Resources"][function]["Properties"]["Role"]
        translated.clear()
        translated.update(json.loads(_translated_without_role(function)))

    return mutate


def _log_streams_of(group: str) -> dict[str, Any]:
    return {"Fn::Sub": LOG_STREAMS % group}


def _queue(queue: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [queue, "Arn"]}


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


MUTATIONS: dict[str, tuple[str, Mutation]] = {
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
    "schedule role on every function": ("no_wildcards", _add_statement(
        "JourneyFunctionTickRole", {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"})),
    "schedule role wildcard action": ("no_wildcards", _add_statement(
        "PrintBatcherFunctionCutOffRole", {"Effect": "Allow", "Action": "lambda:*",
                                           "Resource": {"Fn::GetAtt": ["PrintBatcherFunction", "Arn"]}})),
    "another function's log streams": ("no_wildcards", _add_statement(
        "EmailFunction", {"Effect": "Allow", "Action": "logs:PutLogEvents",
                          "Resource": _log_streams_of("SmsLogGroup")})),
    "every log group": ("no_wildcards", _add_statement(
        "EmailFunction", {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}})),
    "log-stream wildcard for other actions": ("no_wildcards", _add_statement(
        "EmailFunction", {"Effect": "Allow", "Action": "logs:DeleteLogStream",
                          "Resource": _log_streams_of("EmailLogGroup")})),
    "managed policy attached": ("no_managed_policies", _translated_edit(
        lambda r: r["EmailRole"]["Properties"].update(
            ManagedPolicyArns=["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]))),
    "policy outside the role": ("no_managed_policies", _translated_edit(
        lambda r: r.update(Extra={"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "extra", "Roles": [{"Ref": "SmsRole"}],
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]}}}))),
    "policies left beside the role": ("no_managed_policies", _raw_edit(
        lambda r: r["IngestFunction"]["Properties"].update(Policies=[{"Statement": [
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": {"Fn::GetAtt": ["Bus", "Arn"]}}]}]))),
    "role left to SAM (managed policies)": ("no_managed_policies", _sam_generated_role("IngestFunction")),
    "role left to SAM (not declared)": ("function_roles", _sam_generated_role("IngestFunction")),
    "role shared": ("function_roles", _translated_edit(
        lambda r: r["SmsFunction"]["Properties"].update(Role={"Fn::GetAtt": ["EmailRole", "Arn"]}))),
    "role trusted by another service": ("function_roles", _translated_edit(
        lambda r: r["IngestRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0].update(
            Principal={"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}))),
    "role trusted by any account": ("function_roles", _translated_edit(
        lambda r: r["IngestRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}))),
    "log statement removed": ("log_groups", _drop_statements("JourneyFunction", "logs:")),
    "log group creation allowed": ("log_groups", _add_statement(
        "JourneyFunction", {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${JourneyLogGroup}"}})),
    "log streams of another group too": ("log_groups", _add_statement(
        "EmailFunction", {"Effect": "Allow", "Action": "logs:PutLogEvents",
                          "Resource": _log_streams_of("SmsLogGroup")})),
    "retention removed": ("log_groups", _translated_edit(
        lambda r: r["SmsLogGroup"]["Properties"].pop("RetentionInDays"))),
    "log group named otherwise": ("log_groups", _translated_edit(
        lambda r: r["EmailLogGroup"]["Properties"].update(
            LogGroupName={"Fn::Sub": "/aws/lambda/${AWS::StackName}-mail"}))),
    "logging config removed": ("log_groups", _translated_edit(
        lambda r: r["VendorApiFunction"]["Properties"].pop("LoggingConfig"))),
    "log group removed": ("log_groups", _translated_edit(lambda r: r.pop("UnsubscribeLogGroup"))),
    "queue statement removed": ("queue_access", _drop_statements("PrintBatcherFunction", "sqs:")),
    "another function's queue": ("queue_access", _add_statement(
        "EmailFunction", {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": _queue("SmsQueue")})),
    "queue without an event source": ("queue_access", _add_statement(
        "JourneyFunction", {"Effect": "Allow", "Action": "sqs:GetQueueAttributes", "Resource": _queue("IngestQueue")})),
    "queue action beyond polling": ("queue_access", _add_statement(
        "EmailFunction", {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": _queue("EmailQueue")})),
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
    "journeys kept forever": ("personal_data_expires", _raw_edit(
        lambda r: r["JourneysTable"]["Properties"].pop("TimeToLiveSpecification"))),
    "pitr removed": ("point_in_time_recovery", _raw_edit(
        lambda r: r["PrintTable"]["Properties"].pop("PointInTimeRecoverySpecification"))),
    "bucket access log removed": ("bucket_access_logs_and_retention", _raw_edit(
        lambda r: r["CallListBucket"]["Properties"].pop("LoggingConfiguration"))),
    "bucket lifecycle removed": ("bucket_access_logs_and_retention", _raw_edit(
        lambda r: r["PrintBucket"]["Properties"].pop("LifecycleConfiguration"))),
    "log bucket policy removed": ("bucket_access_logs_and_retention", _raw_edit(
        lambda r: r.pop("AccessLogBucketPolicy"))),
    "api access log removed": ("apis_logged_and_throttled", _raw_edit(
        lambda r: r["VendorApi"]["Properties"].pop("AccessLogSettings"))),
    "api throttling removed": ("apis_logged_and_throttled", _raw_edit(
        lambda r: r["UnsubscribeApi"]["Properties"].pop("DefaultRouteSettings"))),
    "unsubscribe on the implicit api": ("apis_logged_and_throttled", _raw_edit(
        lambda r: r["UnsubscribeFunction"]["Properties"]["Events"]["OneClick"]["Properties"].pop("ApiId"))),
    "unsubscribe concurrency removed": ("apis_logged_and_throttled", _raw_edit(
        lambda r: r["UnsubscribeFunction"]["Properties"].pop("ReservedConcurrentExecutions"))),
    "schedule named the same in every stack": ("names_per_stack", _translated_edit(
        lambda r: next(v for v in r.values() if v["Type"] == "AWS::Scheduler::Schedule")["Properties"].update(
            Name="JourneyFunctionTick"))),
    "identity of an address": ("mail_authenticated", _raw_edit(
        lambda r: r["SenderIdentity"]["Properties"].update(EmailIdentity={"Ref": "SenderEmail"}))),
    "no custom mail from": ("mail_authenticated", _raw_edit(
        lambda r: r["SenderIdentity"]["Properties"].pop("MailFromAttributes"))),
    "dkim off": ("mail_authenticated", _raw_edit(
        lambda r: r["SenderIdentity"]["Properties"]["DkimAttributes"].update(SigningEnabled=False))),
    "skip without its reason": ("checkov_skips_have_reasons", _raw_edit(
        lambda r: r["SmsRole"]["Metadata"]["checkov"]["skip"][0].update(comment="noise"))),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_check_fails_without_its_property(mutation: str) -> None:
    check, mutate = MUTATIONS[mutation]
    raw, translated = copy.deepcopy(RAW), copy.deepcopy(TRANSLATED)
    mutate(raw, translated)
    with pytest.raises(AssertionError):
        CHECKS[check](raw, translated)
