"""Provisioning: create on an AWS endpoint (moto, LocalStack) what `template.yaml` declares.

The bus, tables, buckets, secret, queues with their dead-letter redrive, and every rule with its
targets, resolved from the template's own intrinsics. Functions are not created: the local
runtime plays Lambda's part and invokes their handlers in-process.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from infra.template import load_template

ACCOUNT_ID = "123456789012"


class StackExists(Exception):
    """A stack of that name is on the endpoint already (`dispatch run --endpoint-url` refuses to mix two runs)."""


@dataclass
class Stack:
    name: str
    region: str
    parameters: dict[str, str]
    template: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    max_receive: dict[str, int] = field(default_factory=dict)
    dlq_of: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """Evaluate Ref, GetAtt, Sub and Join against what has been created."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._ref(str(arg))
            if key == "Fn::GetAtt":
                return self.attrs[(arg[0], arg[1])]
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                parts = arg[1] if isinstance(arg[1], list) else self.resolve(arg[1])  # a list, or a !Split of one
                return str(arg[0]).join(str(self.resolve(v)) for v in parts)
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(str(arg[0]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(arg[0])]
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        pseudo = {"AWS::StackName": self.name, "AWS::AccountId": ACCOUNT_ID, "AWS::Region": self.region,
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise KeyError(f"template: !Ref {name} names nothing created yet")

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):  # ${!Literal}: the text ${Literal}
                return "${" + token[1:] + "}"
            if token in extra:
                return str(self.resolve(extra[token]))
            if "." in token:
                logical, attribute = token.split(".", 1)
                return self.attrs[(logical, attribute)]
            return self._ref(token)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def environment(self, variables: dict[str, Any]) -> dict[str, str]:
        return {k: str(self.resolve(v)) for k, v in variables.items()}


def default_parameters(template: dict[str, Any]) -> dict[str, str]:
    return {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}


# A stack provisioned here runs on a simulated clock, far faster than real time: pacing the providers
# in wall time would only slow it down (shared/channels/pacing.py is tested on its own clock).
LOCAL_PARAMETERS = {"SesMaxSendRate": "0", "SmsMaxSendRate": "0"}


def provision(stack_name: str, region: str, overrides: dict[str, str] | None = None,
              template: dict[str, Any] | None = None) -> Stack:
    template = template or load_template()
    declared = default_parameters(template)
    local = {k: v for k, v in LOCAL_PARAMETERS.items() if k in declared}
    stack = Stack(stack_name, region, {**declared, **local, **(overrides or {})}, template)
    resources = template["Resources"]
    creators = {
        "AWS::Events::EventBus": _bus, "AWS::DynamoDB::Table": _table, "AWS::S3::Bucket": _bucket,
        "AWS::SecretsManager::Secret": _secret, "AWS::SQS::Queue": _queue, "AWS::Events::Rule": _rule,
        "AWS::SES::EmailIdentity": _email_identity, "AWS::SES::ConfigurationSet": _configuration_set,
        "AWS::SNS::Topic": _topic, "AWS::SNS::Subscription": _subscription,
        "AWS::Glue::Database": _glue_database, "AWS::Glue::Table": _glue_table,
        "AWS::KinesisFirehose::DeliveryStream": _delivery_stream, "AWS::Athena::WorkGroup": _workgroup,
    }
    order = ["AWS::Events::EventBus", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret",
             "AWS::SES::EmailIdentity", "AWS::SES::ConfigurationSet", "AWS::SNS::Topic", "AWS::SQS::Queue",
             "AWS::SNS::Subscription", "AWS::Events::Rule", "AWS::Glue::Database", "AWS::Glue::Table",
             "AWS::KinesisFirehose::DeliveryStream", "AWS::Athena::WorkGroup"]
    for logical_id, resource in resources.items():  # roles are not created here; what names them is known
        if resource.get("Type") == "AWS::IAM::Role":
            stack.attrs[(logical_id, "Arn")] = f"arn:aws:iam::{ACCOUNT_ID}:role/{stack.name}-{logical_id}"
    for kind in order:
        pending = [(lid, r) for lid, r in resources.items() if r.get("Type") == kind]
        for _ in range(len(pending) + 1):  # queues may reference their DLQ: create in dependency order
            waiting = []
            for logical_id, resource in pending:
                try:
                    creators[kind](stack, logical_id, resource.get("Properties", {}))
                except KeyError:
                    waiting.append((logical_id, resource))
            if not waiting:
                break
            pending = waiting
        else:
            raise RuntimeError(f"template: cannot resolve references of {[lid for lid, _ in pending]}")
    return stack


def _client(service: str) -> Any:
    from shared.aws import client

    return client(service)


def _bus(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = stack.resolve(props.get("Name", f"{stack.name}-{logical_id}"))
    arn = _client("events").create_event_bus(Name=name)["EventBusArn"]
    stack.refs[logical_id] = name
    stack.attrs[(logical_id, "Name")] = name
    stack.attrs[(logical_id, "Arn")] = arn


def _table(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = f"{stack.name}-{logical_id}"
    args: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    ddb = _client("dynamodb")
    description = ddb.create_table(**args)["TableDescription"]
    arn = description["TableArn"]
    if description.get("LatestStreamArn"):
        stack.attrs[(logical_id, "StreamArn")] = description["LatestStreamArn"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    stack.refs[logical_id] = name
    stack.attrs[(logical_id, "Arn")] = arn


def _bucket(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = str(stack.resolve(props.get("BucketName", f"{stack.name}-{logical_id}".lower())))
    s3 = _client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": stack.region})
    if "BucketEncryption" in props:
        rules = [{"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                 for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    # EventBridge notifications are not switched on here: the runtime announces each drop itself, stamped
    # with the simulated clock (an emulator would stamp its wall clock on them).
    stack.refs[logical_id] = name
    stack.attrs[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"


def _secret(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    import secrets

    length = int(props.get("GenerateSecretString", {}).get("PasswordLength", 32))
    arn = _client("secretsmanager").create_secret(
        Name=f"{stack.name}-{logical_id}", SecretString=secrets.token_urlsafe(length))["ARN"]
    stack.refs[logical_id] = arn


def _email_identity(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    identity = str(stack.resolve(props["EmailIdentity"]))
    _client("sesv2").create_email_identity(EmailIdentity=identity)
    stack.refs[logical_id] = identity


def _configuration_set(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    # Its event destination (bounces and complaints to EventBridge) is not emulated: the tests deliver AWS's
    # documented event shapes to the default bus, where the stack's MailFeedbackRule takes them.
    name = str(stack.resolve(props.get("Name", f"{stack.name}-{logical_id}")))
    _client("sesv2").create_configuration_set(ConfigurationSetName=name)
    stack.refs[logical_id] = name


def _topic(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    arn = _client("sns").create_topic(Name=f"{stack.name}-{logical_id}")["TopicArn"]
    stack.refs[logical_id] = arn
    stack.attrs[(logical_id, "TopicArn")] = arn


def _subscription(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    arn = _client("sns").subscribe(TopicArn=stack.resolve(props["TopicArn"]), Protocol=props["Protocol"],
                                   Endpoint=stack.resolve(props["Endpoint"]), ReturnSubscriptionArn=True)
    stack.refs[logical_id] = arn["SubscriptionArn"]


def _queue(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    attributes: dict[str, str] = {}
    if "VisibilityTimeout" in props:
        attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
    if "MessageRetentionPeriod" in props:
        attributes["MessageRetentionPeriod"] = str(props["MessageRetentionPeriod"])
    redrive = props.get("RedrivePolicy")
    if redrive:
        target = stack.resolve(redrive["deadLetterTargetArn"])  # KeyError until the DLQ exists
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": target,
                                                  "maxReceiveCount": int(redrive["maxReceiveCount"])})
        stack.max_receive[logical_id] = int(redrive["maxReceiveCount"])
        stack.dlq_of[logical_id] = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    sqs = _client("sqs")
    url = sqs.create_queue(QueueName=f"{stack.name}-{logical_id}", Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.refs[logical_id] = url
    stack.queue_urls[logical_id] = url
    stack.attrs[(logical_id, "Arn")] = arn
    stack.attrs[(logical_id, "QueueName")] = f"{stack.name}-{logical_id}"


def _rule(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    bus = stack.resolve(props["EventBusName"]) if "EventBusName" in props else "default"
    pattern = stack.resolve(props["EventPattern"])
    events = _client("events")
    name = f"{stack.name}-{logical_id}"[:64]
    arn = events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")["RuleArn"]
    targets = [{"Id": t["Id"], "Arn": stack.resolve(t["Arn"])} for t in props.get("Targets", [])]
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    stack.refs[logical_id] = name
    stack.attrs[(logical_id, "Arn")] = arn


def _glue_database(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    database = stack.resolve(props["DatabaseInput"])
    _client("glue").create_database(DatabaseInput=database)
    stack.refs[logical_id] = database["Name"]


def _glue_table(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    table = stack.resolve(props["TableInput"])
    _client("glue").create_table(DatabaseName=stack.resolve(props["DatabaseName"]), TableInput=table)
    stack.refs[logical_id] = table["Name"]


def _delivery_stream(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    """The stream with its S3 destination. The emulator writes each batch to S3 as it came (JSON lines, under the
    prefix as written): the conversion to Parquet is left to whoever reads it locally (shared.report)."""
    name = str(stack.resolve(props.get("DeliveryStreamName", f"{stack.name}-{logical_id}")))
    destination = props["ExtendedS3DestinationConfiguration"]
    config = {"RoleARN": stack.resolve(destination["RoleARN"]), "BucketARN": stack.resolve(destination["BucketARN"]),
              "Prefix": str(destination.get("Prefix", "")).split("!{", 1)[0],
              "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}}
    arn = _client("firehose").create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=config)["DeliveryStreamARN"]
    stack.refs[logical_id] = name
    stack.attrs[(logical_id, "Arn")] = arn


def _workgroup(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = str(stack.resolve(props["Name"]))
    configuration = stack.resolve(props.get("WorkGroupConfiguration", {}))
    _client("athena").create_work_group(Name=name, Configuration={
        "ResultConfiguration": {"OutputLocation": configuration["ResultConfiguration"]["OutputLocation"]}})
    stack.refs[logical_id] = name
