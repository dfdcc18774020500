"""The report's SQL, written once in DuckDB's dialect; sqlglot transpiles it for Athena (shared.report.athena).

Two layers. The base views read the lake's one table (`{history}`, shared/lake.py) and keep each item's state:
its row with the highest `seq`, if that row is an `upsert`. The figure queries read only the base views and
return small aggregate tables (per cell, day, commune, reason); Python turns them into the report
(shared.report.figures). DuckDB creates the base views once per lake; Athena gets them as a WITH clause in
front of each figure query. No engine-specific SQL anywhere else.

At tens of millions of contacts the cost is the dedupe, so it is done the cheap way: the keys changed more than
once (`rewritten`, a GROUP BY over the keys alone) are few, and everything else is counted as it stands in the
lake. Contacts and decisions are counted row by row in one pass and corrected by their few rewritten items;
only the rewritten items, and the contacts of the households that ordered (the attribution's candidates), are
read whole and sorted by `seq`.
"""

from __future__ import annotations

# An item's state: its latest change, per (household_id, item_key) within one record type. `{record_type}` is a
# partition key, so each reads one partition family. Most items are written once (a contact reaches the lake when
# it is sent, a decision when it is made), so the latest change is found without sorting every row: `rewritten`
# (a narrow GROUP BY over the keys alone) names the few items with more than one change, only their rows go
# through the window that picks the latest, and every other row is its item's state as it stands. (The lake's
# keys are never NULL: functions/lake writes '' where an item has no sort key; so `=` finds them, as every engine
# joins fastest.)
_IS_REWRITTEN = """EXISTS (SELECT 1 FROM rewritten
              WHERE rewritten.record_type = '{record_type}'
                AND rewritten.household_id = item.household_id AND rewritten.item_key = item.item_key)"""
_LATEST = """
SELECT {columns} FROM {history} AS item
WHERE record_type = '{record_type}' AND op = 'upsert' AND NOT {is_rewritten}
UNION ALL
SELECT {columns} FROM (
  SELECT {columns}, op, row_number() OVER (PARTITION BY household_id, item_key ORDER BY seq DESC) AS recency
  FROM {history} AS item
  WHERE record_type = '{record_type}' AND {is_rewritten}
) AS changes
WHERE recency = 1 AND op = 'upsert'
"""


def _latest(record_type: str, columns: str) -> str:
    """The state of every item of `record_type` that is not removed: its latest change's `columns`."""
    return (_LATEST.replace("{is_rewritten}", _IS_REWRITTEN).replace("{record_type}", record_type)
            .replace("{columns}", columns))


_HOUSEHOLD = "household_id, commune, canton, connected_day, marketable_day, target_group, control_group"

_CONTACT = """coalesce(contact_id, '') AS contact_id, coalesce(target_group, 'none') AS target_group, channel,
       coalesce(cycle, 1) AS cycle, coalesce(cost_chf, 0) AS cost_chf"""
# The two ways contacts are counted, in one pass: per household and cell (target group, channel, cycle), `per` 1;
# per local day and channel, `per` 2.
_CONTACT_GROUPING = """grouping(household_id, local_day) AS per, {count} AS contacts, {cost} AS cost_chf
FROM ({rows}) AS counted
GROUP BY GROUPING SETS ((household_id, target_group, channel, cycle), (local_day, channel))"""
_SAME_GROUP = " AND ".join(f"{{a}}.{column} IS NOT DISTINCT FROM {{b}}.{column}" for column in
                           ("household_id", "target_group", "channel", "cycle", "local_day"))

#: The base views in dependency order: name -> SELECT (may read `{history}` and the views before it).
BASE_VIEWS: tuple[tuple[str, str], ...] = (
    # The items changed more than once, of every record type (few: see _LATEST).
    ("rewritten", """
SELECT record_type, household_id, item_key FROM {history}
GROUP BY record_type, household_id, item_key HAVING count(*) > 1
"""),
    ("responses", f"""
SELECT household_id, "at", type, outcome FROM ({_latest('response', 'household_id, "at", type, outcome')}) AS response
"""),
    # Each household's first order: a response 'order', or a call outcome 'ordered'.
    ("orders", """
SELECT household_id, min("at") AS "at"
FROM responses
WHERE type = 'order' OR (type = 'call_outcome' AND outcome = 'ordered')
GROUP BY household_id
"""),
    ("households", f"""
SELECT household.household_id, coalesce(nullif(household.commune, ''), '(unknown)') AS commune,
       nullif(household.canton, '') AS canton, household.connected_day, household.marketable_day,
       CASE WHEN household.target_group IN ('', 'none') THEN NULL ELSE household.target_group END AS target_group,
       coalesce(household.control_group, false) AS control_group,
       coalesce(nullif(journey.status, ''), 'none') AS journey_status, nullif(journey.end_reason, '') AS end_reason
FROM ({_latest('household', _HOUSEHOLD)}) AS household
LEFT JOIN ({_latest('journey', 'household_id, status, end_reason')}) AS journey
  ON journey.household_id = household.household_id
"""),
    # Contacts are tens of millions: they are counted as they are in the lake, and only the few rows that need
    # more are looked at one by one. `contact_changes`: every change of a rewritten contact, and of a contact of a
    # household that ordered (the attribution's candidates).
    ("contact_changes", f"""
SELECT household_id, item_key, seq, op, status, {_CONTACT}, "at", local_day,
       {_IS_REWRITTEN.replace('{record_type}', 'contact')} AS rewritten
FROM {{history}} AS item
WHERE record_type = 'contact'
  AND ({_IS_REWRITTEN.replace('{record_type}', 'contact')} OR household_id IN (SELECT household_id FROM orders))
"""),
    # Their state: the latest change of each, if it is an upsert of a contact sent.
    ("contact_states", """
SELECT household_id, item_key, contact_id, target_group, channel, cycle, cost_chf, "at", local_day, rewritten FROM (
  SELECT *, row_number() OVER (PARTITION BY household_id, item_key ORDER BY seq DESC) AS recency
  FROM contact_changes
) AS changes
WHERE recency = 1 AND op = 'upsert' AND status = 'sent'
"""),
    # What counting every contact row as it is gets wrong, per group of contact_groups: the state of each
    # rewritten contact counts (+1), each of its rows that is an upsert of a contact sent does not (-1).
    ("contact_corrections", f"""
SELECT household_id, target_group, channel, cycle, local_day, {_CONTACT_GROUPING.format(
        count='sum(change)', cost='sum(change * cost_chf)', rows="""
  SELECT household_id, target_group, channel, cycle, local_day, cost_chf, 1 AS change
  FROM contact_states WHERE rewritten
  UNION ALL
  SELECT household_id, target_group, channel, cycle, local_day, cost_chf, -1 AS change
  FROM contact_changes WHERE rewritten AND op = 'upsert' AND status = 'sent'
""")}
"""),
    # Every contact counted: per household and cell, and per day and channel (see _CONTACT_GROUPING).
    ("contact_groups", f"""
SELECT counted.household_id, counted.target_group, counted.channel, counted.cycle, counted.local_day, counted.per,
       counted.contacts + coalesce(correction.contacts, 0) AS contacts,
       counted.cost_chf + coalesce(correction.cost_chf, 0) AS cost_chf
FROM (
  SELECT household_id, target_group, channel, cycle, local_day, {_CONTACT_GROUPING.format(
        count='count(*)', cost='sum(cost_chf)', rows="""
    SELECT household_id, target_group, channel, cycle, local_day, cost_chf FROM (
      SELECT household_id, coalesce(target_group, 'none') AS target_group, channel, coalesce(cycle, 1) AS cycle,
             local_day, coalesce(cost_chf, 0) AS cost_chf
      FROM {history} WHERE record_type = 'contact' AND op = 'upsert' AND status = 'sent'
    ) AS contact
""")}
) AS counted
LEFT JOIN contact_corrections AS correction
  ON correction.per = counted.per AND {_SAME_GROUP.format(a='correction', b='counted')}
WHERE counted.contacts + coalesce(correction.contacts, 0) > 0
"""),
    # Decisions, counted the same way: per decision and reason, every upsert as it is, corrected by the latest
    # change of each rewritten decision (+1 if an upsert) and its upserts (-1).
    ("decision_changes", f"""
SELECT household_id, item_key, seq, op, decision, reason FROM {{history}} AS item
WHERE record_type = 'decision' AND {_IS_REWRITTEN.replace('{record_type}', 'decision')}
"""),
    ("decisions", """
SELECT coalesce(nullif(decision, ''), 'unknown') AS decision, coalesce(nullif(reason, ''), 'unspecified') AS reason,
       sum(change) AS decisions
FROM (
  SELECT decision, reason, count(*) AS change FROM {history}
  WHERE record_type = 'decision' AND op = 'upsert' GROUP BY decision, reason
  UNION ALL
  SELECT decision, reason, 1 AS change FROM (
    SELECT decision, reason, op, row_number() OVER (PARTITION BY household_id, item_key ORDER BY seq DESC) AS recency
    FROM decision_changes
  ) AS changes WHERE recency = 1 AND op = 'upsert'
  UNION ALL
  SELECT decision, reason, -1 AS change FROM decision_changes WHERE op = 'upsert'
) AS counted
GROUP BY coalesce(nullif(decision, ''), 'unknown'), coalesce(nullif(reason, ''), 'unspecified')
HAVING sum(change) > 0
"""),
    # The order's attribution: the household's last contact strictly before it (at the same instant the greatest
    # contact_id, then the greatest item_key), unless the household is held out in the control group.
    ("attributed", """
SELECT household_id, target_group, channel, cycle FROM (
  SELECT orders.household_id, contacts.target_group, contacts.channel, contacts.cycle,
         row_number() OVER (PARTITION BY orders.household_id
                            ORDER BY contacts."at" DESC, contacts.contact_id DESC, contacts.item_key DESC) AS recency
  FROM orders
  JOIN contact_states AS contacts ON contacts.household_id = orders.household_id AND contacts."at" < orders."at"
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
       coalesce(sum(contacts), 0) AS contacts, count(DISTINCT household_id) AS households, sum(cost_chf) AS cost_chf
FROM contact_groups WHERE per = 1
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
LEFT JOIN (SELECT DISTINCT household_id FROM contact_groups WHERE per = 1) AS contacted
  ON contacted.household_id = households.household_id
LEFT JOIN orders ON orders.household_id = households.household_id
LEFT JOIN attributed ON attributed.household_id = households.household_id
GROUP BY households.target_group, households.control_group
""",
    # Contacts and cost per local day and channel (weeks and months are made of days in Python).
    "contact_days": """
SELECT local_day, channel, contacts, cost_chf FROM contact_groups WHERE per = 2
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
SELECT decision, reason, decisions FROM decisions
""",
    "journey_states": """
SELECT journey_status, end_reason, count(*) AS households FROM households GROUP BY journey_status, end_reason
""",
}
