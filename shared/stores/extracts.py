"""What became of each CRM extract dropped in the feed bucket: held (with why) or applied, as small JSON objects.

- `held/<key>.json`: the extract under `<key>` would have retired too many customers and was not applied.
  An operator releases it by copying the same file to `crm/release/<name>` (under `crm/`, so the drop is
  ingested again), which is applied without the guard; the held record then names the release.
- `applied/<key>.json`: the plan an extract is being (or was) applied with. Written before the first change,
  so a crash half-way is finished with the same plan on redelivery; `done` once everything went out, so a
  duplicate delivery (or a later rewrite of the same file, such as an erasure's) applies nothing again.
"""

from __future__ import annotations

import json
from typing import Any

from shared.aws import client, read_object
from shared.events import CRM_PREFIX

HELD_PREFIX = "held/"
APPLIED_PREFIX = "applied/"
RELEASE_PREFIX = f"{CRM_PREFIX}release/"


def is_release(key: str) -> bool:
    return key.startswith(RELEASE_PREFIX)


def original_key(key: str) -> str:
    """The drop a release stands for: `crm/release/a.csv` releases `crm/a.csv`."""
    return CRM_PREFIX + key.removeprefix(RELEASE_PREFIX) if is_release(key) else key


def release_key(key: str) -> str:
    return RELEASE_PREFIX + key.removeprefix(CRM_PREFIX)


def _read(bucket: str, key: str) -> dict[str, Any] | None:
    body = read_object(bucket, key)
    return dict(json.loads(body)) if body is not None else None


def _write(bucket: str, key: str, record: dict[str, Any]) -> None:
    client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(record, indent=1).encode("utf-8"),
                            ContentType="application/json")


def write_held(bucket: str, key: str, record: dict[str, Any]) -> None:
    _write(bucket, f"{HELD_PREFIX}{key}.json", record)


def held_record(bucket: str, key: str) -> dict[str, Any] | None:
    return _read(bucket, f"{HELD_PREFIX}{original_key(key)}.json")


def held_reason(bucket: str, key: str) -> str | None:
    """Why the CRM extract dropped under `key` was held and not applied, in one line; None when it was not
    held or has been released since."""
    record = held_record(bucket, key)
    if not record or record.get("released_by"):
        return None
    return (f"{record['key']}: held, not applied: would retire {record['share_retired']:.1f} % of "
            f"{record['customers_before']} customers (more than crm.max_retire_percent {record['threshold']:g} %); "
            f"release it by copying it to {record['release_key']}")


def mark_released(bucket: str, key: str, at: str) -> None:
    """The held record of the extract a release (`crm/release/...`) stands for now names the release."""
    record = held_record(bucket, key)
    if record and not record.get("released_by"):
        _write(bucket, f"{HELD_PREFIX}{original_key(key)}.json", record | {"released_by": key, "released_at": at})


def applied_plan(bucket: str, key: str) -> dict[str, Any] | None:
    return _read(bucket, f"{APPLIED_PREFIX}{key}.json")


def write_applied(bucket: str, key: str, record: dict[str, Any]) -> None:
    _write(bucket, f"{APPLIED_PREFIX}{key}.json", record)


LATEST_KEY = f"{APPLIED_PREFIX}crm-latest.json"


def latest_applied(bucket: str) -> dict[str, Any] | None:
    """The newest extract applied so far (`key`, `at`: the time of its drop)."""
    return _read(bucket, LATEST_KEY)


def write_latest(bucket: str, key: str, at: str) -> None:
    _write(bucket, LATEST_KEY, {"key": key, "at": at})
