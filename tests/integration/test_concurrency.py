"""At most once and caps exact under concurrency: 20 parallel consumers of one household's steps on a
single-threaded moto server (each request atomic, as DynamoDB's), and redelivered records of every channel."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from functions.email.handler import handler as email
from functions.print_batcher.handler import handler as printer
from functions.sms.handler import handler as sms
from infra.embedded import REGION
from shared.stores.records import utc_key
from tests.integration import helpers as h

NOW = h.local(h.MONDAY, 10)  # inside the SMS window
THREADS = 20
STEPS = ("email", "sms", "email", "sms", "email")
_CAP = "{max: 9, days: 30}"
_STEPS_YAML = ", ".join(f"{{channel: {c}, day: 0}}" for c in STEPS)
CONFIG = f"""\
caps:
  per_channel: {{email: {_CAP}, sms: {_CAP}, print: {_CAP}, call: {_CAP}}}
  all_channels: {{max: 3, days: 30}}
journeys:
  upgrade: {{steps: [{_STEPS_YAML}], repeat_every_days: 75, max_cycles: 1}}
"""


@pytest.fixture
def atomic_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The stack on a moto server that serves one request at a time, so a transaction is atomic."""
    import logging

    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from infra.embedded import use_endpoint
    from infra.provision import provision
    from infra.template import functions
    from shared.aws import reset_clients
    from shared.campaign import reset_campaign_cache

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for key in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")  # remembered by monkeypatch, restored after the test
    use_endpoint(f"http://127.0.0.1:{server.server_port}", REGION)
    stack = provision("atomic", REGION, {"ConfigVersion": f"atomic-{id(server)}", "DueShards": "2"})
    for spec in functions(stack.template):
        for key, value in stack.environment(spec.environment).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("CLAIM_LEASE_SECONDS", "900")  # parallel invocations: a fresh claim is in flight
    reset_campaign_cache()
    _forget_powertools_clients()
    try:
        yield stack
    finally:
        server.shutdown()
        thread.join()
        reset_clients()
        reset_campaign_cache()
        _forget_powertools_clients()


def _forget_powertools_clients() -> None:
    """Powertools caches its Secrets Manager client process-wide: drop it with the endpoint it points at."""
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    DEFAULT_PROVIDERS.clear()


def _deliver_until_done(journey: dict[str, Any], step: int, tally: Counter[str]) -> None:
    """One consumer's message for `step`: redelivered (as SQS would) until the handler reports no failure."""
    channel = STEPS[step - 1]
    event = h.sqs_event("ContactRequested", h.contact_requested(journey, channel, step=step), NOW)
    for _ in range(50):
        result = h.invoke(email if channel == "email" else sms, event)
        if not result.get("batchItemFailures"):
            tally["handled"] += 1
            return
        tally["redelivered"] += 1
        time.sleep(0.02)
    tally["lost"] += 1


def _consumer(journey: dict[str, Any], start: threading.Barrier, done: threading.Event,
              tally: Counter[str]) -> None:
    start.wait()
    for _ in range(10):
        for step in range(1, len(STEPS) + 1):
            _deliver_until_done(journey, step, tally)
        current = h.journey("H-1")
        if current is not None and current["step"] >= 4 and current["due_at"] > utc_key(NOW):
            done.set()
        if done.is_set():
            return


def test_twenty_parallel_consumers_make_exactly_the_capped_three_contacts(atomic_stack) -> None:
    # Given a household whose five steps are all due now, and a cap of 3 contacts in 30 days
    h.upload_config(CONFIG)
    journey = h.seed("H-1", "C-1", target_group="upgrade", offer_id="fibre-1g-upgrade", due_at=NOW)
    # When 20 consumers deliver the same and different steps at once, redelivering what failed
    tally: Counter[str] = Counter()
    start, done = threading.Barrier(THREADS), threading.Event()
    workers = [threading.Thread(target=_consumer, args=(journey, start, done, tally)) for _ in range(THREADS)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    print(f"\n{THREADS} consumers: {dict(tally)} in {time.perf_counter() - began:.1f} s")
    # Then exactly three contacts exist, all sent, steps 1-3, and the pressure item holds exactly them
    claims = h.claims("H-1")
    assert sorted(c["step"] for c in claims) == [1, 2, 3]
    assert {c["status"] for c in claims} == {"sent"}
    [pressure] = h.contacts("H-1", "pressure")
    assert len(pressure["history"]) == 3
    # ... step 4 waits, deferred by the cap until the first contact leaves the 30-day window
    current = h.journey("H-1")
    assert (current["step"], current["due_at"]) == (4, utc_key(NOW + timedelta(days=30)))
    deferred = [d for d in h.decisions("H-1") if d["decision"] == "deferred"]
    assert deferred and all("cap" in d["reason"] for d in deferred)
    # ... and no message was lost: every delivery ended handled, some after a redelivery
    assert tally["lost"] == 0 and not any(w.is_alive() for w in workers)


@pytest.mark.parametrize("channel", ["sms", "print"])
def test_the_same_sqs_record_delivered_twice_makes_one_contact(stack, channel: str) -> None:
    # Given a switch customer's step (sms) or an upgrade customer's letter (print) requested once
    group, offer, step = ("switch", "fibre-1g-switch-combo", 1) if channel == "sms" else \
        ("upgrade", "fibre-1g-upgrade", 2)
    journey = h.seed("H-1", "C-1", target_group=group, offer_id=offer, due_at=NOW, step=step,
                     household={"max_down_mbps": 1000},
                     customer={"has_internet": channel == "print", "internet_down_mbps": 100 if channel == "print"
                               else None})
    event = h.sqs_event("ContactRequested", h.contact_requested(journey, channel), NOW, message_id="m-1")
    handler = sms if channel == "sms" else printer
    # When the same record arrives twice (visibility timeout passed, a crash after the send, ...)
    h.no_failures(h.invoke(handler, event))
    h.no_failures(h.invoke(handler, event))
    # Then one claim, one SMS or one piece, and the journey moved once
    assert len(h.claims("H-1")) == 1
    if channel == "sms":
        assert len(h.sms_sent()) == 1
    else:
        assert len(h.scan(h.cfg().print_table)) == 1
    assert h.journey("H-1")["step"] == step + 1
