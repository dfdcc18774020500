"""The Outbox against moto: a batch's writes in transactions of up to 100 and its events by ten, with
the outcome per record — conflicts dropped, invalid records found alone, lost events redelivered."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.aws import add_client_hook, client, remove_client_hook
from shared.batching import TRANSACT_MAX, Outbox
from shared.bus import Outgoing
from shared.events import JourneyStarted
from shared.stores.dynamo import to_item
from tests.integration import helpers as h

NOW = datetime(2026, 6, 1, 8, tzinfo=UTC)


@pytest.fixture
def requests() -> Any:
    counted: Counter[str] = Counter()

    def hook(created: Any) -> None:
        service = created.meta.service_model.service_name
        created.meta.events.register("before-call", lambda model, **_: counted.update([f"{service}.{model.name}"]))

    add_client_hook(hook)
    yield counted
    remove_client_hook(hook)


def _put(table: str, household_id: str, conditional: bool = False, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"TableName": table, "Item": to_item({"household_id": household_id, **extra})}
    if conditional:
        body["ConditionExpression"] = "attribute_not_exists(household_id)"
    return body


def _started(household_id: str) -> Outgoing:
    return Outgoing(JourneyStarted(correlation_id=household_id, household_id=household_id,
                                   journey_id=f"j-{household_id}", target_group="upgrade", offer_id="o",
                                   first_due_at=NOW), NOW)


def _record(outbox: Outbox, table: str, household_id: str, conditional: bool = False, **extra: Any) -> None:
    outbox.begin(household_id)
    outbox.write(f"t#{household_id}", "Put", _put(table, household_id, conditional, **extra))
    outbox.publish([_started(household_id)])


def test_a_large_batch_goes_out_in_few_requests(stack, requests: Counter[str]) -> None:
    table = h.cfg().households_table
    outbox = Outbox(h.cfg().event_bus_name)
    for i in range(150):
        _record(outbox, table, f"H-{i:03d}")
    tap = h.BusTap(stack)
    result = outbox.flush()
    assert (result.failed, result.conflicted, result.published) == (set(), set(), 150)
    assert requests["dynamodb.TransactWriteItems"] == 2  # 100 + 50
    assert requests["events.PutEvents"] == 15
    assert len(h.scan(table)) == 150
    assert len(tap.events("JourneyStarted")) == 150


def test_a_failed_condition_drops_only_that_records_events(stack) -> None:
    table = h.cfg().journeys_table
    h.put(table, {"household_id": "H-2", "status": "live"})
    outbox = Outbox(h.cfg().event_bus_name)
    for household_id in ("H-1", "H-2", "H-3"):
        _record(outbox, table, household_id, conditional=True, status="new")
    tap = h.BusTap(stack)
    result = outbox.flush()
    assert result.conflicted == {"H-2"} and result.failed == set()
    assert {e["detail"]["household_id"] for e in tap.events("JourneyStarted")} == {"H-1", "H-3"}
    assert h.get(table, {"household_id": "H-2"})["status"] == "live"  # untouched
    assert h.get(table, {"household_id": "H-1"})["status"] == "new"


def test_the_same_item_twice_goes_into_two_transactions_in_order(stack, requests: Counter[str]) -> None:
    table = h.cfg().households_table
    outbox = Outbox(h.cfg().event_bus_name)
    _record(outbox, table, "H-1", version=1)
    outbox.begin("second delivery")
    outbox.write("t#H-1", "Put", _put(table, "H-1", version=2))
    result = outbox.flush()
    assert result.failed == set()
    assert requests["dynamodb.TransactWriteItems"] == 2
    assert h.get(table, {"household_id": "H-1"})["version"] == 2


def test_an_invalid_record_is_found_alone_and_the_others_are_written(stack) -> None:
    table = h.cfg().households_table
    outbox = Outbox(h.cfg().event_bus_name)
    _record(outbox, table, "H-1")
    outbox.begin("bad")
    outbox.write("t#bad", "Put", {"TableName": table, "Item": {"not_the_key": {"S": "x"}}})  # no key: invalid
    _record(outbox, table, "H-3")
    result = outbox.flush()
    assert result.failed == {"bad"}
    assert {i["household_id"] for i in h.scan(table)} == {"H-1", "H-3"}


def test_an_event_the_bus_keeps_refusing_fails_its_record_for_redelivery(stack, monkeypatch) -> None:
    table = h.cfg().households_table
    events = client("events")
    real = events.put_events

    def refuse_h2(Entries: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        kept = [e for e in Entries if '"H-2"' not in e["Detail"]]
        response = real(Entries=kept, **kwargs) if kept else {"Entries": []}
        answers = iter(response["Entries"])
        return {"FailedEntryCount": len(Entries) - len(kept),
                "Entries": [{"ErrorCode": "InternalFailure"} if '"H-2"' in e["Detail"] else next(answers)
                            for e in Entries]}

    monkeypatch.setattr(events, "put_events", refuse_h2)
    outbox = Outbox(h.cfg().event_bus_name)
    for household_id in ("H-1", "H-2", "H-3"):
        _record(outbox, table, household_id)
    result = outbox.flush()
    assert result.failed == {"H-2"} and result.published == 2
    assert len(h.scan(table)) == 3  # the writes stay: idempotent, done again on redelivery


def test_a_record_that_failed_before_its_end_sends_nothing(stack) -> None:
    table = h.cfg().households_table
    outbox = Outbox(h.cfg().event_bus_name)
    _record(outbox, table, "H-1")
    _record(outbox, table, "H-2")
    outbox.discard("H-2")
    assert outbox.flush().published == 1
    assert [i["household_id"] for i in h.scan(table)] == ["H-1"]


def test_transactions_never_exceed_the_limit() -> None:
    from shared.batching import _chunks, _Record

    records = [_Record(f"r{i}", writes=[(f"k{i}#{j}", ("Put", {})) for j in range(7)]) for i in range(40)]
    chunks = _chunks(records)
    assert all(sum(len(r.writes) for r in c) <= TRANSACT_MAX for c in chunks)
    assert [r.record_id for c in chunks for r in c] == [r.record_id for r in records]
    assert len(chunks) == 3  # 14 records of 7 parts = 98 per transaction
