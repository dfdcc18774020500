"""The SAM template, translated offline as `sam deploy` would, deploys into CloudFormation (moto's)."""

from __future__ import annotations

import json
from typing import Any

from infra.sam_check import translate
from shared.aws import client


def test_the_translated_template_reaches_create_complete(aws: None) -> None:
    # Given the code artefact where the translated template expects it (sam package uploads it)
    s3 = client("s3")
    s3.create_bucket(Bucket="channel-dispatch-artifacts",
                     CreateBucketConfiguration={"LocationConstraint": "eu-central-2"})
    s3.put_object(Bucket="channel-dispatch-artifacts", Key="code.zip", Body=b"PK\x05\x06" + bytes(18))
    template: dict[str, Any] = translate()
    # When the stack is created
    cfn = client("cloudformation")
    cfn.create_stack(StackName="channel-dispatch", TemplateBody=json.dumps(template),
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    # Then it completes, with every table, queue and function of the template
    stack = cfn.describe_stacks(StackName="channel-dispatch")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    created = {r["LogicalResourceId"]: r["ResourceType"] for r in
               cfn.list_stack_resources(StackName="channel-dispatch")["StackResourceSummaries"]}
    for kind in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Lambda::Function", "AWS::Events::Rule"):
        declared = {k for k, v in template["Resources"].items() if v["Type"] == kind}
        assert declared and declared <= {k for k, v in created.items() if v == kind}, kind
    tables = client("dynamodb").list_tables()["TableNames"]
    assert len([t for t in tables if t.startswith("channel-dispatch")]) == len(
        [v for v in template["Resources"].values() if v["Type"] == "AWS::DynamoDB::Table"])
