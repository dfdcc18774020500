"""Staging beside production: two stacks of template.yaml in one account and region, deployed into moto's
CloudFormation as tests/integration/test_deploy.py deploys one. Every resource that carries a name carries its
stack's, so nothing collides; the second stack uses the SES domain identity of the first (one per account).
"""

from __future__ import annotations

import json
from typing import Any

from infra.sam_check import translate
from shared.aws import client
from tests.integration.test_deploy import ARTIFACTS, MOTO_SKIPS, without_moto_skips_in_outputs

STACKS = {"dispatch-production": {}, "dispatch-staging": {"SenderIdentityExists": "true"}}


def _physical_ids(cfn: Any, stack_name: str) -> dict[str, str]:
    resources = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    # moto reports no physical id for some (the bus, the layer, permissions): those are checked by listing below
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources if r.get("PhysicalResourceId")}


def _rendered(value: Any, stack_name: str) -> str:
    """A name as CloudFormation renders it: ${AWS::StackName} (and the account) filled in."""
    text = value["Fn::Sub"] if isinstance(value, dict) and "Fn::Sub" in value else value
    return str(text).replace("${AWS::StackName}", stack_name).replace("${AWS::AccountId}", "123456789012")


def test_two_stacks_side_by_side_in_one_account_and_region(aws: None) -> None:
    # Given the code artefacts where the translated template expects them
    s3 = client("s3")
    s3.create_bucket(Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": "eu-central-2"})
    for key in ("code.zip", "layer.zip"):
        s3.put_object(Bucket=ARTIFACTS, Key=key, Body=b"PK\x05\x06" + bytes(18))
    template = without_moto_skips_in_outputs(translate())
    cfn = client("cloudformation")
    # When production and staging are created from the same template
    for stack_name, parameters in STACKS.items():
        cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"],
                         Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    # Then both complete ...
    for stack_name in STACKS:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", (stack_name, stack.get("StackStatusReason"))
    # ... no physical resource of one is the other's
    production, staging = (_physical_ids(cfn, name) for name in STACKS)
    shared = {k: v for k, v in production.items() if staging.get(k) == v}
    assert not shared, f"one resource in both stacks: {shared}"
    # ... each has its own bus, buckets, tables, queues, functions and log groups in the account
    buses = {b["Name"] for b in client("events").list_event_buses()["EventBuses"]} - {"default"}
    assert buses == {f"{name}-bus" for name in STACKS}
    layers = {v["LayerName"] for v in client("lambda").list_layers()["Layers"]}
    assert len(layers) == 2 and all(any(n.startswith(s) for s in STACKS) for n in layers), layers
    tables = client("dynamodb").list_tables()["TableNames"]
    assert {t.split("-", 2)[1] for t in tables} == {"production", "staging"}
    # ... and what moto does not create (schedules, configuration sets, the APIs' log groups) is named per stack too
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in MOTO_SKIPS:
            for key in ("Name", "LogGroupName"):
                if key in resource["Properties"]:
                    names = {_rendered(resource["Properties"][key], s) for s in STACKS}
                    assert len(names) == 2, f"{logical_id}.{key}: {names}"
