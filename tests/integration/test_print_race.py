"""The race between the print cut-off and new pieces: every piece lands in exactly one batch.

Twelve print requests arrive at the very instant of Monday's cut-off, in parallel with it, on a moto
server that serves one request at a time (each request atomic, as DynamoDB's). A piece written
before the batch's closing marker is in today's file; one written after it finds the batch closed
and goes to Tuesday's — never both, never neither.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from typing import Any

from functions.print_batcher.handler import handler as printer
from tests.integration import helpers as h
from tests.integration.test_concurrency import atomic_stack  # noqa: F401 - the fixture

CUT_OFF = h.local(h.MONDAY, 17)
HOUSEHOLDS = [f"H-{i:02d}" for i in range(12)]


def _request(journey: dict[str, Any], start: threading.Barrier, failures: list[str], delay: float) -> None:
    start.wait()
    time.sleep(delay)  # spread the requests over the cut-off's own few requests
    event = h.sqs_event("ContactRequested", h.contact_requested(journey, "print"), CUT_OFF)
    for _ in range(20):
        if not h.invoke(printer, event).get("batchItemFailures"):
            return
    failures.append(journey["household_id"])


def _cut_off(start: threading.Barrier, results: list[Any]) -> None:
    start.wait()
    results.append(h.invoke(printer, h.scheduled("cut-off", CUT_OFF)))


def test_every_piece_lands_in_exactly_one_batch(atomic_stack: Any) -> None:  # noqa: F811
    # Given twelve prospects whose letter is requested right at the cut-off
    journeys = [h.seed(hid, None, target_group="prospect", offer_id="fibre-1g-welcome", due_at=CUT_OFF,
                       household={"house_number": str(i + 1)}) for i, hid in enumerate(HOUSEHOLDS)]
    # When the requests and the cut-off run at the same time
    start, failures, results = threading.Barrier(len(journeys) + 1), [], []  # type: ignore[var-annotated]
    threads = [threading.Thread(target=_request, args=(j, start, failures, i * 0.015))
               for i, j in enumerate(journeys)]
    threads.append(threading.Thread(target=_cut_off, args=(start, results)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures and results
    # Then each piece is either in Monday's file or waiting in Tuesday's open batch, exactly once
    settings = h.cfg()
    keys = h.s3_keys(settings.print_bucket, "batches/")
    today = "batches/2026-06-08-partially-addressed.csv"
    in_file = [row["piece_id"] for row in csv.DictReader(io.StringIO(
        h.s3_get(settings.print_bucket, today).decode("utf-8")))] if today in keys else []
    waiting = [p["piece_id"] for p in h.scan(settings.print_table)
               if p["batch_key"] == "partially_addressed#2026-06-09" and p["piece_id"] != "~closed"]
    claims = [c for hid in HOUSEHOLDS for c in h.claims(hid)]
    assert len(claims) == len(HOUSEHOLDS)
    assert sorted(in_file + waiting) == sorted(c["contact_id"] for c in claims)
    assert not set(in_file) & set(waiting)
    print(f"\n{len(in_file)} pieces in Monday's batch, {len(waiting)} moved to Tuesday's")
    # ... and each contact's time is the cut-off of the batch it is in
    sent = {c["contact_id"]: c for c in claims}
    assert all(sent[p]["status"] == "sent" and sent[p]["at"].startswith("2026-06-08T17:00") for p in in_file)
    assert all(sent[p]["status"] == "batched" and sent[p]["at"].startswith("2026-06-09T17:00") for p in waiting)
