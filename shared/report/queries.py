"""The report's SQL, written once in DuckDB's dialect; sqlglot transpiles it for Athena (shared.report.athena).

Two layers. The base views read the lake's one table (`{history}`, shared/lake.py) and keep each item's state:
its row with the highest `seq`, if that row is an `upsert`. The figure queries read only the base views and
return small aggregate tables (per cell, day, commune, reason); Python turns them into the report
(shared.report.figures). DuckDB creates the base views once per lake; Athena gets them as a WITH clause in
front of each figure query. No engine-specific SQL anywhere else.
"""

from __future__ import annotations

# An item's state: its latest change, per (household_id, item_key) within one record type. `{record_type}` is a
# partition key, so each base view reads one partition family.
_LATEST = """
SELECT * FROM (
  SELECT *, row_number() OVER (PARTITION BY household_id, item_key ORDER BY seq DESC) AS recency
  FROM {history} WHERE record_type = '{record_type}'
) AS changes
WHERE recency = 1 AND op = 'upsert'
"""


def _latest(record_type: str) -> str:
    return _LATEST.replace("{record_type}", record_type)


#: The base views in dependency order: name -> SELECT (may read `{history}` and the views before it).
BASE_VIEWS: tuple[tuple[str, str], ...] = (
    ("contacts", f"""
SELECT household_id, item_key, coalesce(contact_id, '') AS contact_id, coalesce(target_group, 'none') AS target_group,
       channel, coalesce(cycle, 1) AS cycle, coalesce(cost_chf, 0) AS cost_chf, "at", local_day
FROM ({_latest('contact')}) AS contact
WHERE status = 'sent'
"""),
    ("decisions", f"""
SELECT household_id, coalesce(nullif(decision, ''), 'unknown') AS decision,
       coalesce(nullif(reason, ''), 'unspecified') AS reason
FROM ({_latest('decision')}) AS decision
"""),
    ("responses", f"""
SELECT household_id, "at", type, outcome FROM ({_latest('response')}) AS response
"""),
    ("households", f"""
SELECT household.household_id, coalesce(nullif(household.commune, ''), '(unknown)') AS commune,
       nullif(household.canton, '') AS canton, household.connected_day, household.marketable_day,
       CASE WHEN household.target_group IN ('', 'none') THEN NULL ELSE household.target_group END AS target_group,
       coalesce(household.control_group, false) AS control_group,
       coalesce(nullif(journey.status, ''), 'none') AS journey_status, nullif(journey.end_reason, '') AS end_reason
FROM ({_latest('household')}) AS household
LEFT JOIN ({_latest('journey')}) AS journey ON journey.household_id = household.household_id
"""),
    # Each household's first order: a response 'order', or a call outcome 'ordered'.
    ("orders", """
SELECT household_id, min("at") AS "at"
FROM responses
WHERE type = 'order' OR (type = 'call_outcome' AND outcome = 'ordered')
GROUP BY household_id
"""),
    # The order's attribution: the household's last contact strictly before it (at the same instant the greatest
    # contact_id, then the greatest item_key), unless the household is held out in the control group.
    ("attributed", """
SELECT household_id, target_group, channel, cycle FROM (
  SELECT orders.household_id, contacts.target_group, contacts.channel, contacts.cycle,
         row_number() OVER (PARTITION BY orders.household_id
                            ORDER BY contacts."at" DESC, contacts.contact_id DESC, contacts.item_key DESC) AS recency
  FROM orders
  JOIN contacts ON contacts.household_id = orders.household_id AND contacts."at" < orders."at"
  WHERE NOT EXISTS (SELECT 1 FROM households
                    WHERE households.household_id = orders.household_id AND households.control_group)
) AS candidates
WHERE recency = 1
"""),
)

#: The figure queries: name -> SELECT over the base views, each returning a small table.
FIGURES: dict[str, str] = {
    # Contacts, distinct households and cost per cell (target group, channel, cycle), per channel, per group and
    # in all; `level` is grouping(): 0 a cell, 5 a channel, 3 a group, 7 the whole campaign.
    "contact_cells": """
SELECT target_group, channel, cycle, grouping(target_group, channel, cycle) AS level,
       count(*) AS contacts, count(DISTINCT household_id) AS households, sum(cost_chf) AS cost_chf
FROM contacts
GROUP BY GROUPING SETS ((target_group, channel, cycle), (channel), (target_group), ())
""",
    # Attributed orders per cell of the attributed contact.
    "order_cells": """
SELECT target_group, channel, cycle, count(*) AS orders
FROM attributed
GROUP BY target_group, channel, cycle
""",
    # Every order by the channel of the contact it is attributed to (NULL: unattributed).
    "orders_by_channel": """
SELECT attributed.channel, count(*) AS orders
FROM orders LEFT JOIN attributed ON attributed.household_id = orders.household_id
GROUP BY attributed.channel
""",
    # Households per target group and hold-out: how many were contacted, ordered at all, ordered attributed.
    "household_cells": """
SELECT households.target_group, households.control_group, count(*) AS households,
       count(contacted.household_id) AS contacted, count(orders.household_id) AS ordered,
       count(attributed.household_id) AS ordered_attributed
FROM households
LEFT JOIN (SELECT DISTINCT household_id FROM contacts) AS contacted
  ON contacted.household_id = households.household_id
LEFT JOIN orders ON orders.household_id = households.household_id
LEFT JOIN attributed ON attributed.household_id = households.household_id
GROUP BY households.target_group, households.control_group
""",
    # Contacts and cost per local day and channel (weeks and months are made of days in Python).
    "contact_days": """
SELECT local_day, channel, count(*) AS contacts, sum(cost_chf) AS cost_chf
FROM contacts
GROUP BY local_day, channel
""",
    "commune_cantons": """
SELECT commune, canton, count(*) AS households FROM households GROUP BY commune, canton
""",
    "commune_connected": """
SELECT commune, connected_day AS on_day, count(*) AS households
FROM households WHERE connected_day IS NOT NULL GROUP BY commune, connected_day
""",
    "commune_marketable": """
SELECT commune, marketable_day AS on_day, count(*) AS households
FROM households WHERE marketable_day IS NOT NULL GROUP BY commune, marketable_day
""",
    "decision_reasons": """
SELECT decision, reason, count(*) AS decisions FROM decisions GROUP BY decision, reason
""",
    "journey_states": """
SELECT journey_status, end_reason, count(*) AS households FROM households GROUP BY journey_status, end_reason
""",
}
