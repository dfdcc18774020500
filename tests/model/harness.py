"""The harness of the model-based test: the real pipeline on an in-process moto account, driven on the
simulated clock, with the inputs written as the files the CRM, the rollout system and the call centre drop.

Each hypothesis example gets its own moto account and stack (`Simulation`): a reset and a provisioning
cost about 0.35 s here, against several seconds for the example itself, and it keeps the examples apart —
a CRM extract is the whole customer base, so the extract an example drops holds exactly its customers, and
its clock may start anywhere. What the product did is read back from its own tables and buckets.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tests.e2e.builders import CUSTOMER_COLUMNS, FEED_COLUMNS, RESPONSE_COLUMNS
from tests.model.reference import TZ, Contact, Customer, FeedRow, Offer, Response

CAMPAIGN_ID = "model-based"
REPEAT_EVERY_DAYS = 20
# The short campaign of the e2e tests (tests/e2e/builders.py); caps and windows at the contract's defaults.
CONFIG_YAML = f"""\
campaign_id: {CAMPAIGN_ID}
journeys:
  upgrade:  {{steps: [{{channel: email, day: 0}}, {{channel: print, day: 7}}, {{channel: call, day: 14}}],
              repeat_every_days: {REPEAT_EVERY_DAYS}, max_cycles: 2}}
  switch:   {{steps: [{{channel: sms, day: 0}}, {{channel: email, day: 2}}, {{channel: print, day: 9}},
                      {{channel: call, day: 16}}], repeat_every_days: {REPEAT_EVERY_DAYS}, max_cycles: 2}}
  prospect: {{steps: [{{channel: print, day: 0}}], repeat_every_days: {REPEAT_EVERY_DAYS}, max_cycles: 2}}
calls:
  per_day: 2
control_group_percent: 0
"""
# Every extract of an example may retire a large share of its few customers: that is the point.
CRM_GUARD_YAML = "crm:\n  max_retire_percent: 100\n"

PLACES = {"ZH": ("8400", "Winterthur"), "VD": ("1003", "Lausanne"), "TI": ("6500", "Bellinzona"),
          "BE": ("3011", "Bern")}
COPY = {lang: {"name": "Fibre", "headline": "Fibre is here", "body": "Move to fibre.", "sms": "Fibre is here."}
        for lang in ("de", "fr", "it", "en")}


def config_text() -> str:
    """The config of every example, with the CRM guard opened (see CRM_GUARD_YAML)."""
    return CONFIG_YAML + CRM_GUARD_YAML


def offers_yaml(offers: Sequence[Offer]) -> str:
    import yaml

    return yaml.safe_dump([{
        "offer_id": o.offer_id, "target_group": o.target_group, "speed_mbps": max(o.min_down_mbps, 100),
        "min_down_mbps": o.min_down_mbps, "valid_from": o.valid_from, "valid_to": o.valid_to,
        "monthly_chf": 60.0, "discount_chf": 10.0, "expected_value_chf": 100 + 50 * i, "copy": COPY,
    } for i, o in enumerate(offers)], sort_keys=False)


# ----------------------------------------------------------------------------------- the files
def _digits(seed: str, n: int) -> str:
    return str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[:n]


def customer_csv(customers: Sequence[Customer]) -> bytes:
    def row(c: Customer) -> dict[str, str]:
        number = _digits(c.customer_id, 7)
        mobile = {"mobile": f"079 {number[:3]} {number[3:5]} {number[5:]}",
                  "landline": f"044 {number[:3]} {number[3:5]} {number[5:]}"}.get(c.mobile, "")
        flag = {True: "true", False: "false"}
        return {"customer_id": c.customer_id, "household_id": c.household_id, "first_name": "Test",
                "last_name": f"Person {c.customer_id[-3:]}", "language": c.language,
                "email": f"{c.customer_id.lower()}@example.ch" if c.email else "", "mobile": mobile,
                "phone_listing": c.phone_listing, "has_internet": flag[c.has_internet],
                "internet_down_mbps": str(c.internet_down_mbps) if c.has_internet and c.internet_down_mbps else "",
                "has_mobile": flag[c.has_mobile], "email_consent": flag[c.email_consent],
                "sms_consent": flag[c.sms_consent], "call_consent": flag[c.call_consent],
                "do_not_call": flag[c.do_not_call], "do_not_mail": flag[c.do_not_mail]}

    return _csv(CUSTOMER_COLUMNS, [row(c) for c in customers])


def feed_csv(row: FeedRow, connected_at: datetime) -> bytes:
    postcode, locality = PLACES[row.canton]
    return _csv(FEED_COLUMNS, [{
        "household_id": row.household_id, "street": row.street, "house_number": row.house_number,
        "postcode": row.postcode or postcode, "locality": locality, "commune": locality, "canton": row.canton,
        "connected_at": connected_at.isoformat(), "marketable_from": row.marketable_from.isoformat(),
        "max_down_mbps": str(row.max_down_mbps), "no_ads_sticker": "true" if row.no_ads_sticker else "false"}])


def response_csv(response: Response) -> bytes:
    return _csv(RESPONSE_COLUMNS, [{
        "at": response.at.isoformat(), "household_id": response.household_id,
        "customer_id": response.customer_id or "", "type": response.type, "channel": response.channel or "",
        "outcome": response.outcome or ""}])


def _csv(columns: Sequence[str], rows: Sequence[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


# ----------------------------------------------------------------------------------- the account
@contextmanager
def aws_account() -> Iterator[None]:
    """Credentials and region for an in-process moto account, restored afterwards (the runtime also
    writes the functions' environment into os.environ)."""
    from infra.embedded import REGION
    from infra.moto_speedups import install

    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update({"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_LOG_LEVEL": "WARNING"})
    install()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Simulation:
    """One example's stack and runtime on a fresh moto account, its clock starting at `start`."""

    def __init__(self, start: datetime, offers: Sequence[Offer], serial: int) -> None:
        from aws_lambda_powertools.utilities import parameters
        from moto import mock_aws

        from infra.embedded import REGION
        from infra.pipeline import schedule_parameters
        from infra.provision import provision
        from infra.runtime import LocalRuntime
        from shared.aws import client, reset_clients
        from shared.campaign import CONFIG_KEY, OFFERS_KEY, reset_campaign_cache
        from shared.config import parse_config

        self._mock = mock_aws()
        self._mock.start(reset=True)
        reset_clients()
        reset_campaign_cache()
        parameters.clear_caches()  # type: ignore[no-untyped-call]
        text = config_text()
        self.stack = provision("model", REGION, {**schedule_parameters(parse_config(text)),
                                                 "ConfigVersion": f"model-{os.getpid()}-{serial}", "DueShards": "2"})
        self.runtime = LocalRuntime(self.stack, env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING",
                                                                "POWERTOOLS_METRICS_DISABLED": "true"})
        # The model judges what leaves, not the daily report: its queries would only cost every simulated day.
        self.runtime.tasks = [t for t in self.runtime.tasks if t.function.logical_id != "ReportFunction"]
        s3 = client("s3")
        self.bucket = self.stack.refs["FeedBucket"]
        s3.put_object(Bucket=self.bucket, Key=CONFIG_KEY, Body=text.encode("utf-8"))
        s3.put_object(Bucket=self.bucket, Key=OFFERS_KEY, Body=offers_yaml(offers).encode("utf-8"))
        self.runtime.start_clock(start)
        self.now = start
        self.drops = 0

    # -------------------------------------------------------------- the clock and the drops
    def advance(self, until: datetime) -> None:
        """Let simulated time pass: every schedule due up to `until` fires, everything it causes drains."""
        if until > self.now:
            self.runtime.fire_due(until)
            self.runtime.drain()
            self.now = until

    def drop(self, prefix: str, body: bytes, at: datetime) -> None:
        """A file dropped at `at` (after every schedule due before it), drained at once."""
        self.advance(at - timedelta(microseconds=1))
        self.drops += 1
        self.runtime.drop(self.bucket, f"{prefix}model-{self.drops:05d}.csv", body, at)
        self.runtime.drain()
        self.now = at

    # -------------------------------------------------------------- what the product did
    def items(self, household_id: str, prefix: str) -> list[dict[str, Any]]:
        from shared.stores.dynamo import query_all

        return query_all(TableName=self.stack.refs["ContactsTable"],
                         KeyConditionExpression="household_id = :h AND begins_with(sk, :p)",
                         ExpressionAttributeValues={":h": {"S": household_id}, ":p": {"S": prefix}})

    def contacts(self, household_ids: Sequence[str]) -> list[Contact]:
        """Every contact that left (status sent), with the instant it left."""
        return [_contact(i) for h in household_ids for i in self.items(h, "contact#") if i.get("status") == "sent"]

    def claims(self, household_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [i for h in household_ids for i in self.items(h, "contact#")]

    def decisions(self, household_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [i for h in household_ids for i in self.items(h, "decision#")]

    def pieces(self) -> dict[str, dict[str, str]]:
        """Every row of every closed print batch (the CSVs the vendor collects), by piece id."""
        from shared.aws import client

        s3 = client("s3")
        bucket = self.stack.refs["PrintBucket"]
        rows: dict[str, dict[str, str]] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="batches/"):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith(".csv"):
                    body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode("utf-8-sig")
                    rows.update({r["piece_id"]: r for r in csv.DictReader(io.StringIO(body))})
        return rows

    def lost(self) -> list[str]:
        """What the design's 'nothing lost' forbids: messages in a DLQ, scheduled runs that failed for good,
        handler errors."""
        problems = [f"{queue}: {depth} message(s)" for queue, depth in self.runtime.dlq_depths().items() if depth]
        if self.runtime.stats.schedule_dropped:
            problems.append(f"{self.runtime.stats.schedule_dropped} scheduled run(s) failed on every attempt")
        return problems

    def close(self) -> None:
        self.runtime.close()
        self._mock.stop()


def _contact(item: dict[str, Any]) -> Contact:
    return Contact(
        contact_id=str(item.get("contact_id", item["sk"])), household_id=item["household_id"],
        customer_id=item.get("customer_id") or None, channel=item["channel"], kind=item.get("kind") or None,
        journey_id=str(item.get("journey_id")), cycle=int(item.get("cycle", 0)), step=int(item.get("step", 0)),
        attempt=int(item.get("attempt", 1)), offer_id=str(item.get("offer_id")),
        target_group=str(item.get("target_group")), at=datetime.fromisoformat(item["at"]))


# ----------------------------------------------------------------------------------- the story
def timeline(log: Sequence[tuple[datetime, str, str]], sim: Simulation,
             household_ids: Sequence[str], people: Sequence[str] = ()) -> str:
    """Each household's story in time order: what was dropped, what left, what was decided; with what the
    `people` named did elsewhere (an objection made before they moved in)."""
    lines = []
    for household in household_ids:
        events = [(at, what if h == household else f"{what} (at {h})") for at, h, what in log
                  if h == household or any(f"by {p}" in what for p in people)]
        events += [(c.at, f"LEFT      {c.describe()}") for c in sim.contacts([household])]
        events += [(datetime.fromisoformat(d["at"]), f"decision  {d.get('channel')} {d.get('customer_id') or ''} "
                    f"{d.get('decision')}: {d.get('reason')}") for d in sim.decisions([household])]
        events += [(datetime.fromisoformat(c["at"]), f"claim     {c['channel']} {c.get('status')} "
                    f"c{c.get('cycle')}s{c.get('step')}a{c.get('attempt')}")
                   for c in sim.claims([household]) if c.get("status") != "sent" and c.get("at")]
        lines.append(f"--- {household}")
        lines += [f"  {at.astimezone(TZ):%a %Y-%m-%d %H:%M:%S}  {what}"
                  for at, what in sorted(events, key=lambda e: e[0].astimezone(UTC))]
    return "\n".join(lines)


def next_local(after: datetime, clock: time) -> datetime:
    """The first instant after `after` whose Zurich wall clock reads `clock`."""
    local = after.astimezone(TZ)
    day: date = local.date()
    for offset in range(3):
        candidate = datetime.combine(day + timedelta(days=offset), clock, tzinfo=TZ)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable")
