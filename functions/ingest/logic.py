"""Ingest: a rollout feed or CRM extract dropped in S3 becomes households and customers in DynamoDB.

Rows are validated as they stream in; good rows go on (feed rows announce `HouseholdConnected`),
bad rows are listed with their line and reason in `rejected/<drop>.csv` beside the drop.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.aws import client
from shared.bus import Outgoing, Publisher
from shared.events import CRM_PREFIX, FEED_PREFIX, REJECTED_PREFIX, HouseholdConnected
from shared.inputs import CustomerRow, FeedRow, Rejected, read_rows
from shared.settings import Settings
from shared.stores.dynamo import batch_put

CHUNK = 500


@dataclass(frozen=True)
class IngestResult:
    key: str
    accepted: int
    rejected: int


def ingest_drop(s: Settings, bucket: str, key: str, now: datetime, publisher: Publisher) -> IngestResult:
    if key.startswith(FEED_PREFIX):
        return _ingest(s, bucket, key, FeedRow, "feed", lambda rows: _feed_chunk(s, rows, now, publisher))
    if key.startswith(CRM_PREFIX):
        return _ingest(s, bucket, key, CustomerRow, "customers", lambda rows: _customer_chunk(s, rows))
    raise ValueError(f"s3://{bucket}/{key}: not a feed ({FEED_PREFIX}) or CRM ({CRM_PREFIX}) drop")


def s3_lines(bucket: str, key: str) -> Iterator[str]:
    """The object's text line by line, streamed (a million-row feed never sits in memory).

    Lines end at "\n" only, as the csv module reads them: a U+2028 or a lone CR inside a field
    neither splits the record nor shifts the line numbers of the rows after it.
    """
    body = client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    pending = ""
    for chunk in body.iter_chunks(chunk_size=1 << 20):
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _ingest(s: Settings, bucket: str, key: str, model: Any, source: str, flush: Any) -> IngestResult:
    rejected: list[Rejected] = []
    chunk: list[Any] = []
    accepted = 0
    for row in read_rows(s3_lines(bucket, key), model, source, f"s3://{bucket}/{key}"):
        if isinstance(row, Rejected):
            rejected.append(row)
            continue
        chunk.append(row[1])
        if len(chunk) >= CHUNK:
            accepted += flush(chunk)
            chunk = []
    if chunk:
        accepted += flush(chunk)
    write_rejected(bucket, key, rejected)
    return IngestResult(key=key, accepted=accepted, rejected=len(rejected))


def household_item(row: FeedRow) -> dict[str, Any]:
    return {
        "household_id": row.household_id,
        "street": row.street,
        "house_number": row.house_number,
        "postcode": row.postcode,
        "locality": row.locality,
        "commune": row.commune,
        "canton": row.canton,
        "connected_at": row.connected_at.isoformat(),
        "marketable_from": row.marketable_from.isoformat(),
        "max_down_mbps": row.max_down_mbps,
        "no_ads_sticker": row.no_ads_sticker,
    }


def _feed_chunk(s: Settings, rows: list[FeedRow], now: datetime, publisher: Publisher) -> int:
    latest = {r.household_id: r for r in rows}  # a row re-sent within one drop: the later one holds
    batch_put(s.households_table, (household_item(r) for r in latest.values()))
    publisher.publish([
        Outgoing(
            HouseholdConnected(
                correlation_id=r.household_id,
                household_id=r.household_id,
                connected_at=r.connected_at,
                marketable_from=r.marketable_from,
                max_down_mbps=r.max_down_mbps,
                canton=r.canton,
                commune=r.commune,
            ),
            now,
        )
        for r in latest.values()
    ])
    return len(rows)


def _customer_chunk(s: Settings, rows: list[CustomerRow]) -> int:
    return batch_put(s.customers_table, (r.model_dump(mode="json") for r in rows))


def rejected_csv(rows: Iterable[Rejected]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["source", "line", "reason", "raw"])
    for r in rows:
        writer.writerow([r.source, r.line, r.reason, r.raw.rstrip("\r\n")])
    return out.getvalue()


def write_rejected(bucket: str, key: str, rejected: list[Rejected]) -> None:
    if rejected:
        client("s3").put_object(
            Bucket=bucket, Key=f"{REJECTED_PREFIX}{key}", Body=rejected_csv(rejected).encode("utf-8"),
            ContentType="text/csv; charset=utf-8",
        )
