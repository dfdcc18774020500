"""`dispatch run`: input files through the deployed pipeline on a simulated clock, output to a folder."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra.chaos import Chaos, check_invariants, compare
from infra.embedded import REGION, embedded_endpoint, use_endpoint
from infra.export import collect_rejected, export_run, write_replay_record
from infra.lake_export import export_lake, publish_run
from infra.provision import Stack, StackExists, provision
from infra.replay import Drop, drops, header, records, timed_rows, whole_file
from infra.runtime import LocalRuntime
from shared.config import DispatchConfig, load_config
from shared.events import CRM_PREFIX, FEED_PREFIX, RESPONSES_PREFIX
from shared.inputs import CustomerRow, FeedRow, InputFileError, ResponseRow, column_index
from shared.offers import default_offers_path, load_offers


@dataclass(frozen=True)
class RunInputs:
    customers: Path  # the first CRM extract, entering at the start (or at customers_at)
    feed: Path
    responses: Path | None = None
    config: Path | None = None
    offers: Path | None = None
    start: datetime | None = None
    days: int = 120
    out: Path = Path("out")
    endpoint_url: str | None = None
    stack_name: str | None = None  # with endpoint_url: the stack's name there (default DEFAULT_STACK_NAME)
    seed: int = 0
    chaos: float = 0.0  # fault rate (infra.chaos); 0: no faults
    compare: bool = False  # with chaos: the fault-free run too (in OUT/fault-free), compared
    customers_at: datetime | None = None
    later_customers: tuple[tuple[Path, datetime], ...] = ()  # later full extracts, each entering at its time

    def extracts(self, start: datetime) -> list[tuple[Path, datetime]]:
        """Every CRM extract with the instant it enters: the first at the start unless it names its time."""
        first = max(self.customers_at, start) if self.customers_at else start
        return [(self.customers, first), *((path, max(at, start)) for path, at in self.later_customers)]


DEFAULT_STACK_NAME = "channel-dispatch"


@dataclass
class RunResult:
    out: Path
    start: datetime
    end: datetime
    counts: dict[str, int]
    invocations: dict[str, int]
    messages: int
    failed_messages: int
    errors: list[str]
    dlq: dict[str, int]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> list[str]:
        """What a chaos run adds to the run's summary (faults, ambiguous claims, DLQs, the comparison)."""
        return list(self.extra.get("summary", []))

    @property
    def ok(self) -> bool:
        """False when a chaos run broke a rule or (with compare) its contacts differ."""
        return not self.extra.get("problems")


def check_inputs(inputs: RunInputs) -> DispatchConfig:
    """Refuse, before anything starts, a file that is missing, lacks a required column or repeats one.

    The header is judged by the ingest's own rule (shared.inputs.column_index), so a file the CLI lets
    through is one the ingest reads, and the other way round.
    """
    files: list[tuple[Path | None, Any]] = [
        (inputs.customers, CustomerRow), *((p, CustomerRow) for p, _ in inputs.later_customers),
        (inputs.feed, FeedRow), (inputs.responses, ResponseRow)]
    for path, model in files:
        if path is None:
            continue
        if not path.is_file():
            raise InputFileError(str(path), 0, "file not found")
        _, columns = header(path)
        column_index(columns, model, str(path))
    load_offers(inputs.offers)
    return load_config(inputs.config)


def default_start(feed: Path, tz: ZoneInfo) -> datetime:
    """00:00 local on the day of the earliest connected_at in the feed."""
    _, columns = header(feed)
    index = columns.index("connected_at")
    earliest: datetime | None = None
    for _, fields, _ in records(feed):
        try:
            at = datetime.fromisoformat(fields[index].strip().replace("Z", "+00:00"))
        except (ValueError, IndexError):
            continue
        if at.tzinfo is not None and (earliest is None or at < earliest):
            earliest = at
    if earliest is None:
        raise InputFileError(str(feed), 2, "no row with a readable connected_at to start the clock from")
    local = earliest.astimezone(tz)
    return datetime.combine(local.date(), datetime.min.time(), tzinfo=tz)


def schedule_parameters(config: DispatchConfig) -> dict[str, str]:
    """The template's schedule parameters, from marketing operations' config."""
    cut_h, cut_m = config.print.cut_off_at.split(":")
    exp_h, exp_m = config.calls.export_at.split(":")
    return {
        "Timezone": config.timezone,
        "PrintCutOffCron": f"cron({int(cut_m)} {int(cut_h)} ? * MON-FRI *)",
        "CallExportCron": f"cron({int(exp_m)} {int(exp_h)} ? * MON-SAT *)",
    }


@contextmanager
def endpoint(url: str | None) -> Iterator[str]:
    """The embedded moto server, or the given endpoint ('localstack': where localstack-client says)."""
    if url == "localstack":
        from infra.embedded import localstack_endpoint

        url = localstack_endpoint()
    if url:
        use_endpoint(url)
        yield url
        return
    before = os.environ.get("AWS_ENDPOINT_URL")
    with embedded_endpoint() as embedded:
        use_endpoint(embedded)
        try:
            yield embedded
        finally:  # the server is gone after this: nothing in this process may keep talking to it
            if before is None:
                os.environ.pop("AWS_ENDPOINT_URL", None)
            use_endpoint(before)
            _forget_providers()


def run(inputs: RunInputs, progress: Any = None) -> RunResult:
    """One run. With `chaos`: faults injected, the design's rules checked on the output, and with `compare`
    the fault-free run of the same inputs too (in OUT/fault-free), its contacts compared; all in OUT/chaos.json."""
    result = _run_once(inputs, progress)
    if inputs.chaos <= 0:
        return result
    config = load_config(inputs.config)
    broken = check_invariants(result.out, inputs.customers, config, result.dlq,
                              result.extra["claims"].get("claimed", 0))
    lines = [*result.summary, _invariants_line("invariants", broken)]
    lines += [f"  {p}" for p in broken[:20]]
    problems = list(broken)
    record: dict[str, Any] = {**result.extra, "invariants": broken, "dlq": result.dlq,
                              "ambiguous": result.counts["ambiguous"], "seconds": round(result.seconds, 1)}
    record.pop("summary", None)
    if inputs.compare:
        free = _run_once(replace(inputs, chaos=0.0, compare=False, out=inputs.out / "fault-free"), progress)
        free_broken = check_invariants(free.out, inputs.customers, config, free.dlq,
                                       free.extra["claims"].get("claimed", 0))
        comparison = compare(free.out, result.out)
        lines.append(_invariants_line(f"fault-free run ({free.seconds:.1f} s, in {free.out}): invariants",
                                      free_broken))
        lines += [f"  {p}" for p in free_broken[:20]]
        lines += comparison.lines()
        problems += [f"fault-free: {p}" for p in free_broken] + comparison.differences
        record["fault_free"] = {"invariants": free_broken, "dlq": free.dlq, "contacts": free.counts["contacts"],
                                "seconds": round(free.seconds, 1)}
        record["comparison"] = {"same": comparison.same, "total": comparison.total,
                                "ambiguous": comparison.ambiguous, "differences": comparison.differences,
                                "moved": comparison.moved}
        result.extra["fault_free"] = free
    (inputs.out / "chaos.json").write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    result.extra["summary"] = lines
    result.extra["problems"] = problems
    return result


def _invariants_line(what: str, broken: list[str]) -> str:
    return f"{what}: {'all hold' if not broken else f'{len(broken)} broken'}"


def _run_once(inputs: RunInputs, progress: Any = None) -> RunResult:
    config = check_inputs(inputs)
    tz = ZoneInfo(config.timezone)
    start = inputs.start or default_start(inputs.feed, tz)
    end = start + timedelta(days=inputs.days)
    began = time.perf_counter()
    with endpoint(inputs.endpoint_url):
        _forget_providers()
        stack_name = _stack_name(inputs)
        # Two due shards locally: the sharded path runs, and an emulated Query (a full table walk) costs half.
        stack = provision(stack_name, REGION, {**schedule_parameters(config), "ConfigVersion": stack_name,
                                               "DueShards": "2", "ReportCron": report_cron(end, tz)})
        # The claim lease is the functions' own (CLAIM_LEASE_SECONDS, as deployed): the runtime ages a claim
        # by the visibility timeout each time its message goes back to the queue, as AWS would.
        chaos = Chaos(inputs.seed, inputs.chaos) if inputs.chaos > 0 else None
        runtime = LocalRuntime(stack, env_overrides={
            "POWERTOOLS_LOG_LEVEL": os.environ.get("DISPATCH_LOG_LEVEL", "WARNING"),
            # The business metrics (EMF documents on stdout in AWS) are not written locally: the run's report
            # holds the same figures. POWERTOOLS_METRICS_DISABLED=false in the caller's environment shows them.
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        }, chaos=chaos)
        try:
            _upload_settings(stack, inputs)
            publish_run(stack, _run_info(inputs, config, start, end))
            line_maps = _replay(runtime, stack, inputs, start, end, progress)
            write_replay_record(stack.refs["FeedBucket"], end, line_maps)
            rejected = collect_rejected(stack, line_maps)
            counts = export_run(stack, inputs.out, end, rejected)
            counts["lake_rows"] = export_lake(stack, inputs.out)
            dlq = runtime.dlq_depths()
            claims = _claim_statuses(stack)
        finally:
            runtime.close()
    _write_run_json(inputs, config, start, end)
    stats = runtime.stats
    extra: dict[str, Any] = {"claims": claims, "schedule_retries": stats.schedule_retries,
                             "schedule_dropped": stats.schedule_dropped, "crashes": stats.crashes,
                             "claims_aged": stats.claims_aged}
    if chaos is not None:
        report = chaos.report()
        extra["chaos"] = report.as_dict()
        extra["summary"] = [
            *report.lines(),
            f"ambiguous claims: {counts['ambiguous']} (reported, not resent)",
            f"claims left unresolved: {claims.get('claimed', 0)}; aged on redelivery: {stats.claims_aged}",
            "dead-letter queues: " + (", ".join(f"{q} {n}" for q, n in dlq.items() if n) or "all empty"),
            f"scheduled invocations: {stats.schedule_retries} retried, {stats.schedule_dropped} dropped after "
            "every attempt failed",
        ]
    return RunResult(inputs.out, start, end, counts, dict(stats.invocations), stats.messages,
                     stats.failed_messages, runtime.errors, dlq, time.perf_counter() - began, extra)


def _stack_name(inputs: RunInputs) -> str:
    """The name to provision under: on a given endpoint the stack stays for `dispatch explain|erase|dlq|report
    --stack-name` afterwards, so it is named (and refused when taken: a second run into the same tables would
    mix two runs' data); on the embedded endpoint, and for the two runs of `--chaos --compare`, a throwaway name."""
    if inputs.endpoint_url and not inputs.compare:
        name = inputs.stack_name or DEFAULT_STACK_NAME
        if _stack_exists(name):
            raise StackExists(f"stack {name!r} already exists at {os.environ.get('AWS_ENDPOINT_URL')}: choose "
                              "another --stack-name (or restart the endpoint)")
        return name
    return f"dispatch-{inputs.seed}-{int(time.time() * 1000) % 10**8}"


def _stack_exists(name: str) -> bool:
    """A stack provisioned under this name before (its contacts table), or deployed by CloudFormation."""
    from botocore.exceptions import ClientError

    from shared.aws import client

    try:
        client("dynamodb").describe_table(TableName=f"{name}-ContactsTable")
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    try:
        client("cloudformation").describe_stacks(StackName=name)
        return True
    except ClientError:
        return False


def _forget_providers() -> None:
    """Powertools' parameter providers keep the client (and endpoint) of their first use: a second run in
    this process (`--compare`) must not read its secrets from the first run's endpoint, gone by now."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]


def _claim_statuses(stack: Stack) -> dict[str, int]:
    """How many contact claims ended in each status (sent, ambiguous, failed, batched, queued, claimed)."""
    from shared.stores.dynamo import scan_all

    items = scan_all(stack.refs["ContactsTable"], ProjectionExpression="sk, #s",
                     ExpressionAttributeNames={"#s": "status"})
    return dict(Counter(str(i.get("status")) for i in items if str(i.get("sk", "")).startswith("contact#")))


def _upload_settings(stack: Stack, inputs: RunInputs) -> None:
    from shared.aws import client
    from shared.campaign import CONFIG_KEY, OFFERS_KEY, reset_campaign_cache

    s3 = client("s3")
    bucket = stack.refs["FeedBucket"]
    if inputs.config is not None:
        s3.put_object(Bucket=bucket, Key=CONFIG_KEY, Body=inputs.config.read_bytes())
    s3.put_object(Bucket=bucket, Key=OFFERS_KEY, Body=(inputs.offers or default_offers_path()).read_bytes())
    reset_campaign_cache()


def _replay(runtime: LocalRuntime, stack: Stack, inputs: RunInputs, start: datetime, end: datetime,
            progress: Any) -> dict[str, list[int]]:
    """Every input enters at its own time (infra.replay): CRM extracts whole, then responses, then feed rows
    at the same instant; the schedules fire in between on the simulated clock."""
    bucket = stack.refs["FeedBucket"]
    runtime.start_clock(start)
    rows = [whole_file(path, CRM_PREFIX, "customers.csv" if n == 0 else f"customers-{n + 1}.csv", at, 0)
            for n, (path, at) in enumerate(inputs.extracts(start))]
    rows += timed_rows(inputs.feed, "connected_at", FEED_PREFIX, start, 2)
    if inputs.responses is not None:
        rows += timed_rows(inputs.responses, "at", RESPONSES_PREFIX, start, 1)
    line_maps: dict[str, list[int]] = {}
    for drop in drops(rows, runtime.first_firing):
        if drop.at >= end:
            break
        runtime.fire_due(drop.at - timedelta(microseconds=1))
        runtime.drop(bucket, drop.key, drop.body, drop.at)
        runtime.drain()
        line_maps[drop.key] = drop.lines
        if drop.source is not None:
            _refuse_held(bucket, drop)
        if progress:
            progress(drop.at, end)
    step = max(runtime.now, start)
    while step < end:  # the quiet weeks after the last input, a week at a time for the progress line
        step = min(step + timedelta(days=7), end)
        runtime.fire_due(step - timedelta(microseconds=1))
        runtime.drain()
        if progress:
            progress(step, end)
    return line_maps


def _refuse_held(bucket: str, drop: Drop) -> None:
    """A CRM extract the ingest held (it would retire an implausible share of the customers) stops the run."""
    from shared.stores.extracts import held_reason

    reason = held_reason(bucket, drop.key)
    if reason is not None:
        raise InputFileError(str(drop.source), 0, f"CRM extract {reason}")


def _run_info(inputs: RunInputs, config: DispatchConfig, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "campaign_id": config.campaign_id, "start": start.isoformat(), "end": end.isoformat(), "seed": inputs.seed,
        "inputs": {"customers": str(inputs.customers), "feed": str(inputs.feed),
                   "responses": str(inputs.responses) if inputs.responses else None},
        "config": config.model_dump(mode="json"),
    }


def _write_run_json(inputs: RunInputs, config: DispatchConfig, start: datetime, end: datetime) -> None:
    run_info = _run_info(inputs, config, start, end)
    (inputs.out / "run.json").write_text(json.dumps(run_info, indent=2, ensure_ascii=False), encoding="utf-8")


def report_cron(end: datetime, tz: ZoneInfo) -> str:
    """The daily report's schedule on a replay: once, in the run's last minute. Each day's report supersedes the
    one before, and the report function's queries are the costliest scheduled work of a replay (a 120-day run
    would run them 120 times); the stack's last report then covers the whole run."""
    last = (end - timedelta(minutes=1)).astimezone(tz)
    return f"cron({last.minute} {last.hour} {last.day} {last.month} ? {last.year})"
