"""The plan's households: the CRM extract and the rollout plan read as the ingest reads them, each household
segmented, held out or not, offered, and judged by the gate's consent and law — then grouped into cohorts.

A cohort is every household that the product's rules cannot tell apart: the same target group, the same
verdict of consent and law (may or may not) on every channel of its journey, the same public holidays (where
a channel with a window is allowed), the same journey tick of its first step, and the same offer on every day
of the catalogue. The planner follows one cohort where a replay follows each of its households, and splits
it where capacity, budget or response rates treat its members differently. Why a channel is refused may differ
within a cohort: each cohort keeps how many of its households have each reason.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from sys import intern
from typing import NamedTuple
from zoneinfo import ZoneInfo

from shared.campaign import Campaign
from shared.domain.gate import Person, Place, Request, consent_and_law
from shared.domain.journey import marketable_start
from shared.domain.phone import why_not_mobile
from shared.domain.segment import Resident, in_control_group, segment_household
from shared.domain.windows import is_public_holiday
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
    reasons: Counter[tuple[str | None, ...]] = field(default_factory=Counter)  # per journey channel: refusal
    channels: tuple[str, ...] = ()  # the journey's channels, in the order of `reasons`

    def refusal_shares(self, channel: str) -> list[tuple[str, float]]:
        """Why its households may not be contacted on `channel`, with the share of each reason."""
        index = self.channels.index(channel)
        total = sum(self.reasons.values())
        found: Counter[str] = Counter()
        for reasons, n in self.reasons.items():
            reason = reasons[index]
            if reason is not None:
                found[reason] += n
        return [(reason, n / total) for reason, n in found.items()]


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


class _Planned(NamedTuple):
    """What the plan keeps of a feed row (a million of them are held at once)."""

    commune: str
    canton: str
    connected_at: datetime
    marketable_from: date | datetime
    max_down_mbps: int
    no_ads_sticker: bool


@dataclass
class _Customers:
    """The extract, compactly: per household its residents' fields, per customer the gate's fields."""

    residents: dict[str, list[tuple[str, bool, bool, int | None, str]]]
    persons: dict[str, tuple[object, ...]]
    rejected: int

    def residents_of(self, household_id: str) -> list[Resident]:
        return [Resident(*fields) for fields in self.residents.get(household_id, ())]

    def person(self, customer_id: str) -> Person:
        return Person(*self.persons[customer_id])  # type: ignore[arg-type]


def _read_customers(path: Path) -> _Customers:
    residents: dict[str, list[tuple[str, bool, bool, int | None, str]]] = defaultdict(list)
    persons: dict[str, tuple[object, ...]] = {}
    rejected = 0
    for record in open_rows(path, CustomerRow, "customers"):
        if isinstance(record, Rejected):
            rejected += record.row_rejected
            continue
        _, row = record
        residents[row.household_id].append((row.customer_id, row.has_internet, row.has_mobile,
                                            row.internet_down_mbps, row.language or "de"))
        persons[row.customer_id] = (row.customer_id, row.has_internet, row.has_mobile, row.email, row.mobile,
                                    row.phone_listing, row.email_consent, row.sms_consent, row.call_consent,
                                    row.do_not_call, row.do_not_mail)
    return _Customers(residents, persons, rejected)


def _read_feed(path: Path) -> tuple[dict[str, _Planned], int]:
    """The last row of each household (a re-sent row supersedes the one before)."""
    feed: dict[str, _Planned] = {}
    rejected = 0
    for record in open_rows(path, FeedRow, "feed"):
        if isinstance(record, Rejected):
            rejected += record.row_rejected
            continue
        row = record[1]
        feed[row.household_id] = _Planned(intern(row.commune), intern(row.canton), row.connected_at,
                                          row.marketable_from, row.max_down_mbps, row.no_ads_sticker)
    return feed, rejected


def read_intake(customers: Path, feed: Path, campaign: Campaign) -> Intake:
    """Every household of the plan through segmenting, the control group, the offer and consent and law."""
    crm = _read_customers(customers)
    rows, feed_rejected = _read_feed(feed)
    config, tz = campaign.config, campaign.tz
    intake = Intake([], 0, 0, Counter(), Counter(), Counter(), crm.rejected + feed_rejected)
    judge = _Judge(campaign)
    cohorts: dict[tuple[object, ...], Seed] = {}
    for household_id, row in rows.items():
        intake.households += 1
        start = marketable_start(row.marketable_from, tz)
        _tally(intake, row, start, tz)
        segment = segment_household(crm.residents_of(household_id), row.max_down_mbps)
        group = segment.target_group
        if group is None:
            intake.not_eligible[segment.reason] += 1
            continue
        if in_control_group(config.campaign_id, household_id, config.control_group_percent):
            intake.control_group += 1
            continue
        first_due = max(row.connected_at, start)
        offer_inputs = Household(group, row.max_down_mbps, segment.current_down_mbps, row.canton, row.commune)
        offers = judge.offers(offer_inputs)
        offer_id, why = judge.offer_from(offers, offer_inputs, first_due.astimezone(tz).date())
        if offer_id is None:
            intake.no_offer[why] += 1
            continue
        intake.by_group[group] += 1
        person = crm.person(segment.customer_id) if segment.customer_id else None
        place = Place(household_id, row.marketable_from, row.canton, row.no_ads_sticker)
        reasons = judge.refusals(group, person, place, first_due)
        allowed = tuple(r is None for r in reasons)
        holidays = judge.holidays(row.canton, first_due.year) if judge.windowed(group, allowed) else ()
        key = (group, allowed, holidays, start, _tick_hour(first_due), offer_id, offers)
        seed = cohorts.get(key)
        if seed is None:
            stands_for = person and judge.representative(person)
            seed = cohorts[key] = Seed(0, group, stands_for, place, offer_inputs, offer_id, row.connected_at,
                                       first_due, channels=judge.channels[group])
        seed.count += 1
        seed.first_due = min(seed.first_due, first_due)
        seed.reasons[reasons] += 1
    intake.seeds = list(cohorts.values())
    return intake


class _Judge:
    """The product's rules asked once per kind of household (memoised), not once per household."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign, self.policy = campaign, campaign.gate_policy
        journeys = campaign.config.journeys
        self.channels: dict[str, tuple[str, ...]] = {
            g: tuple(dict.fromkeys(s.channel for s in j.steps)) for g, j in journeys.items()}
        edges = {d for o in campaign.offers for d in (o.valid_from, o.valid_to, o.valid_to + timedelta(days=1))}
        self.edges = sorted(edges | {min(edges) - timedelta(days=1)}) if edges else []
        self._offers: dict[Household, tuple[str | None, ...]] = {}
        self._offer_on: dict[tuple[Household, date], tuple[str | None, str]] = {}
        self._refusals: dict[tuple[object, ...], tuple[str | None, ...]] = {}
        self._holidays: dict[tuple[str, int], tuple[date, ...]] = {}
        self._numbers: dict[str | None, str] = {}

    def offer_on(self, household: Household, day: date) -> tuple[str | None, str]:
        if (household, day) not in self._offer_on:
            choice = choose_offer(self.campaign.offers, household, day)
            self._offer_on[(household, day)] = (choice.offer.offer_id if choice.offer else None, choice.reason)
        return self._offer_on[(household, day)]

    def offer_from(self, offers: tuple[str | None, ...], household: Household, day: date) -> tuple[str | None, str]:
        """The offer of `day`, read from the household's offers at the catalogue's edges (the choice only changes
        there); asked afresh before the first edge and for the reason when there is none."""
        index = bisect_right(self.edges, day) - 1
        if index >= 0 and offers[index] is not None:
            return offers[index], "best expected value"
        return self.offer_on(household, day)

    def offers(self, household: Household) -> tuple[str | None, ...]:
        """The offer chosen on each day where the catalogue changes: households alike here are offered alike."""
        if household not in self._offers:
            self._offers[household] = tuple(self.offer_on(household, day)[0] for day in self.edges)
        return self._offers[household]

    def refusals(self, group: str, person: Person | None, place: Place, at: datetime) -> tuple[str | None, ...]:
        """consent_and_law on each channel of the group's journey, asked once per kind of person."""
        kind = None if person is None else (
            person.has_internet, person.has_mobile, person.email is not None, self._mobile(group, person.mobile),
            person.phone_listing, person.email_consent, person.sms_consent, person.call_consent, person.do_not_call,
            person.do_not_mail)
        key = (group, kind, place.no_ads_sticker)
        if key not in self._refusals:
            self._refusals[key] = tuple(
                consent_and_law(Request(channel, group, person, place, frozenset(), (), at), self.policy)
                for channel in self.channels[group])
        return self._refusals[key]

    def representative(self, person: Person) -> Person:
        """The person with the number that stands for theirs (one per verdict of `why_not_mobile`), so the gate
        asks the phone rules once per kind of number, not once per household."""
        if person.mobile is None:
            return person
        return replace(person, mobile=self._numbers.setdefault(why_not_mobile(person.mobile), person.mobile))

    def _mobile(self, group: str, mobile: str | None) -> str | None:
        """What the gate can see of a number: whether there is one and, where the journey has SMS, why it is
        no mobile (None: a mobile) — numbers alike in this are judged alike."""
        if mobile is None:
            return None
        if "sms" not in self.channels[group]:
            return "a number"
        return why_not_mobile(mobile) or "a mobile"

    def windowed(self, group: str, allowed: tuple[bool, ...]) -> bool:
        """Whether a channel with a contact window (and so holidays) may be used by this household."""
        return any(ok and channel in self.policy.windows for channel, ok in zip(self.channels[group], allowed,
                                                                                 strict=True))

    def holidays(self, canton: str, year: int) -> tuple[date, ...]:
        """The canton's public holidays of the campaign's years: cantons alike here open their windows alike."""
        if (canton, year) not in self._holidays:
            first = date(year, 1, 1)
            self._holidays[(canton, year)] = tuple(
                d for d in (first + timedelta(days=n) for n in range(3 * 366)) if is_public_holiday(d, canton))
        return self._holidays[(canton, year)]


def _tick_hour(at: datetime) -> int:
    """The journey tick (hourly, on the UTC hour) that first finds a step due at `at`: the hour it rounds up to."""
    stamp = at.timestamp()
    return int(-(-stamp // 3600))


def _tally(intake: Intake, row: _Planned, start: datetime, tz: ZoneInfo) -> None:
    key = (row.commune, row.canton)
    intake.connected.setdefault(key, Counter())[row.connected_at.astimezone(tz).date()] += 1
    intake.marketable.setdefault(key, Counter())[start.astimezone(tz).date()] += 1
    if intake.first_connected is None or row.connected_at < intake.first_connected:
        intake.first_connected = row.connected_at
