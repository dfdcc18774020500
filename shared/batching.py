"""One invocation's writes and events, sent together: TransactWriteItems by up to 100, PutEvents by 10.

A record of an SQS batch (or a journey of a tick) does not write and publish on its own; it hands
its effects to the invocation's `Outbox`, which sends them after the batch: its writes first, then
its events. The outcome is per record, so nothing is lost and nothing is done twice:

- a record whose writes or events did not go through is returned as a batch item failure and
  delivered again (every write here is idempotent or conditional);
- a record whose *conditional* write failed has nothing more to do (the journey exists, another
  tick moved the step): its events are dropped and the record counts as done;
- a record that makes a whole transaction invalid (an item too large, a bad value) is found by
  sending each record of that transaction on its own, so it cannot block the others.

DynamoDB refuses two operations on one item in a transaction, so the same household twice in one
batch (a duplicate delivery) goes into two transactions, in delivery order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from shared.bus import Outgoing

TRANSACT_MAX = 100
MAX_TRANSACT_ROUNDS = 6
Part = tuple[str, dict[str, Any]]


@dataclass
class _Record:
    record_id: str
    writes: list[tuple[str, Part]] = field(default_factory=list)  # (item key, part)
    events: list[Outgoing] = field(default_factory=list)
    conflicted: bool = False
    failed: bool = False


@dataclass
class FlushResult:
    failed: set[str]  # to deliver again
    conflicted: set[str]  # a condition failed: nothing more to do
    published: int


class Outbox:
    """Collects effects per record; `flush` sends them and says which records need delivering again."""

    def __init__(self, bus_name: str | None = None) -> None:
        self.bus_name = bus_name  # None: the function's own bus (settings), read when there is an event
        self._records: dict[str, _Record] = {}
        self._current: str = ""
        self.memo: dict[Any, Any] = {}  # what was read ahead for the whole batch

    # --- collecting --------------------------------------------------------------------------------------
    def begin(self, record_id: str) -> None:
        """Effects from now on belong to this record."""
        self._current = record_id
        self._records.setdefault(record_id, _Record(record_id))

    def discard(self, record_id: str) -> None:
        """The record failed before its end: none of its effects may be sent."""
        self._records.pop(record_id, None)

    def write(self, item_key: str, operation: str, body: dict[str, Any]) -> None:
        """A Put/Update/Delete/ConditionCheck of one item (named by `item_key`, unique per table and key)."""
        self._record().writes.append((item_key, (operation, body)))

    def publish(self, events: Sequence[Outgoing]) -> None:  # the Publisher protocol
        """Events of the current record; one over EventBridge's 256 KB fails the record now (EventTooLarge)."""
        from shared.limits import check_event_entry

        for event in events:
            check_event_entry(event.entry(self.bus_name or ""))
        self._record().events.extend(events)

    def _record(self) -> _Record:
        if not self._current:
            raise RuntimeError("Outbox.begin(record_id) must come before writes and events")
        return self._records[self._current]

    # --- sending ----------------------------------------------------------------------------------------
    def flush(self) -> FlushResult:
        records = list(self._records.values())
        self._records.clear()
        self._current = ""
        for chunk in _chunks([r for r in records if r.writes]):
            _transact_chunk(chunk)
        published = self._publish([r for r in records if not (r.failed or r.conflicted)])
        return FlushResult(failed={r.record_id for r in records if r.failed},
                           conflicted={r.record_id for r in records if r.conflicted}, published=published)

    def _publish(self, records: list[_Record]) -> int:
        from shared.bus import put_entries

        events = [(r, e) for r in records for e in r.events]
        if not events:
            return 0
        if self.bus_name is None:
            from shared.settings import settings

            self.bus_name = settings().event_bus_name
        failed = put_entries([e.entry(self.bus_name) for _, e in events])
        for index in failed:
            events[index][0].failed = True  # delivered again: its writes are idempotent, its events go then
        return len(events) - len(failed)


def _chunks(records: list[_Record]) -> list[list[_Record]]:
    """Records packed into transactions of at most 100 parts, no item twice in one transaction."""
    chunks: list[list[_Record]] = []
    current: list[_Record] = []
    size = 0
    keys: set[str] = set()
    for record in records:
        own = {key for key, _ in record.writes}
        if current and (size + len(record.writes) > TRANSACT_MAX or own & keys):
            chunks.append(current)
            current, size, keys = [], 0, set()
        current.append(record)
        size += len(record.writes)
        keys |= own
    if current:
        chunks.append(current)
    return chunks


def _transact_chunk(chunk: list[_Record]) -> None:
    from botocore.exceptions import ClientError

    from shared.stores.ledger import TransactionCancelled, transact

    pending = list(chunk)
    for _ in range(MAX_TRANSACT_ROUNDS):
        if not pending:
            return
        parts = [part for r in pending for _, part in r.writes]
        owners = [r for r in pending for _ in r.writes]
        try:
            transact(parts)
            return
        except TransactionCancelled as exc:
            lost = {id(owners[i]) for i, reason in enumerate(exc.reasons) if reason == "ConditionalCheckFailed"}
            for record in pending:
                record.conflicted = record.conflicted or id(record) in lost
            pending = [r for r in pending if not r.conflicted]  # the rest: a race (TransactionConflict) - again
        except ClientError:
            if len(pending) == 1:
                pending[0].failed = True
                return
            for record in pending:  # one record makes the whole request invalid: find it alone
                _transact_chunk([record])
            return
    for record in pending:
        record.failed = True


_outbox: ContextVar[Outbox | None] = ContextVar("outbox", default=None)


def current_outbox() -> Outbox | None:
    """The outbox of the SQS batch being handled in this thread, if any."""
    return _outbox.get()


@contextmanager
def using_outbox(outbox: Outbox) -> Iterator[Outbox]:
    token = _outbox.set(outbox)
    try:
        yield outbox
    finally:
        _outbox.reset(token)


def batch_outbox() -> Outbox:
    """The outbox of the SQS batch being handled (the handler sends it after the batch)."""
    found = _outbox.get()
    if found is None:
        raise RuntimeError("no SQS batch is being handled in this thread (see shared.handler.lambda_handler)")
    return found


def chunks[T](items: Iterable[T], count: int, max_bytes: int, size: Callable[[T], int]) -> Iterator[list[T]]:
    """`items` in order, in lists of at most `count` and `max_bytes` (an item larger than that goes alone): the
    limits of a batch call (Firehose PutRecordBatch, SQS SendMessageBatch)."""
    chunk: list[T] = []
    used = 0
    for item in items:
        length = size(item)
        if chunk and (len(chunk) == count or used + length > max_bytes):
            yield chunk
            chunk, used = [], 0
        chunk.append(item)
        used += length
    if chunk:
        yield chunk
