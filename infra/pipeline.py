"""`dispatch run`: input files through the deployed pipeline on a simulated clock, output to a folder."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra.embedded import REGION, embedded_endpoint, use_endpoint
from infra.export import collect_rejected, export_run
from infra.provision import Stack, provision
from infra.replay import Drop, header, records, timed_drops
from infra.runtime import LocalRuntime
from shared.config import DispatchConfig, load_config
from shared.events import CRM_PREFIX, FEED_PREFIX, RESPONSES_PREFIX
from shared.inputs import CustomerRow, FeedRow, InputFileError, ResponseRow, required_columns
from shared.offers import default_offers_path, load_offers


@dataclass(frozen=True)
class RunInputs:
    customers: Path
    feed: Path
    responses: Path | None = None
    config: Path | None = None
    offers: Path | None = None
    start: datetime | None = None
    days: int = 120
    out: Path = Path("out")
    endpoint_url: str | None = None
    seed: int = 0


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


def check_inputs(inputs: RunInputs) -> DispatchConfig:
    """Refuse, before anything starts, a file that is missing or lacks a required column."""
    for path, model in ((inputs.customers, CustomerRow), (inputs.feed, FeedRow), (inputs.responses, ResponseRow)):
        if path is None:
            continue
        if not path.is_file():
            raise InputFileError(str(path), 0, "file not found")
        _, columns = header(path)
        missing = [c for c in required_columns(model) if c not in columns]
        if missing:
            raise InputFileError(str(path), 1, f"missing required column(s): {', '.join(missing)}")
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
    with embedded_endpoint() as embedded:
        use_endpoint(embedded)
        yield embedded


def run(inputs: RunInputs, progress: Any = None) -> RunResult:
    config = check_inputs(inputs)
    tz = ZoneInfo(config.timezone)
    start = inputs.start or default_start(inputs.feed, tz)
    end = start + timedelta(days=inputs.days)
    began = time.perf_counter()
    with endpoint(inputs.endpoint_url):
        stack_name = f"dispatch-{inputs.seed}-{int(time.time() * 1000) % 10**8}"
        # Two due shards locally: the sharded path runs, and an emulated Query (a full table walk) costs half.
        stack = provision(stack_name, REGION, {**schedule_parameters(config), "ConfigVersion": stack_name,
                                               "DueShards": "2"})
        runtime = LocalRuntime(stack, env_overrides={
            "POWERTOOLS_LOG_LEVEL": os.environ.get("DISPATCH_LOG_LEVEL", "WARNING"),
            "CLAIM_LEASE_SECONDS": "0",  # one invocation at a time here: a claim left behind is a crash
        })
        try:
            _upload_settings(stack, inputs)
            line_maps = _replay(runtime, stack, inputs, start, end, progress)
            rejected = collect_rejected(stack, line_maps)
            counts = export_run(stack, inputs.out, end, rejected)
            dlq = runtime.dlq_depths()
        finally:
            runtime.close()
    _write_run_json(inputs, config, start, end)
    return RunResult(inputs.out, start, end, counts, dict(runtime.stats.invocations), runtime.stats.messages,
                     runtime.stats.failed_messages, runtime.errors, dlq, time.perf_counter() - began)


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
    bucket = stack.refs["FeedBucket"]
    runtime.start_clock(start)
    runtime.drop(bucket, f"{CRM_PREFIX}customers.csv", inputs.customers.read_bytes(), start)
    runtime.drain()
    drops: list[tuple[Drop, int]] = [(d, 1) for d in timed_drops(inputs.feed, "connected_at", FEED_PREFIX, start)]
    if inputs.responses is not None:
        drops += [(d, 0) for d in timed_drops(inputs.responses, "at", RESPONSES_PREFIX, start)]
    drops.sort(key=lambda pair: (pair[0].at, pair[1]))  # responses before feed rows at the same instant
    line_maps = {d.key: d.lines for d, _ in drops}
    for drop, _ in drops:
        if drop.at >= end:
            break
        runtime.fire_due(drop.at - timedelta(microseconds=1))
        runtime.drop(bucket, drop.key, drop.body, drop.at)
        runtime.drain()
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


def _write_run_json(inputs: RunInputs, config: DispatchConfig, start: datetime, end: datetime) -> None:
    run_info = {
        "campaign_id": config.campaign_id, "start": start.isoformat(), "end": end.isoformat(), "seed": inputs.seed,
        "inputs": {"customers": str(inputs.customers), "feed": str(inputs.feed),
                   "responses": str(inputs.responses) if inputs.responses else None},
        "config": config.model_dump(mode="json"),
    }
    (inputs.out / "run.json").write_text(json.dumps(run_info, indent=2, ensure_ascii=False), encoding="utf-8")
