"""`dispatch bench`: households through to their first contact on the embedded stack, measured.

Prints households per second, AWS requests per household by service and operation and by function
(counted with botocore's event hooks, the functions' own apart from what the runtime does in
Lambda's place), peak memory, each function's cold import time beside a bare `import boto3` in the
same environment and, beside it, the first invocation right after that cold import, and the
streaming validation of a large rollout feed. Figures, not verdicts: the targets are printed beside
them. `--write FILE` also writes them into a Markdown page (docs/performance.md) with the
explanations below and a capacity note computed from template.yaml.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_REQUESTS_PER_HOUSEHOLD = 6.0
TARGET_IMPORT_RATIO = 2.0
TARGET_FEED_ROWS_PER_SECOND = 50_000
TARGET_FEED_PEAK_MB = 300
# One step per journey, one cycle: the run ends where "first contact" ends.
FIRST_CONTACT_CONFIG = """\
journeys:
  upgrade:  {steps: [{channel: email, day: 0}], max_cycles: 1}
  switch:   {steps: [{channel: sms, day: 0}], max_cycles: 1}
  prospect: {steps: [{channel: print, day: 0}], max_cycles: 1}
control_group_percent: 0
"""
# The first-invocation run: every channel early (calls included), so each function is reached.
FIRST_INVOCATION_CONFIG = """\
journeys:
  upgrade:  {steps: [{channel: email, day: 0}, {channel: call, day: 1}], max_cycles: 1}
  switch:   {steps: [{channel: sms, day: 0}, {channel: call, day: 1}], max_cycles: 1}
  prospect: {steps: [{channel: print, day: 0}], max_cycles: 1}
control_group_percent: 0
"""


@dataclass
class RequestCounter:
    """Counts AWS requests, split into the functions' own (also per function) and the runtime's (Lambda's part)."""

    by_function: Counter[str] = field(default_factory=Counter)
    by_runtime: Counter[str] = field(default_factory=Counter)
    by_handler: dict[str, Counter[str]] = field(default_factory=dict)  # logical id -> operation -> count
    in_handler: threading.local = field(default_factory=threading.local)

    def hook(self, created: Any) -> None:
        service = created.meta.service_model.service_name

        def count(model: Any, **_: Any) -> None:
            operation = f"{service}.{model.name}"
            function = getattr(self.in_handler, "function", None)
            if function is None:
                self.by_runtime[operation] += 1
                return
            self.by_function[operation] += 1
            self.by_handler.setdefault(function, Counter())[operation] += 1

        created.meta.events.register("before-call", count)


def run_households(households: int, seed: int) -> dict[str, Any]:
    from infra.demo_town import make_town
    from infra.pipeline import RunInputs, run
    from infra.runtime import LocalRuntime
    from shared.aws import add_client_hook, remove_client_hook

    counter = RequestCounter()
    invocations: dict[str, list[tuple[float, int]]] = {}  # logical id -> (seconds, SQS records) per call
    original = LocalRuntime.invoke

    def counted_invoke(runtime: LocalRuntime, spec: Any, event: dict[str, Any]) -> Any:
        counter.in_handler.function = spec.logical_id
        began = time.perf_counter()
        try:
            return original(runtime, spec, event)
        finally:
            counter.in_handler.function = None
            invocations.setdefault(spec.logical_id, []).append(
                (time.perf_counter() - began, len(event.get("Records", []))))

    with tempfile.TemporaryDirectory() as tmp:
        town = make_town(Path(tmp) / "input", households=households, days=30, seed=seed)
        config = Path(tmp) / "config.yaml"
        config.write_text(FIRST_CONTACT_CONFIG, encoding="utf-8")
        add_client_hook(counter.hook)
        LocalRuntime.invoke = counted_invoke  # type: ignore[method-assign,assignment]
        try:
            result = run(RunInputs(customers=town.customers, feed=town.rollout, config=config, days=30,
                                   out=Path(tmp) / "out", seed=seed))
        finally:
            LocalRuntime.invoke = original  # type: ignore[method-assign]
            remove_client_hook(counter.hook)
    return {"households": town.households, "seconds": result.seconds, "contacts": result.counts["contacts"],
            "function_requests": dict(counter.by_function), "runtime_requests": dict(counter.by_runtime),
            "requests_by_function": {f: dict(c) for f, c in counter.by_handler.items()},
            "invocations": {f: _batch_figures(calls) for f, calls in invocations.items()},
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _batch_figures(calls: list[tuple[float, int]]) -> dict[str, float]:
    """Invocations of one function; the mean batch (duration, records) of the warm ones (all but the first)."""
    warm = calls[1:] or calls
    batches = [(seconds, records) for seconds, records in warm if records]
    figures = {"count": float(len(calls)), "warm_seconds": sum(s for s, _ in warm) / len(warm)}
    if batches:
        figures["batch_seconds"] = sum(s for s, _ in batches) / len(batches)
        figures["batch_records"] = sum(r for _, r in batches) / len(batches)
    return figures


FUNCTIONS = ("ingest", "segmenter", "offer_picker", "journey", "email", "sms", "print_batcher",
             "call_list_exporter", "responses", "unsubscribe", "vendor_api")
_IMPORT_PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def cold_imports(repeat: int = 3) -> dict[str, float]:
    """Median seconds to import each handler module in a fresh interpreter, and bare boto3."""
    modules = {"boto3 (bare)": "boto3", **{f: f"functions.{f}.handler" for f in FUNCTIONS}}
    found = {}
    for name, module in modules.items():
        times = sorted(_import_once(module) for _ in range(repeat))
        found[name] = times[len(times) // 2]
    return found


def _import_once(module: str) -> float:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    output = subprocess.run([sys.executable, "-c", _IMPORT_PROBE.format(module=module)], capture_output=True,
                            text=True, check=True, env=env, cwd=ROOT)
    return float(output.stdout.strip())


# --------------------------------------------------------------------------- first invocation after a cold import

_MARKER = "BENCH-FIRST-INVOCATION "
# Runs in a fresh interpreter with the function's environment: the event comes on stdin (read before
# the clock starts, as Lambda's runtime hands it over), the endpoint is the parent's emulator, so
# nothing but the handler's own imports and work is timed. AWS requests are counted, not hidden.
_FIRST_PROBE = """\
import importlib, sys, time
module_name, attribute, function_name, marker = sys.argv[1:5]
raw = sys.stdin.read()
began = time.perf_counter()
module = importlib.import_module(module_name)
imported = time.perf_counter()
import json
from shared.aws import add_client_hook
calls = []
def hook(created):
    service = created.meta.service_model.service_name
    created.meta.events.register("before-call", lambda model, **_: calls.append(service + "." + model.name))
add_client_hook(hook)
from infra.lambda_context import LambdaContext
event = json.loads(raw)
context = LambdaContext(function_name, request_id="bench-first-invocation")
started = time.perf_counter()
try:
    result, error = getattr(module, attribute)(event, context), None
except Exception as exc:
    result, error = None, type(exc).__name__ + ": " + str(exc)
ended = time.perf_counter()
print()
print(marker + json.dumps({"import": imported - began, "invoke": ended - started, "requests": calls,
                           "result": result, "error": error}, default=str))
"""


def _function_name(handler: str) -> str:
    """`functions.email.handler.handler` -> `email`."""
    parts = handler.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "functions" else handler


def first_invocation(handler: str, event: dict[str, Any], function_name: str) -> dict[str, Any]:
    """Import `handler`'s module in a fresh interpreter and invoke it once; seconds of each, its AWS requests.

    The process inherits this one's environment (the stack's variables, the endpoint): start the
    endpoint and provision before calling this, neither is part of what it measures.
    """
    module, attribute = handler.rsplit(".", 1)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", _FIRST_PROBE, module, attribute, function_name, _MARKER],
                          input=json.dumps(event, default=str), capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith(_MARKER)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"first invocation of {handler} failed: {done.stderr.strip()[-2000:]}")
    found: dict[str, Any] = json.loads(lines[-1][len(_MARKER):])
    found["event"] = describe_event(event)
    return found


def describe_event(event: dict[str, Any]) -> str:
    """A few words on what a Lambda event is: an SQS batch of bus events, a scheduled task, an HTTP request."""
    if "Records" in event:
        records = event["Records"]
        kinds: Counter[str] = Counter()
        for record in records:
            try:
                kinds[str(json.loads(record.get("body", "")).get("detail-type", "?"))] += 1
            except (ValueError, AttributeError):
                kinds["?"] += 1
        return f"SQS batch of {len(records)}: " + ", ".join(sorted(kinds))
    if "task" in event:
        return f"scheduled task {event['task']}"
    http = event.get("requestContext", {}).get("http", {})
    if http:
        return f"HTTP {http.get('method', '?')} {http.get('path', '?')}"
    return "event"


def first_invocations(households: int = 20, days: int = 21, seed: int = 11) -> dict[str, dict[str, Any]]:
    """Each function's first invocation in a cold interpreter, during a small run on the embedded stack.

    The run is the real pipeline (`dispatch run` on a small synthetic town): the first event each
    function gets is handed to a fresh interpreter, which imports the handler and invokes it once;
    later invocations run in-process as usual. The HTTP functions, which the runtime does not drive,
    get one realistic request each at the end (a confirmation page for a genuine unsubscribe token,
    the vendor's batch list).
    """
    from infra.demo_town import make_town
    from infra.pipeline import RunInputs, run
    from infra.runtime import LocalRuntime

    found: dict[str, dict[str, Any]] = {}
    original_invoke, original_close = LocalRuntime.invoke, LocalRuntime.close

    def invoke(runtime: LocalRuntime, spec: Any, event: dict[str, Any]) -> Any:
        name = _function_name(spec.handler)
        if name in found:
            return original_invoke(runtime, spec, event)
        runtime.stats.count(spec.logical_id)
        found[name] = measured = first_invocation(spec.handler, event, spec.logical_id)
        if measured["error"]:
            raise RuntimeError(measured["error"])
        return measured["result"]

    with tempfile.TemporaryDirectory() as tmp:
        town = make_town(Path(tmp) / "input", households=households, days=days, seed=seed)
        config = Path(tmp) / "config.yaml"
        config.write_text(FIRST_INVOCATION_CONFIG, encoding="utf-8")

        def close(runtime: LocalRuntime) -> None:
            try:
                for spec in runtime.specs:
                    name = _function_name(spec.handler)
                    if spec.apis and name not in found:
                        found[name] = first_invocation(spec.handler, _http_event(spec, town.customers, config),
                                                       spec.logical_id)
            finally:
                original_close(runtime)

        LocalRuntime.invoke = invoke  # type: ignore[method-assign,assignment]
        LocalRuntime.close = close  # type: ignore[method-assign,assignment]
        try:
            run(RunInputs(customers=town.customers, feed=town.rollout, responses=town.responses, config=config,
                          days=days, out=Path(tmp) / "out", seed=seed))
        finally:
            LocalRuntime.invoke = original_invoke  # type: ignore[method-assign]
            LocalRuntime.close = original_close  # type: ignore[method-assign]
    return found


def first_invocations_subprocess(seed: int = 11) -> dict[str, dict[str, Any]]:
    """first_invocations in a process of its own: its emulator, its clients and its memory stay out of this one."""
    code = ("import json; from infra.bench import first_invocations; found = first_invocations(seed=%d); "
            "[measured.pop('result', None) for measured in found.values()]; "
            "print(); print(%r + json.dumps(found, default=str))")
    done = subprocess.run([sys.executable, "-c", code % (seed, _MARKER)], capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith(_MARKER)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"first invocations failed: {done.stderr.strip()[-2000:]}")
    return dict(json.loads(lines[-1][len(_MARKER):]))


def _http_event(spec: Any, customers: Path, config: Path) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) GET of the function's first GET route without parameters."""
    route = next((r for r in spec.apis if r.method == "GET" and "{" not in r.path), spec.apis[0])
    query = {"token": _unsubscribe_token(customers, config)} if route.path == "/unsubscribe" else {}
    now = datetime.now(UTC)
    raw_query = "&".join(f"{k}={v}" for k, v in query.items())
    return {
        "version": "2.0", "routeKey": f"{route.method} {route.path}", "rawPath": route.path,
        "rawQueryString": raw_query, "queryStringParameters": query or None,
        "headers": {"host": "api.example", "accept-language": "de-CH,de;q=0.9"}, "body": None,
        "isBase64Encoded": False,
        "requestContext": {"http": {"method": route.method, "path": route.path, "sourceIp": "203.0.113.7"},
                           "timeEpoch": int(now.timestamp() * 1000), "stage": "$default",
                           "routeKey": f"{route.method} {route.path}"},
    }


def _unsubscribe_token(customers: Path, config: Path) -> str:
    """A genuine token (the stack's secret) for the first customer with an e-mail address."""
    from shared.aws import client
    from shared.channels.unsubscribe import make_token
    from shared.config import load_config

    with customers.open(encoding="utf-8", newline="") as handle:
        person = next(row for row in csv.DictReader(handle)
                      if row.get("customer_id") and row.get("household_id") and "@" in (row.get("email") or ""))
    secret = client("secretsmanager").get_secret_value(SecretId=os.environ["UNSUBSCRIBE_SECRET_ARN"])["SecretString"]
    return make_token(str(secret).encode("utf-8"), customer_id=person["customer_id"],
                      household_id=person["household_id"], channel="email",
                      campaign_id=load_config(config).campaign_id, issued_at=datetime.now(UTC))


# --------------------------------------------------------------------------- feed validation


def feed_validation(rows: int) -> dict[str, float]:
    """Validate a generated rollout feed of `rows` rows as ingest does, streaming from a file."""
    from shared.inputs import FeedRow, Rejected, open_rows

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rollout.csv"
        _write_feed(path, rows)
        began = time.perf_counter()
        accepted = rejected = 0
        for row in open_rows(path, FeedRow, "feed"):
            if isinstance(row, Rejected):
                rejected += 1
            else:
                accepted += 1
        seconds = time.perf_counter() - began
    return {"rows": rows, "accepted": accepted, "rejected": rejected, "seconds": seconds,
            "rows_per_second": rows / seconds if seconds else 0.0}


def _write_feed(path: Path, rows: int) -> None:
    header = ("household_id,street,house_number,postcode,locality,commune,canton,connected_at,marketable_from,"
              "max_down_mbps,no_ads_sticker\n")
    with path.open("w", encoding="utf-8") as handle:
        handle.write(header)
        for i in range(rows):
            handle.write(f"HH-{i:08d},Bahnhofstrasse,{i % 200 + 1},8400,Winterthur,Winterthur,ZH,"
                         f"2026-03-02T09:{i % 60:02d}:00+01:00,2026-03-16,10000,{'true' if i % 5 == 0 else 'false'}\n")


def feed_validation_subprocess(rows: int) -> dict[str, float]:
    """The feed check in its own process, so its peak memory is its own."""
    code = ("import json, resource; from infra.bench import feed_validation; r = feed_validation(%d); "
            "r['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; print(json.dumps(r))")
    output = subprocess.run([sys.executable, "-c", code % rows], capture_output=True, text=True, check=True,
                            cwd=ROOT)
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- the printed table


def table(households: dict[str, Any], imports: dict[str, float], feed: dict[str, float],
          first: dict[str, dict[str, Any]] | None = None) -> str:
    n = max(households["households"], 1)
    own = sum(households["function_requests"].values())
    lines = [
        f"households {households['households']}, first contacts {households['contacts']}, "
        f"{households['seconds']:.1f} s: {n / households['seconds']:.1f} households/s on the embedded moto server",
        f"AWS requests per household, functions' own: {own / n:.2f} (target <= {TARGET_REQUESTS_PER_HOUSEHOLD})"
        f"; plus the runtime's polling in Lambda's place: {sum(households['runtime_requests'].values()) / n:.2f}",
    ]
    for op, count in sorted(households["function_requests"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {op:<40} {count / n:7.3f}")
    lines += _by_function_lines(households, n)
    lines.append(f"peak memory of the run: {households['peak_rss_mb']:.0f} MB")
    lines += _import_lines(imports, first)
    lines.append(f"feed validation: {feed['rows']:.0f} rows in {feed['seconds']:.1f} s = "
                 f"{feed['rows_per_second']:.0f} rows/s (target >= {TARGET_FEED_ROWS_PER_SECOND}), peak "
                 f"{feed['peak_rss_mb']:.0f} MB (target < {TARGET_FEED_PEAK_MB})")
    return "\n".join(lines)


def _by_function_lines(households: dict[str, Any], n: int) -> list[str]:
    """The functions' own requests again, by the function whose handler made them (its three biggest)."""
    by_function: dict[str, dict[str, int]] = households.get("requests_by_function") or {}
    if not by_function:
        return []
    lines = ["AWS requests per household by function (the handler that made them; its three most frequent):"]
    totals = {name: sum(ops.values()) for name, ops in by_function.items()}
    for name, total in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])):
        top = sorted(by_function[name].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        lines.append(f"  {name:<40} {total / n:7.3f}  " + ", ".join(f"{op} {c / n:.3f}" for op, c in top))
    return lines


def _import_lines(imports: dict[str, float], first: dict[str, dict[str, Any]] | None) -> list[str]:
    bare = imports["boto3 (bare)"]
    lines = [f"cold import (median of 3), bare import boto3 = {bare * 1000:.0f} ms; target <= {TARGET_IMPORT_RATIO}x"]
    if first is not None:
        lines[0] += ("; beside it the first invocation right after the cold import (one fresh process each, "
                     "its AWS requests to the local emulator included)")
    for name, seconds in imports.items():
        if name == "boto3 (bare)":
            continue
        line = f"  functions.{name:<30} {seconds * 1000:6.0f} ms  {seconds / bare:4.2f}x"
        if first is not None:
            line += "  " + _first_text(first.get(name))
        lines.append(line)
    return lines


def _first_text(measured: dict[str, Any] | None) -> str:
    if measured is None:
        return "first invocation: not reached in the run"
    text = (f"first invocation {measured['invoke'] * 1000:6.0f} ms, {len(measured['requests']):2d} AWS requests"
            f" ({measured['event']})")
    if measured.get("error"):
        text += f" FAILED: {measured['error']}"
    return text


# --------------------------------------------------------------------------- docs/performance.md

# Limits of the providers, as AWS documents them (SES quotas; End User Messaging SMS "MPS limits").
SES_SANDBOX_PER_SECOND = 1.0
SES_EXAMPLE_PRODUCTION_PER_SECOND = 14.0
SMS_PARTS_PER_SECOND = {
    "long code, US 10DLC (default)": 1.0,
    "long code, other countries": 10.0,
    "short code, US/CA": 100.0,
}
DYNAMODB_PARTITION_WRITES = 1_000  # write units per second and partition
DYNAMODB_PARTITION_READS = 3_000  # read units per second and partition

_EXPLANATIONS = """\
## What the figures mean

- **Households per second** is wall time of the whole run on the embedded moto server: every AWS
  request goes over HTTP to an emulator in the same process, which answers in milliseconds and
  walks whole tables for a Query. It says how the code scales with the number of households, not
  how fast AWS would be.
- **AWS requests per household, functions' own** counts what the handlers send (botocore's
  `before-call` hook while a handler runs), from the first feed row to the first contact of every
  household (one journey step per target group, one cycle). The target is the issue's 6 per
  household. The runtime's polling (ReceiveMessage, DeleteMessageBatch, the file drops) is what
  Lambda's event source mappings and S3 do in AWS; it is shown apart and not billed to the functions.
  The second table splits the functions' own requests by the function whose handler made them.
- **Cold import** is the median of three fresh interpreters importing each handler module, beside
  a bare `import boto3` in the same environment; the target is at most twice that. Handlers import
  boto3, Powertools' batch utility and the domain lazily, so the import alone would only move the
  cost: the **first invocation** is therefore measured beside it, in a fresh interpreter right
  after the cold import, with the first event the function got in a small run of the real pipeline
  (or, for the HTTP functions, one realistic request). The emulator and the stack are up before that
  process starts, so neither is in the figure; the AWS requests of that first invocation are (to the
  local emulator: on AWS each takes longer, and the first request of each client also pays for TLS).
- **Feed validation** streams a generated rollout feed through `shared.inputs.open_rows` exactly
  as ingest reads a file: every field checked by the pydantic model, every rejection with file,
  line, field and expectation. Peak memory is that process's own (`ru_maxrss`); it stays flat
  because rows are validated one by one and never held.
"""


@dataclass(frozen=True)
class FunctionCapacity:
    """What template.yaml says about one function's scaling."""

    logical_id: str
    memory_mb: int
    timeout_s: int
    reserved: int | None
    queue: str | None = None
    batch_size: int | None = None
    max_concurrency: int | None = None
    max_receive: int | None = None
    visibility_s: int | None = None
    schedules: tuple[str, ...] = ()
    http_routes: int = 0


def function_capacities(template: dict[str, Any]) -> list[FunctionCapacity]:
    """Every function's memory, timeout, reserved concurrency and SQS source (batch size, concurrency cap)."""
    from infra.template import logical_id_of

    defaults = template.get("Globals", {}).get("Function", {})
    resources = template["Resources"]
    found = []
    for logical_id, declared in resources.items():
        if declared.get("Type") != "AWS::Serverless::Function":
            continue
        props = declared.get("Properties", {})
        sqs = [e.get("Properties", {}) for e in props.get("Events", {}).values() if e.get("Type") == "SQS"]
        schedules = tuple(_default(template, e.get("Properties", {}).get("ScheduleExpression", "?"))
                          for e in props.get("Events", {}).values() if e.get("Type") in ("Schedule", "ScheduleV2"))
        routes = sum(1 for e in props.get("Events", {}).values() if e.get("Type") in ("HttpApi", "Api"))
        reserved = props.get("ReservedConcurrentExecutions", defaults.get("ReservedConcurrentExecutions"))
        common: dict[str, Any] = {
            "logical_id": logical_id, "memory_mb": int(props.get("MemorySize", defaults.get("MemorySize", 128))),
            "timeout_s": int(props.get("Timeout", defaults.get("Timeout", 3))),
            "reserved": int(reserved) if isinstance(reserved, int | str) else None,
            "schedules": schedules, "http_routes": routes,
        }
        if sqs:
            source = sqs[0]
            queue = logical_id_of(source["Queue"])
            queue_props = resources.get(queue, {}).get("Properties", {})
            redrive = queue_props.get("RedrivePolicy") or {}
            cap = (source.get("ScalingConfig") or {}).get("MaximumConcurrency")
            cap = _default(template, cap) if cap is not None else None  # a parameter: its default
            common.update(queue=queue, batch_size=int(source.get("BatchSize", 10)),
                          max_concurrency=int(cap) if cap is not None else None,
                          max_receive=int(redrive["maxReceiveCount"]) if "maxReceiveCount" in redrive else None,
                          visibility_s=int(queue_props.get("VisibilityTimeout", 30)))
        found.append(FunctionCapacity(**common))
    return found


def _parameter(template: dict[str, Any], name: str) -> str:
    return str(template.get("Parameters", {}).get(name, {}).get("Default", "?"))


def _share(template: dict[str, Any], rate: str, concurrency: str) -> str:
    try:
        return f"{float(_parameter(template, rate)) / float(_parameter(template, concurrency)):g}"
    except (ValueError, ZeroDivisionError):
        return "?"


def _default(template: dict[str, Any], value: Any) -> str:
    """A property's value; a `!Ref` to a parameter as the parameter's default."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return _parameter(template, str(value["Ref"]))
    return str(value)


def _period_seconds(expression: str) -> int | None:
    """The period of a `rate(...)` schedule; None for a cron expression."""
    units = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
    if expression.startswith("rate(") and expression.endswith(")"):
        amount, _, unit = expression[5:-1].partition(" ")
        if amount.isdigit() and unit in units:
            return int(amount) * units[unit]
    return None


def capacity_note(template: dict[str, Any], households: dict[str, Any] | None = None) -> str:
    """The capacity section of docs/performance.md: Lambda, DynamoDB and the providers, from the template."""
    capacities = function_capacities(template)
    lines = ["## Capacity on AWS (computed from template.yaml)", "",
             "### Lambda: batch sizes and concurrency", "",
             "| function | memory | timeout | trigger | batch size | max concurrency | reserved | "
             "queue visibility timeout |",
             "|---|---|---|---|---|---|---|---|"]
    for f in capacities:
        visibility = f"{f.visibility_s} s ({f.visibility_s / f.timeout_s:.1f}× timeout)" if f.visibility_s else "-"
        lines.append(f"| {f.logical_id} | {f.memory_mb} MB | {f.timeout_s} s | {_trigger(f)} | "
                     f"{f.batch_size if f.batch_size is not None else '-'} | "
                     f"{f.max_concurrency if f.max_concurrency is not None else 'account'} | "
                     f"{f.reserved if f.reserved is not None else '-'} | {visibility} |")
    lines += ["", *_concurrency_lines(capacities), ""]
    lines += _provider_lines(template, capacities, households)
    lines += _dynamodb_lines(template)
    return "\n".join(lines)


def _concurrency_lines(capacities: list[FunctionCapacity]) -> list[str]:
    capped = sum(f.max_concurrency for f in capacities if f.max_concurrency)
    uncapped = [f.logical_id for f in capacities if f.queue and f.max_concurrency is None]
    lines = [f"- The capped event sources together hold at most {capped} concurrent executions."]
    if uncapped:
        lines.append(f"- {', '.join(uncapped)} scale with their queues, bounded only by the account's unreserved "
                     "concurrency (a default quota of 1,000 per Region, shared with everything else in the account).")
    reserved = [f"{f.logical_id} {f.reserved}" for f in capacities if f.reserved is not None]
    lines.append("- Reserved concurrency: " + (", ".join(reserved) if reserved else "none (no function sets "
                                               "ReservedConcurrentExecutions)."))
    for f in capacities:
        for expression in f.schedules:
            period = _period_seconds(expression)
            if period is not None:
                overlap = "cannot overlap" if f.timeout_s < period else "may overlap"
                lines.append(f"- {f.logical_id} fires every {period} s with a timeout of {f.timeout_s} s: its runs "
                             f"{overlap}.")
    slow = [f.logical_id for f in capacities if f.visibility_s is not None and f.visibility_s < 6 * f.timeout_s]
    lines.append(f"- Visibility timeout below 6× the function's timeout: {', '.join(slow)}." if slow else
                 "- Queue visibility timeouts are at least 6× the function's timeout, as AWS advises for SQS event "
                 "sources.")
    return lines


def _trigger(f: FunctionCapacity) -> str:
    triggers = [f"SQS {f.queue}"] if f.queue else []
    triggers += [f"schedule {expression}" for expression in f.schedules]
    triggers += [f"HTTP API ({f.http_routes} routes)"] if f.http_routes else []
    return "; ".join(triggers) or "-"


def _provider_lines(template: dict[str, Any], capacities: list[FunctionCapacity],
                    households: dict[str, Any] | None) -> list[str]:
    """SES and SMS: the most the event source's cap lets through, against the providers' limits."""
    by_id = {f.logical_id: f for f in capacities}
    invocations: dict[str, dict[str, float]] = (households or {}).get("invocations") or {}
    lines = ["### Providers: SES and SMS", "",
             "A channel function sends its batch one message after another, so its throughput is at most "
             "*max concurrency × batch size / duration of a batch*. A full batch is estimated as batch size × the "
             "time per message measured in this run (warm invocations on the emulator, the batch's own overhead "
             "included); on AWS each request takes longer than on the emulator, so the real rate is likely lower. "
             "The last column does not depend on the measurement: it is the batch duration at which the cap alone "
             "would keep within the limit.", "",
             "| function | channel | max concurrency × batch size | time per message (here) | "
             "rate bound | provider limit | batch duration needed to stay within it |",
             "|---|---|---|---|---|---|---|"]
    limits = {"EmailFunction": ("email", {"SES sandbox": SES_SANDBOX_PER_SECOND,
                                          "SES production (example)": SES_EXAMPLE_PRODUCTION_PER_SECOND}),
              "SmsFunction": ("sms", SMS_PARTS_PER_SECOND)}
    for logical_id, (channel, provider) in limits.items():
        f = by_id.get(logical_id)
        if f is None or f.batch_size is None:
            continue
        in_flight = (f.max_concurrency or 1000) * f.batch_size
        figures = invocations.get(logical_id, {})
        per_message = (figures["batch_seconds"] / figures["batch_records"]
                       if figures.get("batch_records") else None)
        rate = (f.max_concurrency or 1000) / per_message if per_message else None
        for label, limit in provider.items():
            lines.append(
                f"| {logical_id} | {channel} | {f.max_concurrency or 'account'} × {f.batch_size} = {in_flight} | "
                f"{f'{per_message * 1000:.0f} ms' if per_message else 'not measured'} | "
                f"{f'{rate:.0f}/s' if rate else '-'} | {label}: {limit:g}/s | "
                f">= {in_flight / limit:.1f} s ({in_flight / limit / f.batch_size:.2f} s a message) |")
    email, sms = by_id.get("EmailFunction"), by_id.get("SmsFunction")
    lines += ["",
              "- **SES**: a new account is in the sandbox (1 email/s, 200 a day, verified recipients only); out "
              "of it the sending rate is set per account and Region and raised on request. Read the real one "
              "with `aws sesv2 get-account` (`SendQuota.MaxSendRate`); 14/s above is only an example. "
              "The rate counts recipients: each contact is one.",
              "- **SMS** (SNS, or End User Messaging behind the same port) is limited in message parts per "
              "second per origination number: a long message, or one with characters outside GSM 03.38 "
              "(UCS-2: 70 characters a part), counts as several parts.",
              "- **What the caps and the pacing do**: MaximumConcurrency (parameters `EmailMaxConcurrency` = "
              f"{email.max_concurrency if email else '?'}, `SmsMaxConcurrency` = "
              f"{sms.max_concurrency if sms else '?'}) "
              "bounds the messages in flight; the rate is kept by the functions themselves "
              "(`shared/channels/pacing.py`): each running copy sends at most the account's rate divided by "
              "the same concurrency parameter, so all copies together stay within it — email at "
              f"`SesMaxSendRate` = {_parameter(template, 'SesMaxSendRate')}/s "
              f"({_share(template, 'SesMaxSendRate', 'EmailMaxConcurrency')}/s a copy), SMS at `SmsMaxSendRate` = "
              f"{_parameter(template, 'SmsMaxSendRate')} parts/s "
              f"({_share(template, 'SmsMaxSendRate', 'SmsMaxConcurrency')}/s a copy). Set the two rates to the "
              "account's real quotas at deploy time (the sandbox: `SesMaxSendRate=1 EmailMaxConcurrency=2`, a "
              "full batch then takes 20 s of the 60 s timeout). What still gets throttled (another sender in the "
              "account) is retried by botocore's standard mode (shared/aws.py), then the record goes back to its "
              f"queue, to the dead-letter queue after maxReceiveCount ({email.max_receive if email else '?'} for "
              f"email, {sms.max_receive if sms else '?'} for SMS) receipts.", ""]
    return lines


def _dynamodb_lines(template: dict[str, Any]) -> list[str]:
    due, budget = _parameter(template, "DueShards"), _parameter(template, "BudgetShards")
    lines = ["### DynamoDB: keys without hot partitions", "",
             "| table | partition key | sort key | indexes (partition key / sort key) |", "|---|---|---|---|"]
    for logical_id, declared in template["Resources"].items():
        if declared.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = declared.get("Properties", {})
        keys = {k["KeyType"]: k["AttributeName"] for k in props.get("KeySchema", [])}
        indexes = ", ".join(
            f"{i['IndexName']} ({' / '.join(k['AttributeName'] for k in i['KeySchema'])})"
            for i in props.get("GlobalSecondaryIndexes", []))
        lines.append(f"| {logical_id} | {keys.get('HASH', '?')} | {keys.get('RANGE', '-')} | {indexes or '-'} |")

    def spread(shards: str, units: int) -> str:
        return f"{int(shards) * units:,}" if shards.isdigit() else "?"

    lines += ["",
              f"A DynamoDB partition serves up to {DYNAMODB_PARTITION_WRITES:,} writes and "
              f"{DYNAMODB_PARTITION_READS:,} reads (units) a second; on-demand tables split hot partitions, but "
              "not a single hot key. The keys are chosen so no key is hot:",
              "- tables keyed by `household_id` (households, customers, journeys, contacts) spread with the "
              "number of households; a key is only as busy as one household's own contacts;",
              f"- the journeys' **due index** is partitioned by `due_shard`, one of `DueShards` = {due} values "
              f"(template default): a rollout's wave of new journeys writes the index at up to "
              f"{spread(due, DYNAMODB_PARTITION_WRITES)} items/s before one shard is hot, and each tick reads "
              "every shard's due range;",
              f"- the monthly **budget** is held on `BudgetShards` = {budget} items per month, a contact reserving "
              f"from one of them: up to {spread(budget, DYNAMODB_PARTITION_WRITES)} reservations/s in a month "
              "instead of one hot counter;",
              "- print pieces are keyed by their batch, call requests by their queue: both written at the pace of "
              "their channel, far below a partition's limit.", ""]
    return lines


def document(text: str, households: dict[str, Any] | None = None, template: dict[str, Any] | None = None,
             command: str = "dispatch bench", when: datetime | None = None) -> str:
    """docs/performance.md: the printed figures, what they mean, and the capacity note from the template."""
    from infra.template import load_template

    template = template if template is not None else load_template()
    day = (when or datetime.now(UTC)).date().isoformat()
    head = ["# Performance: measured", "",
            f"Generated by `{command}` on {day} (or `make perf`); do not edit by hand: the text lives in "
            "`infra/bench.py`. One run on this machine "
            f"({os.cpu_count()} cores, Python {platform.python_version()}, other work possibly in parallel) "
            "on the embedded moto server.", "", "```", text, "```", ""]
    return "\n".join(head) + "\n" + _EXPLANATIONS + "\n" + capacity_note(template, households) + "\n"


def bench(households: int, feed_rows: int, seed: int = 11, write: Path | None = None) -> str:
    feed = feed_validation_subprocess(feed_rows)
    imports = cold_imports()
    first = first_invocations_subprocess(seed)
    run = run_households(households, seed)
    text = table(run, imports, feed, first)
    if write is not None:
        command = f"dispatch bench --households {households} --feed-rows {feed_rows} --write {write}"
        write.parent.mkdir(parents=True, exist_ok=True)
        from infra.report_bench import kept_section

        kept = kept_section(write)  # the report bench's section, measured apart, stays
        write.write_text(document(text, run, command=command) + ("\n" + kept if kept else ""), encoding="utf-8")
    return text
