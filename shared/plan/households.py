"""The plan's households: the CRM extract and the rollout plan read as the ingest reads them, each household
segmented, held out or not, offered, and judged by the gate's consent and law — then grouped into cohorts.

A cohort is every household that the product's rules cannot tell apart: the same target group, the same
verdict of consent and law on every channel of its journey, the same canton (holidays), the same first
instant, the same offer and offer inputs. The planner follows one cohort where a replay follows each of
its households; it splits a cohort where capacity or budget treat its members differently.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.campaign import Campaign
from shared.domain.gate import Person, Place, Request, consent_and_law
from shared.domain.journey import marketable_start
from shared.domain.segment import Resident, in_control_group, segment_household
from shared.inputs import CustomerRow, FeedRow, Rejected, open_rows
from shared.offers import Household, choose_offer


@dataclass
class Seed:
    """One cohort as it enters the campaign: a representative household and how many it stands for."""

    count: int
    target_group: str
    person: Person | None
    place: Place
    offer_inputs: Household
    offer_id: str
    connected_at: datetime  # the earliest in the cohort (the journey starts at max(this, marketable_from))
    first_due: datetime


@dataclass
class Intake:
    """What the inputs hold: the cohorts, and the households per commune and week for the poster timing."""

    seeds: list[Seed]
    households: int
    control_group: int
    not_eligible: Counter[str]
    no_offer: Counter[str]
    by_group: Counter[str]
    rejected: int
    connected: dict[tuple[str, str], Counter[date]] = field(default_factory=dict)
    marketable: dict[tuple[str, str], Counter[date]] = field(default_factory=dict)
    first_connected: datetime | None = None


@dataclass
class _Customers:
    residents: dict[str, list[Resident]]
    rows: dict[str, CustomerRow]  # by customer_id: what the gate needs of a lead customer
    rejected: int


def _read_customers(path: Path) -> _Customers:
    residents: dict[str, list[Resident]] = defaultdict(list)
    rows: dict[str, CustomerRow] = {}
    rejected = 0
    for record in open_rows(path, CustomerRow, "customers"):
        if isinstance(record, Rejected):
            rejected += record.row_rejected
            continue
        _, row = record
        residents[row.household_id].append(Resident(row.customer_id, row.has_internet, row.has_mobile,
                                                    row.internet_down_mbps, row.language or "de"))
        rows[row.customer_id] = row
    return _Customers(residents, rows, rejected)


def _read_feed(path: Path) -> tuple[dict[str, FeedRow], int]:
    """The last row of each household (a re-sent row supersedes the one before)."""
    feed: dict[str, FeedRow] = {}
    rejected = 0
    for record in open_rows(path, FeedRow, "feed"):
        if isinstance(record, Rejected):
            rejected += record.row_rejected
            continue
        feed[record[1].household_id] = record[1]
    return feed, rejected


def person_of(row: CustomerRow) -> Person:
    return Person(customer_id=row.customer_id, has_internet=row.has_internet, has_mobile=row.has_mobile,
                  email=row.email, mobile=row.mobile, phone_listing=row.phone_listing,
                  email_consent=row.email_consent, sms_consent=row.sms_consent, call_consent=row.call_consent,
                  do_not_call=row.do_not_call, do_not_mail=row.do_not_mail)


def read_intake(customers: Path, feed: Path, campaign: Campaign) -> Intake:
    """Every household of the plan through segmenting, the control group, the offer and consent and law."""
    crm = _read_customers(customers)
    rows, feed_rejected = _read_feed(feed)
    config, tz, policy = campaign.config, campaign.tz, campaign.gate_policy
    journey_channels = {g: tuple(dict.fromkeys(s.channel for s in j.steps)) for g, j in config.journeys.items()}
    cohorts: dict[tuple[object, ...], Seed] = {}
    intake = Intake([], 0, 0, Counter(), Counter(), Counter(), crm.rejected + feed_rejected)
    offer_memo: dict[tuple[Household, date], tuple[str | None, str]] = {}
    for household_id, row in rows.items():
        intake.households += 1
        start = marketable_start(row.marketable_from, tz)
        _tally(intake, row, start, tz)
        segment = segment_household(crm.residents.get(household_id, ()), row.max_down_mbps)
        group = segment.target_group
        if group is None:
            intake.not_eligible[segment.reason] += 1
            continue
        if in_control_group(config.campaign_id, household_id, config.control_group_percent):
            intake.control_group += 1
            continue
        first_due = max(row.connected_at, start)
        offer_inputs = Household(group, row.max_down_mbps, segment.current_down_mbps, row.canton, row.commune)
        day = first_due.astimezone(tz).date()
        if (offer_inputs, day) not in offer_memo:
            choice = choose_offer(campaign.offers, offer_inputs, day)
            offer_memo[(offer_inputs, day)] = (choice.offer.offer_id if choice.offer else None, choice.reason)
        offer_id, why = offer_memo[(offer_inputs, day)]
        if offer_id is None:
            intake.no_offer[why] += 1
            continue
        intake.by_group[group] += 1
        person = person_of(crm.rows[segment.customer_id]) if segment.customer_id else None
        place = Place(household_id, row.marketable_from, row.canton, row.no_ads_sticker)
        refusals = tuple(consent_and_law(Request(channel, group, person, place, frozenset(), (), first_due), policy)
                         for channel in journey_channels[group])
        key = (group, refusals, row.canton, start, _tick_hour(first_due), offer_id, offer_inputs)
        seed = cohorts.get(key)
        if seed is None:
            cohorts[key] = Seed(1, group, person, place, offer_inputs, offer_id, row.connected_at, first_due)
        else:
            seed.count += 1
            seed.first_due = min(seed.first_due, first_due)
    intake.seeds = list(cohorts.values())
    return intake


def _tick_hour(at: datetime) -> int:
    """The journey tick (hourly, on the UTC hour) that first finds a step due at `at`: the hour it rounds up to."""
    stamp = at.timestamp()
    return int(-(-stamp // 3600))


def _tally(intake: Intake, row: FeedRow, start: datetime, tz: ZoneInfo) -> None:
    key = (row.commune, row.canton)
    intake.connected.setdefault(key, Counter())[row.connected_at.astimezone(tz).date()] += 1
    intake.marketable.setdefault(key, Counter())[start.astimezone(tz).date()] += 1
    if intake.first_connected is None or row.connected_at < intake.first_connected:
        intake.first_connected = row.connected_at
