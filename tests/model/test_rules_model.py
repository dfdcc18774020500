"""The model-based test: random interleavings of feed rows and corrections, CRM extracts, responses and the
passage of time drive the real pipeline on the embedded stack; after every step, whatever has left the
system is judged against the reference model (tests/model/reference.py) at the instant it left.

`make test` runs a bounded number of examples (well under two minutes); `make soak` runs the same machine
for SOAK_MINUTES (default 30) and prints how many examples and steps it ran.
"""

from __future__ import annotations

import os
import re
import time as clock
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from shared.events import CRM_PREFIX, FEED_PREFIX, RESPONSES_PREFIX
from tests.model.harness import (
    PLACES,
    Simulation,
    aws_account,
    customer_csv,
    feed_csv,
    next_local,
    response_csv,
    timeline,
)
from tests.model.reference import TZ, Customer, FeedRow, Offer, Response, Rules, World, check_all

RULES = Rules()  # the contract's defaults, which the harness's config keeps
FIRST_DAY = date(2026, 1, 5)
SPEEDS = st.sampled_from([100, 500, 1000, 1000, 10000, 10000])
GAP = st.integers(0, 240)  # minutes from the last step to the next drop
PERSON = st.fixed_dictionaries({
    "relationship": st.sampled_from(["internet", "internet", "mobile", "mobile", "both", "former"]),
    "internet_down_mbps": st.sampled_from([50, 50, 100, 100, 500, 1000]),
    "email": st.sampled_from([True, True, True, False]),
    "mobile": st.sampled_from(["mobile", "mobile", "mobile", "landline", ""]),
    "phone_listing": st.sampled_from(["listed", "listed", "starred", "unlisted"]),
    "email_consent": st.sampled_from([True, True, True, False]),
    "sms_consent": st.sampled_from([True, True, True, False]),
    "call_consent": st.sampled_from([True, True, False]),
    "do_not_call": st.sampled_from([False, False, False, False, True]),
    "do_not_mail": st.sampled_from([False, False, False, False, True]),
    "language": st.sampled_from(["de", "fr", "it", "en"]),
})
CRM_CHANGES = ["leave", "withdraw", "move", "do_not_mail", "do_not_call", "join", "relationship", "same"]
RESPONSES = ["order", "order", "opt_out", "opt_out", "opt_out", "sms_stop", "email_bounce", "email_complaint",
             "call_outcome", "call_outcome", "call_outcome"]
PENDING_OR_MADE = {"sent", "queued", "batched", "claimed", "ambiguous"}  # ambiguous: reported, never resent
NOON = time(12, 40)
CLOCKS = [time(5, 45), time(6, 20), time(8, 10), time(11, 30), time(12, 40), time(16, 35), time(17, 25),
          time(19, 50), time(20, 25)]


def person(customer_id: str, household_id: str, spec: dict[str, Any]) -> Customer:
    relationship = spec["relationship"]
    has_internet = relationship in ("internet", "both")
    return Customer(customer_id=customer_id, household_id=household_id, language=spec["language"],
                    email=spec["email"], mobile=spec["mobile"], phone_listing=spec["phone_listing"],
                    has_internet=has_internet, internet_down_mbps=spec["internet_down_mbps"] if has_internet else None,
                    has_mobile=relationship in ("mobile", "both"), email_consent=spec["email_consent"],
                    sms_consent=spec["sms_consent"], call_consent=spec["call_consent"],
                    do_not_call=spec["do_not_call"], do_not_mail=spec["do_not_mail"])


def catalogue(start: date, promo_days: int, late_days: int) -> list[Offer]:
    """Per target group: a base and a fast offer valid all along, one that starts later and a promotion that
    expires during the example (better ranked, so the picker wants them)."""
    offers = []
    for group in ("upgrade", "switch", "prospect"):
        offers += [Offer(f"{group}-base", group, 100, start - timedelta(days=60), start + timedelta(days=365)),
                   Offer(f"{group}-fast", group, 1000, start - timedelta(days=60), start + timedelta(days=365)),
                   Offer(f"{group}-late", group, 100, start + timedelta(days=late_days), start + timedelta(days=365)),
                   Offer(f"{group}-promo", group, 100, start - timedelta(days=60),
                         start + timedelta(days=promo_days))]
    return offers


class Tally:
    examples = 0
    steps = 0
    contacts = 0


class DispatchMachine(RuleBasedStateMachine):
    """The world changes at random; the product must keep the design's rules for everything that leaves."""

    serial = 0

    def __init__(self) -> None:
        super().__init__()
        self.sim: Simulation | None = None
        self.world = World()
        self.households: list[str] = []
        self.cantons: dict[str, str] = {}
        self.rows: dict[str, FeedRow] = {}
        self.base: dict[str, Customer] = {}
        self.known: list[str] = []  # every customer id ever in an extract, retired ones too
        self.log: list[tuple[datetime, str, str]] = []
        self.residents: dict[str, str] = {}  # the household's residents as the story last told them

    # ------------------------------------------------------------------ the start
    @initialize(day=st.integers(0, 700), hour=st.integers(0, 23), cantons=st.lists(
        st.sampled_from(sorted(PLACES)), min_size=2, max_size=4), people=st.lists(
        st.tuples(st.integers(0, 3), PERSON), min_size=2, max_size=8), promo_days=st.integers(2, 40),
        late_days=st.integers(2, 30), connected=st.lists(st.tuples(st.integers(-6, 12), SPEEDS,
                                                                  st.sampled_from([False, False, False, True])),
                                                        min_size=2, max_size=3))
    def begin(self, day: int, hour: int, cantons: list[str], people: list[tuple[int, dict[str, Any]]],
              promo_days: int, late_days: int, connected: list[tuple[int, int, bool]]) -> None:
        """The first extract, then the first households' feed rows (the others may come later)."""
        DispatchMachine.serial += 1
        Tally.examples += 1
        first = FIRST_DAY + timedelta(days=day)
        start = datetime.combine(first, time(hour), tzinfo=TZ)
        self.world.offers = {o.offer_id: o for o in catalogue(first, promo_days, late_days)}
        self.sim = Simulation(start, list(self.world.offers.values()), DispatchMachine.serial)
        self.households = [f"H{i + 1}" for i in range(len(cantons))]
        self.cantons = dict(zip(self.households, cantons, strict=True))
        for where, spec in people:
            self._add_customer(self.households[where % len(self.households)], spec)
        self._extract(start + timedelta(seconds=30), "first extract")
        for which, (marketable, speed, sticker) in enumerate(connected):
            self.connect(which, marketable, speed, sticker, 0)

    # ------------------------------------------------------------------ the rollout feed
    @rule(which=st.integers(0, 3), marketable=st.integers(-6, 12), speed=SPEEDS,
          sticker=st.sampled_from([False, False, False, False, True]), gap=GAP)
    def connect(self, which: int, marketable: int, speed: int, sticker: bool, gap: int) -> None:
        household = self.households[which % len(self.households)]
        at = self._at(gap)
        row = self.rows.get(household) or FeedRow(
            household, at.astimezone(TZ).date() + timedelta(days=marketable), speed, self.cantons[household],
            sticker, "Teststrasse", household[1:], PLACES[self.cantons[household]][0])
        self._feed(row, at, "feed row" if household not in self.rows else "feed row sent again")

    @precondition(lambda self: bool(self.rows))
    @rule(which=st.integers(0, 3), change=st.sampled_from(
        ["later", "earlier", "not_eligible", "speed", "address", "sticker"]), days=st.integers(1, 12),
        speed=SPEEDS, gap=GAP)
    def correct_row(self, which: int, change: str, days: int, speed: int, gap: int) -> None:
        household = sorted(self.rows)[which % len(self.rows)]
        row = self.rows[household]
        if change == "later":
            row = replace(row, marketable_from=row.marketable_from + timedelta(days=days))
        elif change == "earlier":
            row = replace(row, marketable_from=row.marketable_from - timedelta(days=days))
        elif change == "not_eligible":
            speeds = [c.internet_down_mbps or 0 for c in self.base.values()
                      if c.household_id == household and c.has_internet]
            row = replace(row, max_down_mbps=max(speeds, default=100) or 100)
        elif change == "speed":
            row = replace(row, max_down_mbps=speed)
        elif change == "address":
            row = replace(row, street=f"Neue Strasse {days}", house_number=str(days))
        else:
            row = replace(row, no_ads_sticker=not row.no_ads_sticker)
        self._feed(row, self._at(gap), f"feed row corrected ({change})")

    # ------------------------------------------------------------------ the CRM
    @rule(change=st.sampled_from(CRM_CHANGES), who=st.integers(0, 20), where=st.integers(0, 3),
          consent=st.sampled_from(["email_consent", "sms_consent", "call_consent"]), spec=PERSON, gap=GAP)
    def crm_extract(self, change: str, who: int, where: int, consent: str, spec: dict[str, Any], gap: int) -> None:
        household = self.households[where % len(self.households)]
        ids = sorted(self.base)
        if change == "join" or not ids:
            what = f"joins {household}: {self._add_customer(household, spec)}"
        else:
            customer = self.base[ids[who % len(ids)]]
            what = f"{customer.customer_id} {change}"
            if change == "leave":
                del self.base[customer.customer_id]
            elif change == "withdraw":
                withdrawn: dict[str, Any] = {consent: False}
                self.base[customer.customer_id] = replace(customer, **withdrawn)
                what += f" {consent}"
            elif change == "move":
                self.base[customer.customer_id] = replace(customer, household_id=household)
                what += f" from {customer.household_id} to {household}"
            elif change in ("do_not_mail", "do_not_call"):
                objection: dict[str, Any] = {change: True}
                self.base[customer.customer_id] = replace(customer, **objection)
            elif change == "relationship":
                new = person(customer.customer_id, customer.household_id, spec)
                self.base[customer.customer_id] = replace(customer, has_internet=new.has_internet,
                                                          has_mobile=new.has_mobile,
                                                          internet_down_mbps=new.internet_down_mbps)
                what += f" to {spec['relationship']} {new.internet_down_mbps or ''}"
        self._extract(self._at(gap), what)

    # ------------------------------------------------------------------ what people do
    @rule(which=st.integers(0, 3), who=st.integers(-3, 20), kind=st.sampled_from(RESPONSES),
          channel=st.sampled_from(["email", "sms", "print", "call", "all", "all"]),
          outcome=st.sampled_from(["ordered", "declined", "not_reached", "not_reached", "do_not_call"]), gap=GAP)
    def respond(self, which: int, who: int, kind: str, channel: str, outcome: str, gap: int) -> None:
        """A response as the CRM or the call centre hands it in, whenever it comes: an order also before the
        household's journey exists or after it completed."""
        household = self.households[which % len(self.households)]
        customer: str | None = None
        if who >= 0 and self.known:
            customer = self.known[who % len(self.known)]
            if customer in self.base:
                household = self.base[customer].household_id
        if kind in ("sms_stop", "email_bounce", "email_complaint", "call_outcome") and customer is None:
            customer = next((c.customer_id for c in self.base.values() if c.household_id == household), None)
            if customer is None:
                kind = "opt_out"  # nobody there to bounce or answer: the household objects instead
        self._respond(Response(self._at(gap), household, customer, kind, channel if kind == "opt_out" else None,
                               outcome if kind == "call_outcome" else None))

    @rule(which=st.integers(0, 3), who=st.integers(-1, 20), kind=st.sampled_from(["order", "opt_out"]),
          channel=st.sampled_from(["print", "call", "all"]), wall_clock=st.sampled_from([NOON, time(16, 50)]))
    def at_noon(self, which: int, who: int, kind: str, channel: str, wall_clock: time) -> None:
        """An order or objection between the morning's requests and the evening's cut-off or the next export."""
        assert self.sim is not None
        self._advance(next_local(self.sim.now, wall_clock))
        self.respond(which, who, kind, channel, "ordered", 0)

    # ------------------------------------------------------------------ time passes
    @rule(minutes=st.integers(10, 600))
    def wait(self, minutes: int) -> None:
        assert self.sim is not None
        self._advance(self.sim.now + timedelta(minutes=minutes))

    @rule(days=st.integers(1, 6))
    def wait_days(self, days: int) -> None:
        assert self.sim is not None
        self._advance(self.sim.now + timedelta(days=days))

    @rule(days=st.integers(5, 12), hours=st.integers(0, 23))
    def wait_a_week(self, days: int, hours: int) -> None:
        """Long enough for the next step of a journey (the campaign's steps are a week apart)."""
        assert self.sim is not None
        self._advance(self.sim.now + timedelta(days=days, hours=hours))

    @rule(days=st.integers(0, 3), wall_clock=st.sampled_from(CLOCKS))
    def days_later_at(self, days: int, wall_clock: time) -> None:
        """Some days on, at one of the wall-clock times where rules meet (cut-off, export, windows, noon)."""
        assert self.sim is not None
        self._advance(next_local(self.sim.now + timedelta(days=days), wall_clock))

    @rule(wall_clock=st.sampled_from(CLOCKS))
    def until(self, wall_clock: time) -> None:
        """To just before or after a cut-off, an export, a window's opening or closing, or noon."""
        assert self.sim is not None
        self._advance(next_local(self.sim.now, wall_clock))

    # ------------------------------------------------------------------ the check
    @invariant()
    def what_left_keeps_the_rules(self) -> None:
        if self.sim is None:
            return
        contacts = self.sim.contacts(self.households)
        pieces = self.sim.pieces() if any(c.channel == "print" for c in contacts) else None
        broken = [str(v) for v in check_all(self.world, contacts, RULES, pieces)]
        broken += self._undecided()
        broken += [f"[nothing lost] {problem}" for problem in self.sim.lost()]
        if broken:
            involved = [h for h in self.households if any(f"] {h}:" in b for b in broken)] or self.households
            people = sorted({p for b in broken for p in re.findall(r"\bC\d{3}\b", b)})
            story = timeline(self.log, self.sim, involved, people)
            raise AssertionError("what left the system breaks the design's rules:\n  " + "\n  ".join(broken[:12])
                                 + f"\n\nthe households' timelines (Europe/Zurich):\n{story}")

    def _undecided(self) -> list[str]:
        """Nothing lost: no claim left `claimed` once everything drained, and a request that ended without
        leaving (withdrawn, skipped, failed ...) has a decision with its reason."""
        assert self.sim is not None
        decided = {(d.get("journey_id"), int(d.get("cycle", 0)), int(d.get("step", 0)))
                   for d in self.sim.decisions(self.households)}
        found = []
        for c in self.sim.claims(self.households):
            status = c.get("status")
            if status == "claimed":
                found.append(f"[nothing lost] {c['household_id']}: claim {c['sk']} left `claimed` after draining")
            elif status not in PENDING_OR_MADE and (c.get("journey_id"), int(c.get("cycle", 0)),
                                                    int(c.get("step", 0))) not in decided:
                found.append(f"[nothing lost] {c['household_id']}: {c['channel']} claim {c['sk']} ended "
                             f"`{status}` without a decision")
        return found

    def teardown(self) -> None:
        if self.sim is not None:
            Tally.contacts += len(self.sim.contacts(self.households))
            self.sim.close()
            self.sim = None

    # ------------------------------------------------------------------ helpers
    def _at(self, gap: int) -> datetime:
        """A drop time `gap` minutes on, at second 30 (schedules fire at second 0: no tie with them)."""
        assert self.sim is not None
        at = (self.sim.now + timedelta(minutes=gap)).replace(second=30, microsecond=0)
        return at if at > self.sim.now else at + timedelta(minutes=1)

    def _advance(self, until: datetime) -> None:
        assert self.sim is not None
        self.sim.advance(until)
        Tally.steps += 1

    def _respond(self, response: Response) -> None:
        assert self.sim is not None
        self.sim.drop(RESPONSES_PREFIX, response_csv(response), response.at)
        self.world.responses.append(response)
        detail = f" {response.channel}" if response.channel else f" {response.outcome}" if response.outcome else ""
        self.log.append((response.at, response.household_id,
                         f"response  {response.type}{detail} by {response.customer_id or 'the household'}"))
        Tally.steps += 1

    def _add_customer(self, household: str, spec: dict[str, Any]) -> str:
        customer_id = f"C{len(self.known) + 1:03d}"
        self.base[customer_id] = person(customer_id, household, spec)
        self.known.append(customer_id)
        return customer_id

    def _feed(self, row: FeedRow, at: datetime, what: str) -> None:
        assert self.sim is not None
        self.sim.drop(FEED_PREFIX, feed_csv(row, at), at)
        self.rows[row.household_id] = row
        self.world.feed[row.household_id].append((at, row))
        self.log.append((at, row.household_id, f"{what}: marketable_from {row.marketable_from}, "
                         f"{row.max_down_mbps} Mbit/s, {row.canton}, sticker {row.no_ads_sticker}, "
                         f"{row.street} {row.house_number}"))
        Tally.steps += 1

    def _extract(self, at: datetime, what: str) -> None:
        assert self.sim is not None
        customers = sorted(self.base.values(), key=lambda c: c.customer_id)
        self.sim.drop(CRM_PREFIX, customer_csv(customers), at)
        self.world.extracts.append((at, dict(self.base)))
        for household in self.households:
            here = "; ".join(_person_line(c) for c in customers if c.household_id == household) or "nobody"
            if self.residents.get(household) != here:  # the story names an extract where it changed the household
                self.residents[household] = here
                self.log.append((at, household, f"CRM extract ({what}): {here}"))
        Tally.steps += 1


def _person_line(c: Customer) -> str:
    relation = "+".join(x for x, on in (("internet", c.has_internet), ("mobile", c.has_mobile)) if on) or "former"
    speed = f" {c.internet_down_mbps}" if c.has_internet else ""
    flags = [f for f, on in (("email", c.email and c.email_consent), ("sms", c.sms_consent),
                             ("call", c.call_consent), ("dnc", c.do_not_call), ("dnm", c.do_not_mail)) if on]
    return f"{c.customer_id} {relation}{speed} {c.mobile or 'no-phone'}/{c.phone_listing} [{','.join(flags)}]"


BOUNDED = settings(max_examples=int(os.environ.get("MODEL_EXAMPLES", "12")), stateful_step_count=30,
                   deadline=None, derandomize=True, database=None, print_blob=True,
                   suppress_health_check=list(HealthCheck),
                   phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target])
SOAK = settings(BOUNDED, max_examples=3, derandomize=False, stateful_step_count=40,
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])


def test_what_leaves_keeps_the_rules_while_the_world_changes() -> None:
    """Given households connected, corrected, re-segmented by CRM extracts and answering at random times,
    When the pipeline runs on the simulated clock through cut-offs, exports and windows,
    Then every contact that left kept the design's rules with the world as it stood when it left,
    nothing sits in a dead-letter queue and no claim is left unresolved."""
    with aws_account():
        run_state_machine_as_test(DispatchMachine, settings=BOUNDED)


def soak(minutes: float) -> None:
    """`make soak`: random examples of the same machine (shrunk on a failure) for `minutes`; then the tally."""
    began = clock.monotonic()
    try:
        with aws_account():
            while clock.monotonic() - began < minutes * 60:
                run_state_machine_as_test(DispatchMachine, settings=SOAK)
    finally:
        print(f"\nsoak: {Tally.examples} examples, {Tally.steps} steps, {Tally.contacts} contacts judged in "
              f"{(clock.monotonic() - began) / 60:.1f} minutes")


if __name__ == "__main__":  # python -m tests.model.test_rules_model MINUTES
    import sys

    soak(float(sys.argv[1]) if len(sys.argv) > 1 else 30.0)
