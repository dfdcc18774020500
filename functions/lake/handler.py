"""Lambda entry point: the tables' DynamoDB stream records -> rows of the contact-history lake (Firehose)."""

from __future__ import annotations

from typing import Any

from shared.handler import logger_for
from shared.settings import settings

logger = logger_for("lake")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from functions.lake.logic import lake_rows, put_rows
    from shared.campaign import campaign

    s = settings()
    tables = {s.contacts_table: "contacts", s.households_table: "households", s.journeys_table: "journeys"}
    records = event.get("Records", [])
    rows = list(lake_rows(records, tables, campaign().tz))
    sent = put_rows(s.lake_stream, rows) if rows else 0
    logger.info("lake rows delivered", extra={"stream_records": len(records), "rows": sent})
    return {"records": len(records), "rows": sent}
