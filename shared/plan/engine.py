"""The plan's clock: cohorts of households through their journeys, step by step, in time order — each step
judged by the product's own rules as the pipeline judges it, at the moment it would leave.

What each channel does, as its function does it: email and SMS leave at the journey tick that requests them,
a letter at the next print cut-off (paid and counted from then), a call is queued when requested and leaves
when the day's call list takes it (capacity, roll-over, the gate at the export, paid then). A send, a
deferral (fair play, window, caps, budget) or a skip moves the journey exactly as in `shared.dispatch`.

Counts are floats: a cohort splits where the call list's capacity or the month's budget takes only part of
it, and where the response rates (`--rates`) let a share of it react (order or opt-out) and leave.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import insort
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.campaign import Campaign
from shared.config import local_clock
from shared.domain.budget import micro_chf, month_of, next_month_start
from shared.domain.call_list import has_place, list_made_on, listing_order, waited_too_long, window_start
from shared.domain.caps import Contact, prune
from shared.domain.cost import unit_cost
from shared.domain.gate import Request, Verdict, consent_and_law, contact_gate
from shared.domain.journey import Position, next_position
from shared.domain.print_cut_off import next_cut_off
from shared.offers import offer_on
from shared.plan.households import Seed
from shared.plan.rates import Rates

TICK = timedelta(hours=1)  # the template's JourneyTickRate: rate(1 hour), on the hour
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
REQUEST, EXPORT = 0, 1  # at the same instant the tick's requests are handled before the call export


def tick_at_or_after(at: datetime) -> datetime:
    """The first journey tick that finds a step due at `at` (due_at <= the tick's time)."""
    steps = -((_EPOCH - at.astimezone(UTC)) // TICK)
    return _EPOCH + steps * TICK


@dataclass
class Cohort:
    count: float
    seed: Seed
    offer_id: str
    position: Position
    history: list[Contact] = field(default_factory=list)
    next_at: datetime | None = None  # when its journey's next step is requested
    leaves_at: datetime | None = None  # a reacting share: order or opt-out at this instant
    call: CallWait | None = None
    number: int = 0


@dataclass
class CallWait:
    requested_at: datetime
    order: tuple[str, float, str]  # its place in the queue (`shared.domain.call_list.listing_order`)
    give_up_at: datetime  # `waited_too_long` from then on
    requested_day: date
    not_before_day: date | None = None


@dataclass
class Tally:
    """What the plan counts, as it happens."""

    contacts: dict[tuple[date, str, str | None], float] = field(default_factory=lambda: defaultdict(float))
    cost: dict[tuple[date, str, str | None], float] = field(default_factory=lambda: defaultdict(float))
    month_cost: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    budget_deferred: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    days: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    deferred: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    reacted: dict[tuple[str, str, str], float] = field(default_factory=lambda: defaultdict(float))
    by_group_channel: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    ended: float = 0.0
    splits: int = 0


class Planner:
    def __init__(self, campaign: Campaign, seeds: list[Seed], start: datetime, end: datetime, rates: Rates) -> None:
        self.campaign, self.config, self.tz = campaign, campaign.config, campaign.tz
        self.policy = campaign.gate_policy
        self.start, self.end, self.rates = start, end, rates
        self.tally = Tally()
        self.queue: list[tuple[float, int, int, datetime, Cohort | None]] = []  # by POSIX time: cheap to compare
        self.order = itertools.count()
        self.numbers = itertools.count()
        self.remaining: dict[str, int] = {}
        self.monthly = micro_chf(self.config.budget_chf.monthly, round_up=False)
        self.waiting: list[tuple[tuple[str, float, str], int, Cohort, CallWait]] = []  # sorted by the queue's order
        self.giving_up: list[tuple[datetime, int, Cohort]] = []  # a heap: when each waiting call is given up
        self.waiting_count = 0.0
        self.cut_off_clock = local_clock(self.config.print.cut_off_at)
        self.values = {o.offer_id: o.expected_value_chf for o in campaign.offers}
        self.costs: dict[tuple[str, str | None], int] = {}
        for seed in seeds:
            first = Position(1, 1, seed.first_due, seed.first_due)
            self._schedule(Cohort(float(seed.count), seed, seed.offer_id, first, number=next(self.numbers)),
                           seed.first_due)

    # ------------------------------------------------------------------ the clock
    def run(self) -> Tally:
        for export in self._exports():
            heapq.heappush(self.queue, (export.timestamp(), EXPORT, next(self.order), export, None))
        while self.queue:
            _, kind, _, at, cohort = heapq.heappop(self.queue)
            if at >= self.end:
                break
            if kind == EXPORT:
                self._export(at)
            elif cohort is not None and cohort.next_at == at:
                cohort.next_at = None
                self._request(cohort, at)
        return self.tally

    def _exports(self) -> list[datetime]:
        """The call export's firings (the template's CallExportCron: export_at, Monday to Saturday)."""
        clock = local_clock(self.config.calls.export_at)
        day = self.start.astimezone(self.tz).date()
        found: list[datetime] = []
        while True:
            at = datetime.combine(day, clock, tzinfo=self.tz)
            if at >= self.end:
                return found
            if at >= self.start and day.weekday() != 6:
                found.append(at)
            day += timedelta(days=1)

    def _schedule(self, cohort: Cohort, due: datetime) -> None:
        at = tick_at_or_after(due)
        cohort.next_at = at
        position = cohort.position
        cohort.position = Position(position.cycle, position.step, position.cycle_started_at, due)
        heapq.heappush(self.queue, (at.timestamp(), REQUEST, next(self.order), at, cohort))

    def _split(self, cohort: Cohort, part: float) -> Cohort:
        """`part` of the cohort as a cohort of its own, in the same state (its pending step included)."""
        self.tally.splits += 1
        cohort.count -= part
        clone = replace(cohort, count=part, history=list(cohort.history), number=next(self.numbers),
                        call=replace(cohort.call) if cohort.call else None)
        if cohort.next_at is not None:
            heapq.heappush(self.queue, (cohort.next_at.timestamp(), REQUEST, next(self.order), cohort.next_at, clone))
        if clone.call is not None:
            self._queue_call(clone)
        return clone

    # ------------------------------------------------------------------ a requested step
    def _request(self, cohort: Cohort, now: datetime) -> None:
        if cohort.leaves_at is not None and cohort.leaves_at <= now:
            self.tally.ended += cohort.count  # ordered or opted out: no contact after it
            return
        journey = self.config.journeys[cohort.seed.target_group]  # type: ignore[index]
        channel = journey.steps[cohort.position.step - 1].channel
        at = next_cut_off(now, self.cut_off_clock, self.tz) if channel == "print" else now
        request, refusal_of_offer = self._gate_request(cohort, channel, at)
        if channel == "call":  # consent and law now; windows, caps and budget when the day's list is made
            refusal = consent_and_law(request, self.policy)
            verdict = Verdict("skip", refusal) if refusal else Verdict("send", "queued")
        else:
            verdict = contact_gate(request, self.policy)
        if verdict.action == "skip":
            self._skipped(cohort, channel, verdict.reason)
            self._advance(cohort, cohort.position, ended=verdict.reason == refusal_of_offer)
            return
        if verdict.action == "defer":
            assert verdict.until is not None
            self.tally.deferred[verdict.reason.split(" (")[0]] += cohort.count
            self._schedule(cohort, verdict.until)
            return
        if channel == "call":
            if cohort.call is not None:  # an earlier call still waiting: this one takes its place
                self.waiting_count -= cohort.count
            repeat = self.config.journeys[cohort.seed.target_group].repeat_every_days  # type: ignore[index]
            request_id = f"{now.astimezone(UTC).isoformat()}#{cohort.number:09d}"
            cohort.call = CallWait(now, listing_order(now.astimezone(self.tz).isoformat(),
                                                      self.values.get(cohort.offer_id, 0.0), request_id),
                                   _give_up_at(now, repeat), now.astimezone(self.tz).date())
            self.waiting_count += cohort.count
            self._queue_call(cohort)
            self._advance(cohort, self._started(cohort, now))
            return
        paying = self._pay(cohort, channel, verdict.kind, at)
        if paying is None:
            return
        self._made(paying, channel, verdict.kind, at)
        self._advance(paying, self._started(paying, at))
        self._react(paying, channel, at)

    def _skipped(self, cohort: Cohort, channel: str, reason: str) -> None:
        """A skip, with each reason its households have (a cohort's households may be refused for different ones)."""
        shares = cohort.seed.refusal_shares(channel) if channel in cohort.seed.channels else []
        if not shares or reason not in {r for r, _ in shares}:
            shares = [(reason, 1.0)]
        for why, share in shares:
            self.tally.skipped[(channel, why)] += cohort.count * share

    def _gate_request(self, cohort: Cohort, channel: str, at: datetime,
                      window_at: datetime | None = None) -> tuple[Request, str | None]:
        seed = cohort.seed
        cohort.offer_id, refusal = offer_on(self.campaign.offers, cohort.offer_id, seed.offer_inputs,
                                            at.astimezone(self.tz).date())
        return Request(channel=channel, target_group=seed.target_group, person=seed.person, place=seed.place,
                       suppressed=frozenset(), history=cohort.history, at=at, offer_refusal=refusal,
                       window_at=window_at), refusal

    def _started(self, cohort: Cohort, at: datetime) -> Position:
        """A cycle runs from its first contact, not from its plan (as `shared.dispatch` moves it)."""
        position = cohort.position
        return replace(position, cycle_started_at=at) if position.step == 1 else position

    def _advance(self, cohort: Cohort, position: Position, *, ended: bool = False) -> None:
        journey = self.config.journeys[cohort.seed.target_group]  # type: ignore[index]
        nxt = None if ended else next_position(journey, position, self.tz)
        if nxt is None:
            cohort.position = position
            return
        cohort.position = nxt
        self._schedule(cohort, nxt.due_at)

    # ------------------------------------------------------------------ money and contacts
    def _pay(self, cohort: Cohort, channel: str, kind: str | None, at: datetime) -> Cohort | None:
        """The part of the cohort its month's budget pays for (the rest deferred to the next month), or None."""
        cost = self._micro_cost(channel, kind)
        month = month_of(at, self.tz)
        left = self.remaining.setdefault(month, self.monthly)
        affordable = _affordable(cohort.count, left, cost)
        if affordable < 1e-9:
            self.tally.budget_deferred[month] += cohort.count
            self._schedule(cohort, next_month_start(at, self.tz))
            return None
        if affordable < cohort.count - 1e-9:
            short = cohort
            cohort = self._split(short, affordable)
            self.tally.budget_deferred[month] += short.count
            self._schedule(short, next_month_start(at, self.tz))
        self.remaining[month] = left - round(cost * cohort.count)
        return cohort

    def _micro_cost(self, channel: str, kind: str | None) -> int:
        if (channel, kind) not in self.costs:
            self.costs[(channel, kind)] = micro_chf(unit_cost(self.config.unit_cost_chf, channel, kind), round_up=True)
        return self.costs[(channel, kind)]

    def _made(self, cohort: Cohort, channel: str, kind: str | None, at: datetime) -> None:
        local = at.astimezone(self.tz)
        week = local.date() - timedelta(days=local.weekday())
        cost = unit_cost(self.config.unit_cost_chf, channel, kind)
        key = (week, channel, kind)
        group = cohort.seed.target_group
        self.tally.contacts[key] += cohort.count
        self.tally.cost[key] += cost * cohort.count
        self.tally.month_cost[month_of(at, self.tz)] += cost * cohort.count
        self.tally.by_group_channel[(group, channel)] += cohort.count
        cohort.history = prune([*cohort.history, (channel, at)], at, self.policy.caps)

    def _react(self, cohort: Cohort, channel: str, at: datetime) -> None:
        """The share the rates expect to order or opt out after this contact leaves its journey N days later."""
        group = cohort.seed.target_group
        share = self.rates.reacting(group, channel)
        if share > 0 and cohort.leaves_at is None:
            leaving = self._split(cohort, cohort.count * share)
            leaving.leaves_at = at + timedelta(days=self.rates.within_days)
            for outcome, rate in self.rates.outcomes(group, channel).items():
                self.tally.reacted[(group, channel, outcome)] += leaving.count * rate / share

    # ------------------------------------------------------------------ the day's call list
    def _queue_call(self, cohort: Cohort) -> None:
        call = cohort.call
        assert call is not None
        insort(self.waiting, (call.order, cohort.number, cohort, call))
        heapq.heappush(self.giving_up, (call.give_up_at, cohort.number, cohort))

    def _export(self, now: datetime) -> None:
        """The day's list, as the exporter makes it: calls waiting too long given up, then the oldest requests
        (best expected value first) listed up to the capacity if the gate lets them go today."""
        day = now.astimezone(self.tz).date()
        due, listed, withdrawn = self.waiting_count, 0.0, 0.0
        if list_made_on(day):
            withdrawn = self._give_up(now)
            for _, _, cohort, call in self.waiting:
                if not has_place(int(listed + 1e-9), self.config.calls.per_day):
                    break
                if cohort.call is call and cohort.count > 1e-9:
                    taken, gone = self._list_one(cohort, now, day, listed)
                    listed += taken
                    withdrawn += gone
            self.waiting = [entry for entry in self.waiting if entry[2].call is entry[3] and entry[2].count > 1e-9]
            self.waiting_count = sum(entry[2].count for entry in self.waiting)
        oldest = (day - self.waiting[0][3].requested_day).days if self.waiting else 0
        self.tally.days.append({"day": day.isoformat(), "calls_due": due, "calls_listed": listed,
                                "withdrawn": withdrawn, "backlog": self.waiting_count, "oldest_waiting_days": oldest})

    def _give_up(self, now: datetime) -> float:
        """Calls still waiting when their journey's next cycle would begin are skipped (`waited_too_long`)."""
        gone = 0.0
        while self.giving_up and self.giving_up[0][0] <= now:
            _, _, cohort = heapq.heappop(self.giving_up)
            call = cohort.call
            if call is None or not waited_too_long(call.requested_at, now, _days(call)):
                continue
            self.tally.skipped[("call", "not listed within the cycle (call-centre capacity)")] += cohort.count
            cohort.call = None
            gone += cohort.count
        return gone

    def _list_one(self, cohort: Cohort, now: datetime, day: date, listed: float) -> tuple[float, float]:
        """(listed, withdrawn) of one waiting cohort on today's list, as the exporter judges each call."""
        call = cohort.call
        assert call is not None
        if cohort.leaves_at is not None and cohort.leaves_at <= now:
            cohort.call = None
            return 0.0, cohort.count
        room = self.config.calls.per_day - listed
        if call.not_before_day is not None and call.not_before_day > day:
            return 0.0, 0.0
        window = window_start(self.policy.windows["call"], day, self.tz)
        request, _ = self._gate_request(cohort, "call", now, window_at=window)
        verdict = contact_gate(request, self.policy)
        if verdict.action == "skip":
            self._skipped(cohort, "call", verdict.reason)
            cohort.call = None
            return 0.0, cohort.count
        if verdict.action == "defer":
            assert verdict.until is not None
            call.not_before_day = verdict.until.astimezone(self.tz).date()
            self.tally.deferred["call list: " + verdict.reason.split(" (")[0]] += cohort.count
            return 0.0, 0.0
        if room < cohort.count - 1e-9:
            cohort = self._split(cohort, room)  # the part that gets today's places; the rest rolls over
        paying = self._pay_call(cohort, now)
        if paying is None:
            return 0.0, 0.0
        paying.call = None
        self._made(paying, "call", None, now)
        self._react(paying, "call", now)
        return paying.count, 0.0

    def _pay_call(self, cohort: Cohort, now: datetime) -> Cohort | None:
        """The listed call's cost from the export day's month; a short month keeps it queued until the next."""
        cost = self._micro_cost("call", None)
        month = month_of(now, self.tz)
        left = self.remaining.setdefault(month, self.monthly)
        affordable = _affordable(cohort.count, left, cost)
        defer_day = next_month_start(now, self.tz).date()
        if affordable < 1e-9:
            self.tally.budget_deferred[month] += cohort.count
            assert cohort.call is not None
            cohort.call.not_before_day = defer_day
            return None
        if affordable < cohort.count - 1e-9:
            paying = self._split(cohort, affordable)
            self.tally.budget_deferred[month] += cohort.count
            assert cohort.call is not None
            cohort.call.not_before_day = defer_day
            cohort = paying
        self.remaining[month] = left - round(cost * cohort.count)
        return cohort


def _affordable(count: float, left: int, cost: int) -> float:
    """How many of `count` households the month's `left` micro-francs pay for, whole households at a time
    (as `shared.domain.budget.plan_shares` takes each contact's cost whole or not at all)."""
    if cost <= 0:
        return count
    if count < 1:  # a share of a household (response rates): all of it or none
        return count if left >= cost * count else 0.0
    return float(min(count, max(0, left) // cost))


def _give_up_at(requested_at: datetime, repeat_every_days: int) -> datetime:
    """The first instant at which `waited_too_long` holds (a day count: exact in UTC)."""
    return requested_at + timedelta(days=repeat_every_days)


def _days(call: CallWait) -> int:
    return (call.give_up_at - call.requested_at).days
