"""Keys and shapes of what the tables hold, in one place, so stores, exports and erasure agree."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

NAMESPACE = uuid.UUID("5b0f3c1e-8f0a-4d65-9a53-2f1d7e0c9a11")
DEFAULT_DUE_SHARDS = 8


def due_shards() -> int:
    """Shards of the journeys' due index (template parameter DueShards): spreads the hottest writes."""
    import os

    return max(1, int(os.environ.get("DUE_SHARDS", DEFAULT_DUE_SHARDS)))
PRESSURE_SK = "pressure"
PRINT_BATCH_CLOSED = "~closed"  # the print table's marker that a batch is closed (the cut-off writes it first)
CALLS_PENDING = "pending"  # the calls table's queue of calls waiting for a place on a day's list
CALLS_LISTED = "listed"  # the rows of the last days' lists, keyed day#priority#request (ids only, no names)
SEGMENT_DECISION_SK = "decision#segment"
OFFER_DECISION_SK = "decision#offer"


def utc_key(at: datetime) -> str:
    """A sortable UTC timestamp for sort keys and GSI ranges."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def journey_id(campaign_id: str, household_id: str, generation: int = 1) -> str:
    """The household's journey; a later generation (a new segment's dialogue after the first) has its own id."""
    suffix = f":{generation}" if generation > 1 else ""
    return str(uuid.uuid5(NAMESPACE, f"journey:{campaign_id}:{household_id}{suffix}"))


def contact_sk(journey: str, cycle: int, step: int, attempt: int = 1) -> str:
    return f"contact#{journey}#c{cycle:02d}#s{step:02d}#a{attempt:02d}"


def contact_id(household_id: str, sk: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{household_id}:{sk}"))


def due_shard(household_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, household_id).int % due_shards())


def expires_at(at: datetime, retention_days: int) -> int:
    """TTL epoch seconds: DynamoDB expires the item, the export also honours it where TTL does not run."""
    return int((at + timedelta(days=retention_days)).timestamp())


def decision_sk(at: datetime, salt: str) -> str:
    return f"decision#{utc_key(at)}#{uuid.uuid5(NAMESPACE, salt).hex[:12]}"
