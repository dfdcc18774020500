"""`dispatch bench`: households through to their first contact on the embedded stack, measured.

Prints households per second, AWS requests per household by service and operation (counted with
botocore's event hooks, the functions' own apart from what the runtime does in Lambda's place),
peak memory, each function's cold import time beside a bare `import boto3` in the same
environment, and the streaming validation of a large rollout feed. Figures, not verdicts: the
targets are printed beside them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class RequestCounter:
    """Counts AWS requests, split into the functions' own and the runtime's (Lambda's part)."""

    by_function: Counter[str] = field(default_factory=Counter)
    by_runtime: Counter[str] = field(default_factory=Counter)
    in_handler: threading.local = field(default_factory=threading.local)

    def hook(self, created: Any) -> None:
        service = created.meta.service_model.service_name

        def count(model: Any, **_: Any) -> None:
            target = self.by_function if getattr(self.in_handler, "active", False) else self.by_runtime
            target[f"{service}.{model.name}"] += 1

        created.meta.events.register("before-call", count)


def run_households(households: int, seed: int) -> dict[str, Any]:
    from infra.demo_town import make_town
    from infra.pipeline import RunInputs, run
    from infra.runtime import LocalRuntime
    from shared.aws import add_client_hook, remove_client_hook

    counter = RequestCounter()
    original = LocalRuntime.invoke

    def counted_invoke(runtime: LocalRuntime, spec: Any, event: dict[str, Any]) -> Any:
        counter.in_handler.active = True
        try:
            return original(runtime, spec, event)
        finally:
            counter.in_handler.active = False

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
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


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
                            text=True, check=True, env=env, cwd=Path(__file__).resolve().parent.parent)
    return float(output.stdout.strip())


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
                            cwd=Path(__file__).resolve().parent.parent)
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def table(households: dict[str, Any], imports: dict[str, float], feed: dict[str, float]) -> str:
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
    lines.append(f"peak memory of the run: {households['peak_rss_mb']:.0f} MB")
    bare = imports["boto3 (bare)"]
    lines.append(f"cold import (median of 3), bare import boto3 = {bare * 1000:.0f} ms; "
                 f"target <= {TARGET_IMPORT_RATIO}x")
    for name, seconds in imports.items():
        if name != "boto3 (bare)":
            lines.append(f"  functions.{name:<30} {seconds * 1000:6.0f} ms  {seconds / bare:4.2f}x")
    lines.append(f"feed validation: {feed['rows']:.0f} rows in {feed['seconds']:.1f} s = "
                 f"{feed['rows_per_second']:.0f} rows/s (target >= {TARGET_FEED_ROWS_PER_SECOND}), peak "
                 f"{feed['peak_rss_mb']:.0f} MB (target < {TARGET_FEED_PEAK_MB})")
    return "\n".join(lines)


def bench(households: int, feed_rows: int, seed: int = 11) -> str:
    feed = feed_validation_subprocess(feed_rows)
    imports = cold_imports()
    run = run_households(households, seed)
    return table(run, imports, feed)
