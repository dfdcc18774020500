"""The README's "Deploy to AWS" steps, run as far as moto allows: the SAM template, translated offline as
CloudFormation's SAM transform does, deploys into moto's CloudFormation with the README's stack name,
capabilities and parameter overrides, and the README's config uploads land where the functions read them.

What moto cannot stand in for: `sam build` (the test uploads a placeholder code zip where the translated
template points); the resource types in MOTO_SKIPS, which its CloudFormation leaves out; and IAM
enforcement (moto creates the roles but does not evaluate them: tests/unit/test_template_security.py
checks what they allow).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from infra.sam_check import translate
from shared.aws import client

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = "channel-dispatch-artifacts"  # where infra.sam_check.translate points CodeUri
# Resource types moto's CloudFormation (5.2) does not create: it logs "No Moto CloudFormation support" and
# completes the stack without them. Kept exact, so that a new type, or moto learning one, shows up here.
MOTO_SKIPS = {
    "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "AWS::CloudWatch::Alarm", "AWS::S3::BucketPolicy",
    "AWS::SES::EmailIdentity", "AWS::SQS::QueuePolicy", "AWS::Scheduler::Schedule", "AWS::SecretsManager::Secret",
    "AWS::Lambda::EventInvokeConfig", "AWS::SES::ConfigurationSet", "AWS::SES::ConfigurationSetEventDestination",
    "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription", "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Athena::WorkGroup", "AWS::Glue::Database", "AWS::Glue::Table",
}
SCHEDULE = re.compile(r"^(cron\(\S+( \S+){5}\)|rate\(\d+ \w+\))$")


def without_moto_skips_in_outputs(template: dict[str, Any]) -> dict[str, Any]:
    """The template less the outputs that read an attribute of a resource moto's CloudFormation does not create
    (the SES identity's DKIM tokens): moto refuses the whole stack over them."""
    skipped = {k for k, v in template["Resources"].items() if v["Type"] in MOTO_SKIPS}
    outputs = {k: v for k, v in template.get("Outputs", {}).items()
               if not any(f"${{{r}." in json.dumps(v) or f'"{r}"' in json.dumps(v) for r in skipped)}
    return {**template, "Outputs": outputs}


def _deploy_steps() -> list[list[str]]:
    """The commands of the README's "Deploy to AWS" block, split as a POSIX shell splits them."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("\n## Deploy to AWS\n", 1)[1]
    block = section.split("\n## ", 1)[0].split("```sh\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def _options(argv: list[str]) -> dict[str, list[str]]:
    """`--option value...` of a command line."""
    options: dict[str, list[str]] = {}
    values: list[str] = []
    for arg in argv:
        if arg.startswith("--"):
            values = options.setdefault(arg, [])
        else:
            values.append(arg)
    return options


def _parameter_overrides(values: list[str]) -> dict[str, str]:
    """As the SAM CLI reads --parameter-overrides: within each argument, Key=Value pairs are separated by
    spaces, and a value with spaces must be quoted inside the argument (Key="a b"); the quotes are dropped."""
    pair = re.compile(r"""\s([A-Za-z0-9]+)=("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|(?:\\.|[^ "\\])+)""")
    overrides: dict[str, str] = {}
    for value in values:
        text = " " + value.strip()
        pairs = pair.findall(text)
        assert pairs and "".join(f" {k}={v}" for k, v in pairs) == re.sub(r"\s+", " ", text), (
            f"--parameter-overrides {value!r}: not Key=Value pairs as the SAM CLI reads them")
        for key, raw in pairs:
            overrides[key] = raw[1:-1] if raw[:1] in "\"'" and raw[:1] == raw[-1:] else raw
    return overrides


def test_the_readme_deploy_steps_reach_create_complete(aws: None) -> None:
    steps = _deploy_steps()
    assert [s[:2] for s in steps[:2]] == [["sam", "build"], ["sam", "deploy"]], steps
    deploy = _options(steps[1][2:])
    assert "--guided" not in deploy, "a guided deploy asks instead of taking the options below"
    (stack_name,) = deploy["--stack-name"]
    capabilities = deploy["--capabilities"]
    overrides = _parameter_overrides(deploy["--parameter-overrides"])
    template: dict[str, Any] = without_moto_skips_in_outputs(translate())
    assert set(overrides) <= set(template["Parameters"]), f"overrides of no parameter: {overrides}"
    for name in ("PrintCutOffCron", "CallExportCron", "JourneyTickRate"):
        value = overrides.get(name, template["Parameters"][name]["Default"])
        assert SCHEDULE.match(value), f"{name}={value!r} is not a schedule expression"

    # Given the code artefact where the translated template expects it (sam build and its upload)
    s3 = client("s3")
    s3.create_bucket(Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": "eu-central-2"})
    s3.put_object(Bucket=ARTIFACTS, Key="code.zip", Body=b"PK\x05\x06" + bytes(18))
    # When the stack is created with the README's stack name, capabilities and overrides
    cfn = client("cloudformation")
    cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(template), Capabilities=capabilities,
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in overrides.items()])

    # Then it completes, with every resource of the template that moto's CloudFormation creates
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    created = {r["LogicalResourceId"]: r for r in
               cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]}
    for kind in {v["Type"] for v in template["Resources"].values()}:
        declared = {k for k, v in template["Resources"].items() if v["Type"] == kind}
        listed = {k for k, v in created.items() if v["ResourceType"] == kind}
        assert listed == (set() if kind in MOTO_SKIPS else declared), kind
    tables = client("dynamodb").list_tables()["TableNames"]
    assert len([t for t in tables if t.startswith(stack_name)]) == len(
        [v for v in template["Resources"].values() if v["Type"] == "AWS::DynamoDB::Table"])
    _check_functions(template, created, stack_name, overrides)
    _check_schedules(template, stack, overrides)

    # And the README's uploads put the campaign's config where the functions read it
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    _copy_config(steps[2:], outputs)


def _check_functions(template: dict[str, Any], created: dict[str, Any], stack_name: str,
                     overrides: dict[str, str]) -> None:
    """Each function runs as its own role, logs to its own group (kept for a while), sees the overrides."""
    lam, logs, iam = client("lambda"), client("logs"), client("iam")
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]}
    functions = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::Function"}
    for logical_id, resource in functions.items():
        props = resource["Properties"]
        name = created[logical_id]["PhysicalResourceId"]
        assert name == props["FunctionName"]["Fn::Sub"].replace("${AWS::StackName}", stack_name), name
        config = lam.get_function(FunctionName=name)["Configuration"]
        role = created[props["Role"]["Fn::GetAtt"][0]]["PhysicalResourceId"]
        assert config["Role"] == iam.get_role(RoleName=role)["Role"]["Arn"], logical_id
        assert not iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"], role
        assert iam.list_role_policies(RoleName=role)["PolicyNames"], role
        group = groups[f"/aws/lambda/{name}"]
        assert group.get("retentionInDays") == int(template["Parameters"]["LogRetentionInDays"]["Default"]), group
        environment = config["Environment"]["Variables"]
        assert environment["SENDER_EMAIL"] == overrides.get("SenderEmail", environment["SENDER_EMAIL"])
        assert environment["UNSUBSCRIBE_BASE_URL"] == overrides.get("UnsubscribeBaseUrl",
                                                                    environment["UNSUBSCRIBE_BASE_URL"])


def _check_schedules(template: dict[str, Any], stack: dict[str, Any], overrides: dict[str, str]) -> None:
    """moto creates no schedules: the stack's parameters are what CloudFormation would put into them."""
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Scheduler::Schedule":
            parameter = resource["Properties"]["ScheduleExpression"]["Ref"]
            expected = overrides.get(parameter, template["Parameters"][parameter]["Default"])
            assert parameters[parameter] == expected, logical_id


def _copy_config(commands: list[list[str]], outputs: dict[str, str]) -> None:
    from shared.campaign import CONFIG_KEY, OFFERS_KEY
    from shared.config import parse_config
    from shared.offers import parse_offers

    s3 = client("s3")
    copied = {}
    for command in commands:
        assert command[:3] == ["aws", "s3", "cp"] and len(command) == 5, command
        source, target = REPO / command[3], command[4]
        match = re.fullmatch(r"s3://<FeedBucketName>/(.+)", target)
        assert match, f"{target}: not s3://<FeedBucketName>/key (the bucket the functions read)"
        bucket, key = outputs["FeedBucketName"], match.group(1)
        s3.put_object(Bucket=bucket, Key=key, Body=source.read_bytes())
        copied[key] = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    assert set(copied) == {CONFIG_KEY, OFFERS_KEY}, copied.keys()
    parse_config(copied[CONFIG_KEY], CONFIG_KEY)
    assert parse_offers(copied[OFFERS_KEY], OFFERS_KEY)
