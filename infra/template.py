"""Reading `template.yaml`: the SAM template with its short-form intrinsics, and what it declares.

The local runtime learns every queue, rule, table, bucket, function, event source and schedule
from here; nothing about the wiring is written a second time in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_TAGS = {
    "!Ref": "Ref", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!Join": "Fn::Join", "!If": "Fn::If",
    "!Select": "Fn::Select", "!Split": "Fn::Split", "!Equals": "Fn::Equals", "!Not": "Fn::Not",
    "!And": "Fn::And", "!Or": "Fn::Or", "!FindInMap": "Fn::FindInMap", "!GetAZs": "Fn::GetAZs",
    "!ImportValue": "Fn::ImportValue", "!Base64": "Fn::Base64", "!Condition": "Condition",
}


class _Loader(yaml.SafeLoader):
    pass


def _intrinsic(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _tag, _name in _TAGS.items():
    _Loader.add_constructor(_tag, _intrinsic(_name))


def default_template_path() -> Path:
    return Path(__file__).resolve().parent.parent / "template.yaml"


def load_template(path: Path | None = None) -> dict[str, Any]:
    path = path or default_template_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: template not found")
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError(f"{path}: not a CloudFormation/SAM template (no Resources)")
    return data


@dataclass(frozen=True)
class QueueSource:
    queue: str  # logical id
    batch_size: int
    report_failures: bool


@dataclass(frozen=True)
class StreamSource:
    """A DynamoDB stream event source: the table, the batch size, its filters (event patterns, any may match),
    the retries of a failed batch and the queue that then receives a record of it (its OnFailure destination)."""

    table: str  # logical id
    batch_size: int
    filters: tuple[str, ...]
    max_retries: int
    on_failure: str | None  # logical id of an SQS queue


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: Any
    timezone: Any
    input: dict[str, Any]


@dataclass(frozen=True)
class ApiRoute:
    name: str
    method: str
    path: str


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    environment: dict[str, Any]
    queues: tuple[QueueSource, ...] = ()
    schedules: tuple[Schedule, ...] = field(default_factory=tuple)
    apis: tuple[ApiRoute, ...] = ()  # HTTP routes: served by API Gateway in AWS, not by the local runtime
    streams: tuple[StreamSource, ...] = ()


def functions(template: dict[str, Any]) -> list[FunctionSpec]:
    """Every AWS::Serverless::Function with its event sources, in template order."""
    import json

    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    specs = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        env = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
        queues, schedules, apis, streams = [], [], [], []
        for name, source in props.get("Events", {}).items():
            kind, sp = source.get("Type"), source.get("Properties", {})
            if kind == "SQS":
                queues.append(QueueSource(logical_id_of(sp["Queue"]), int(sp.get("BatchSize", 10)),
                                          "ReportBatchItemFailures" in sp.get("FunctionResponseTypes", [])))
            elif kind in ("ScheduleV2", "Schedule"):
                schedules.append(Schedule(name, sp["ScheduleExpression"], sp.get("ScheduleExpressionTimezone", "UTC"),
                                          json.loads(sp.get("Input", "{}"))))
            elif kind == "DynamoDB":
                failure = (sp.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
                streams.append(StreamSource(
                    logical_id_of(sp["Stream"]), int(sp.get("BatchSize", 100)),
                    tuple(str(f["Pattern"]) for f in (sp.get("FilterCriteria") or {}).get("Filters", [])),
                    int(sp.get("MaximumRetryAttempts", -1)), logical_id_of(failure) if failure else None))
            elif kind in ("HttpApi", "Api"):
                apis.append(ApiRoute(name, str(sp.get("Method", "ANY")).upper(), str(sp.get("Path", "/"))))
            else:
                raise ValueError(f"{logical_id}: event source type {kind} is not supported by the local runtime")
        specs.append(FunctionSpec(logical_id, props["Handler"], env, tuple(queues), tuple(schedules), tuple(apis),
                                  tuple(streams)))
    return specs


def logical_id_of(reference: Any) -> str:
    """The logical id a `!Ref` or `!GetAtt` names."""
    if isinstance(reference, dict) and "Fn::GetAtt" in reference:
        return str(reference["Fn::GetAtt"][0])
    if isinstance(reference, dict) and "Ref" in reference:
        return str(reference["Ref"])
    raise ValueError(f"cannot tell which resource {reference!r} names")
