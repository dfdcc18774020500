"""The contact-history lake: one table, `history`, of change records of what the report reads.

Every contact made, decision, response, household and journey change is also a row of the lake. The rows
come from the tables' DynamoDB streams (functions/lake): one tap on every write, so no write path can
forget to publish, and a change is published exactly when it took effect. Amazon Data Firehose delivers
them to S3 partitioned by `record_type` and `day`, in Parquet, under a Glue table that Athena queries; a
run's output folder holds the same files (`lake/history/record_type=…/day=…/*.parquet`) for DuckDB.

A row is a change of one item: `op` says whether the item was written (`upsert`) or deleted (`remove`),
`item_key` and `household_id` name the item, `seq` orders the changes of one item (the stream's sequence
number, zero-padded). The state of an item is its row with the highest `seq`; the report reads only that.

Ids only: no name, address line, email, phone number or customer id is ever a column, so the lake holds
nothing that names a person. Erasure leaves it as it is; it expires with the bucket's lifecycle after
`retention_days`, like every other store of personal data.
"""

from __future__ import annotations

RECORD_TYPES = ("contact", "decision", "response", "household", "journey")
OPS = ("upsert", "remove")
SEQ_WIDTH = 40  # DynamoDB stream sequence numbers have up to 40 digits

#: The columns of the `history` table in order, with their Glue/Athena type. `record_type` and `day` are the
#: partition keys (Hive style), not columns of the Parquet files.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("op", "string"),  # upsert | remove
    ("item_key", "string"),  # the item's sort key in its table ('' where the table has none)
    ("seq", "string"),  # orders the changes of one item
    ("household_id", "string"),
    # contacts (and what decisions and journeys share)
    ("contact_id", "string"),
    ("journey_id", "string"),
    ("target_group", "string"),
    ("channel", "string"),
    ("kind", "string"),
    ("cycle", "int"),
    ("step", "int"),
    ("attempt", "int"),
    ("offer_id", "string"),
    ("cost_chf", "decimal(12,4)"),
    ("at", "timestamp"),  # UTC
    ("local_day", "date"),  # `at` on the campaign's clock (its time zone)
    ("status", "string"),  # a contact claim's status, or a journey's
    # decisions
    ("decision", "string"),
    ("reason", "string"),
    # responses
    ("type", "string"),
    ("outcome", "string"),
    # households
    ("commune", "string"),
    ("canton", "string"),
    ("postcode", "string"),
    ("connected_at", "timestamp"),  # UTC
    ("connected_day", "date"),  # on the campaign's clock
    ("marketable_day", "date"),  # the local day from which it may be marketed
    ("control_group", "boolean"),
    # journeys
    ("end_reason", "string"),
)
PARTITION_KEYS: tuple[tuple[str, str], ...] = (("record_type", "string"), ("day", "string"))
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)
TABLE = "history"
