"""What the print vendor and the call centre collect: print batches and daily call lists.

Two stores with the same face: the deployed stack's S3 buckets (downloads are presigned URLs that
expire within 15 minutes) and a run's output folder (`out/print`, `out/call-lists`). Collection
is acknowledged once; a second acknowledgement returns the first, so a vendor may retry freely.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

DOWNLOAD_EXPIRES_SECONDS = 900
BATCHES_PREFIX = "batches/"
CALL_LISTS_PREFIX = "call-lists/"


class NotFound(LookupError):
    """No batch or call list of that name."""


@dataclass(frozen=True)
class Batch:
    batch_id: str
    kind: str
    pieces: int
    sha256: str
    created_at: str
    acknowledged_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class DeliverableStore(Protocol):
    def batches(self) -> list[Batch]: ...
    def batch_download(self, batch_id: str) -> str: ...
    def acknowledge(self, batch_id: str, at: datetime) -> Batch: ...
    def call_list(self, day: str) -> str: ...


def _batch(manifest: dict[str, Any], ack: dict[str, Any] | None) -> Batch:
    return Batch(str(manifest["batch_id"]), str(manifest["kind"]), int(manifest["pieces"]), str(manifest["sha256"]),
                 str(manifest["created_at"]), str(ack["acknowledged_at"]) if ack else None)


def _check_name(value: str, what: str) -> str:
    if not value or any(c in value for c in "/\\") or value.startswith("."):
        raise NotFound(f"no {what} named {value!r}")
    return value


class S3Deliverables:
    """The deployed stack's buckets."""

    def __init__(self, print_bucket: str, call_list_bucket: str) -> None:
        self.print_bucket = print_bucket
        self.call_list_bucket = call_list_bucket

    def _json(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        from shared.aws import client

        try:
            body = client("s3").get_object(Bucket=self.print_bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return dict(json.loads(body))

    def batches(self) -> list[Batch]:
        from shared.aws import client

        found = []
        pages = client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.print_bucket,
                                                                      Prefix=BATCHES_PREFIX)
        for page in pages:
            for obj in page.get("Contents", []):
                if obj["Key"].endswith(".manifest.json"):
                    manifest = self._json(obj["Key"])
                    if manifest is not None:
                        ack = self._json(obj["Key"].replace(".manifest.json", ".ack.json"))
                        found.append(_batch(manifest, ack))
        return sorted(found, key=lambda b: b.batch_id)

    def _manifest(self, batch_id: str) -> dict[str, Any]:
        manifest = self._json(f"{BATCHES_PREFIX}{_check_name(batch_id, 'batch')}.manifest.json")
        if manifest is None:
            raise NotFound(f"no print batch named {batch_id!r}")
        return manifest

    def batch_download(self, batch_id: str) -> str:
        from shared.aws import client

        self._manifest(batch_id)
        return str(client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": self.print_bucket, "Key": f"{BATCHES_PREFIX}{batch_id}.csv"},
            ExpiresIn=DOWNLOAD_EXPIRES_SECONDS))

    def acknowledge(self, batch_id: str, at: datetime) -> Batch:
        from shared.aws import client

        manifest = self._manifest(batch_id)
        key = f"{BATCHES_PREFIX}{batch_id}.ack.json"
        ack = self._json(key)
        if ack is None:
            ack = {"batch_id": batch_id, "acknowledged_at": at.isoformat()}
            client("s3").put_object(Bucket=self.print_bucket, Key=key, Body=json.dumps(ack).encode("utf-8"),
                                    ContentType="application/json")
        return _batch(manifest, ack)

    def call_list(self, day: str) -> str:
        from botocore.exceptions import ClientError

        from shared.aws import client

        key = f"{CALL_LISTS_PREFIX}{_check_name(day, 'call list')}.csv"
        s3 = client("s3")
        try:
            s3.head_object(Bucket=self.call_list_bucket, Key=key)
        except ClientError as exc:
            raise NotFound(f"no call list for {day}") from exc
        return str(s3.generate_presigned_url("get_object", Params={"Bucket": self.call_list_bucket, "Key": key},
                                             ExpiresIn=DOWNLOAD_EXPIRES_SECONDS))


class FolderDeliverables:
    """A run's output folder: `print/` and `call-lists/` as `dispatch run` wrote them."""

    def __init__(self, out: Path) -> None:
        self.print_dir = out / "print"
        self.call_dir = out / "call-lists"

    def batches(self) -> list[Batch]:
        found = []
        for path in sorted(self.print_dir.glob("*.manifest.json")):
            ack_path = path.with_name(path.name.replace(".manifest.json", ".ack.json"))
            ack = json.loads(ack_path.read_text(encoding="utf-8")) if ack_path.is_file() else None
            found.append(_batch(json.loads(path.read_text(encoding="utf-8")), ack))
        return found

    def _manifest(self, batch_id: str) -> dict[str, Any]:
        path = self.print_dir / f"{_check_name(batch_id, 'batch')}.manifest.json"
        if not path.is_file():
            raise NotFound(f"no print batch named {batch_id!r} in {self.print_dir}")
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def batch_download(self, batch_id: str) -> str:
        self._manifest(batch_id)
        return str((self.print_dir / f"{batch_id}.csv").resolve())

    def acknowledge(self, batch_id: str, at: datetime) -> Batch:
        manifest = self._manifest(batch_id)
        path = self.print_dir / f"{batch_id}.ack.json"
        if not path.is_file():
            path.write_text(json.dumps({"batch_id": batch_id, "acknowledged_at": at.isoformat()}), encoding="utf-8")
        return _batch(manifest, json.loads(path.read_text(encoding="utf-8")))

    def call_list(self, day: str) -> str:
        path = self.call_dir / f"{_check_name(day, 'call list')}.csv"
        if not path.is_file():
            raise NotFound(f"no call list for {day} in {self.call_dir}")
        return str(path.resolve())
