"""The reference model: the design's rules (../shared/design.md, contract.md), written again from the text,
apart from the product's code, to judge every contact that left the system at the instant it left.

It knows the world only as the test fed it — feed rows, CRM extracts and responses, each in force from
the instant it was dropped — and the offers and settings the test handed the product. It imports nothing
of `shared.domain`: a rule that is wrong in the product must not be wrong here in the same way.
The `holidays` package is the calendar both read; that is data, not a rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Europe/Zurich")
CHANNELS = ("email", "sms", "print", "call")


# ----------------------------------------------------------------------------------- the settings
@dataclass(frozen=True)
class Cap:
    max: int
    days: int


@dataclass(frozen=True)
class Hours:
    """Opening hours [start, end) of a weekday (Mon-Fri) and of Saturday; closed on Sundays and holidays."""

    weekdays: tuple[time, time]
    saturday: tuple[time, time]


@dataclass(frozen=True)
class Rules:
    """The contract's defaults for caps, windows, the cut-off and the call export (config.yaml)."""

    per_channel: dict[str, Cap] = field(default_factory=lambda: {
        "email": Cap(1, 7), "sms": Cap(1, 7), "print": Cap(1, 14), "call": Cap(1, 7)})
    all_channels: Cap = Cap(3, 30)
    sms: Hours = Hours((time(8), time(20)), (time(9), time(16)))
    call: Hours = Hours((time(8), time(20, 30)), (time(9), time(16)))
    cut_off: time = time(17)  # Monday to Friday
    export: time = time(6)  # Monday to Saturday
    respect_star_entries: bool = True


# ----------------------------------------------------------------------------------- the world
@dataclass(frozen=True)
class Customer:
    customer_id: str
    household_id: str
    language: str = "de"
    email: bool = False
    mobile: str = ""  # "", "mobile" or "landline" (a landline in the mobile column)
    phone_listing: str = "listed"
    has_internet: bool = False
    internet_down_mbps: int | None = None
    has_mobile: bool = False
    email_consent: bool = False
    sms_consent: bool = False
    call_consent: bool = False
    do_not_call: bool = False
    do_not_mail: bool = False

    @property
    def current(self) -> bool:
        """A customer with neither internet nor mobile is a former customer: no current relationship."""
        return self.has_internet or self.has_mobile


@dataclass(frozen=True)
class FeedRow:
    household_id: str
    marketable_from: date
    max_down_mbps: int
    canton: str
    no_ads_sticker: bool
    street: str
    house_number: str
    postcode: str


@dataclass(frozen=True)
class Response:
    at: datetime
    household_id: str
    customer_id: str | None
    type: str
    channel: str | None = None
    outcome: str | None = None

    @property
    def is_order(self) -> bool:
        return self.type == "order" or (self.type == "call_outcome" and self.outcome == "ordered")

    @property
    def objects_to(self) -> str | None:
        """The channel (or `all`) this response objects to, if any."""
        if self.type == "opt_out":
            return self.channel
        if self.type in ("email_bounce", "email_complaint"):
            return "email"
        if self.type == "sms_stop":
            return "sms"
        if self.type == "call_outcome" and self.outcome == "do_not_call":
            return "call"
        return None


@dataclass(frozen=True)
class Offer:
    offer_id: str
    target_group: str
    min_down_mbps: int
    valid_from: date
    valid_to: date


@dataclass
class World:
    """Everything dropped into the system, each with the instant it was dropped (when it takes effect)."""

    offers: dict[str, Offer] = field(default_factory=dict)
    feed: dict[str, list[tuple[datetime, FeedRow]]] = field(default_factory=lambda: defaultdict(list))
    extracts: list[tuple[datetime, dict[str, Customer]]] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)

    def feed_at(self, household_id: str, at: datetime) -> FeedRow | None:
        rows = [row for dropped, row in self.feed.get(household_id, []) if dropped <= at]
        return rows[-1] if rows else None

    def extract_at(self, at: datetime) -> dict[str, Customer]:
        """The newest full extract dropped at or before `at` (a snapshot: it is the whole truth)."""
        current: dict[str, Customer] = {}
        for dropped, extract in self.extracts:
            if dropped <= at:
                current = extract
        return current

    def responses_until(self, at: datetime) -> list[Response]:
        return [r for r in self.responses if r.at <= at]


# ----------------------------------------------------------------------------------- what left
@dataclass(frozen=True)
class Contact:
    contact_id: str
    household_id: str
    customer_id: str | None
    channel: str
    kind: str | None
    journey_id: str
    cycle: int
    step: int
    attempt: int
    offer_id: str
    target_group: str
    at: datetime

    def describe(self) -> str:
        who = self.customer_id or "residents"
        kind = f"/{self.kind}" if self.kind else ""
        return (f"{self.at.astimezone(TZ):%a %Y-%m-%d %H:%M:%S} {self.channel}{kind} to {who} "
                f"({self.target_group}, offer {self.offer_id}, journey {self.journey_id} "
                f"c{self.cycle}s{self.step}a{self.attempt})")


@dataclass(frozen=True)
class Violation:
    rule: str
    contact: Contact
    why: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.contact.household_id}: {self.contact.describe()}: {self.why}"


# ----------------------------------------------------------------------------------- the rules
def marketable_instant(day: date) -> datetime:
    """A marketable_from date means 00:00 of that day in the campaign's time zone."""
    return datetime.combine(day, time(0), tzinfo=TZ)


@cache
def _holidays(canton: str, year: int) -> frozenset[date]:
    from holidays.countries.switzerland import Switzerland

    return frozenset(Switzerland(years=year, subdiv=canton).keys())  # type: ignore[no-untyped-call]


def closed_day(day: date, canton: str) -> bool:
    """No SMS or call on Sundays and public holidays (federal and the household's canton)."""
    return day.weekday() == 6 or day in _holidays(canton, day.year)


def in_hours(hours: Hours, local: datetime) -> bool:
    start, end = hours.saturday if local.weekday() == 5 else hours.weekdays
    return start <= local.time() < end


def _objections(responses: Iterable[Response]) -> dict[str, set[str]]:
    """Per subject (`customer#ID`, `household#ID`): the channels objected to."""
    found: dict[str, set[str]] = defaultdict(set)
    for r in responses:
        channel = r.objects_to
        if channel is not None:
            subject = f"customer#{r.customer_id}" if r.customer_id else f"household#{r.household_id}"
            found[subject].add(channel)
    return found


def check_contact(world: World, contact: Contact, rules: Rules) -> list[Violation]:
    """Every rule a contact breaks, judged with the world as it stood at the instant it left."""
    at = contact.at
    found: list[Violation] = []

    def broken(rule: str, why: str) -> None:
        found.append(Violation(rule, contact, why))

    row = world.feed_at(contact.household_id, at)
    if row is None:
        broken("fair play", "no feed row for the household had been dropped")
        return found
    if at < marketable_instant(row.marketable_from):
        broken("fair play", f"before marketable_from {row.marketable_from} (row in force)")
    orders = [r for r in world.responses_until(at) if r.is_order and r.household_id == contact.household_id]
    if orders:
        broken("exit on conversion", f"the household ordered at {orders[0].at.astimezone(TZ):%Y-%m-%d %H:%M:%S}")
    extract = world.extract_at(at)
    residents = [c for c in extract.values() if c.household_id == contact.household_id]
    found += [Violation(rule, contact, why) for rule, why in _suppression(world, contact, residents, at)]
    found += [Violation(rule, contact, why) for rule, why in _eligibility(contact, row, extract, residents, rules)]
    found += [Violation(rule, contact, why) for rule, why in _offer(world, contact, row)]
    found += [Violation(rule, contact, why) for rule, why in _timing(contact, row, rules)]
    return found


def _suppression(world: World, contact: Contact, residents: Sequence[Customer],
                 at: datetime) -> list[tuple[str, str]]:
    objections = _objections(world.responses_until(at))
    household = objections.get(f"household#{contact.household_id}", set())
    if contact.customer_id:
        own = objections.get(f"customer#{contact.customer_id}", set()) | household
        hit = own & {contact.channel, "all"}
        return [("suppression", f"objection to {', '.join(sorted(hit))} in force")] if hit else []
    if contact.channel != "print":
        return []
    why = [f"household objects to {', '.join(sorted(household & {'print', 'all'}))}"] if household & {
        "print", "all"} else []
    for r in residents:
        hit = objections.get(f"customer#{r.customer_id}", set()) & {"print", "all"}
        if hit:
            why.append(f"resident {r.customer_id} objects to {', '.join(sorted(hit))}")
        if r.do_not_mail:
            why.append(f"resident {r.customer_id} has do_not_mail")
    return [("suppression", "partially addressed mail: " + "; ".join(why))] if why else []


def _eligibility(contact: Contact, row: FeedRow, extract: dict[str, Customer], residents: Sequence[Customer],
                 rules: Rules) -> list[tuple[str, str]]:
    current = [r for r in residents if r.current]
    found: list[tuple[str, str]] = []
    served = [r for r in current if r.has_internet and (r.internet_down_mbps or 0) >= row.max_down_mbps]
    if served:
        found.append(("eligibility", f"not eligible: {served[0].customer_id} already has "
                                     f"{served[0].internet_down_mbps} Mbit/s, best available {row.max_down_mbps}"))
    if contact.customer_id is None:
        if contact.channel != "print" or contact.kind != "partially_addressed":
            found.append(("eligibility", "a personal channel without a customer"))
        elif row.no_ads_sticker:
            found.append(("eligibility", "partially addressed mail to a letter box with a no-advertising sticker"))
        return found
    if not current:
        found.append(("eligibility", "prospect household (no current customer) got a personal contact"))
    person = extract.get(contact.customer_id)
    if person is None:
        return [*found, ("eligibility", "customer not in the extract in force (retired)")]
    if person.household_id != contact.household_id:
        return [*found, ("eligibility", f"customer lives at {person.household_id} in the extract in force")]
    if not person.current:
        found.append(("eligibility", "former customer addressed personally"))
    return found + [("eligibility", why) for why in _channel_law(contact, person, rules)]


def _channel_law(contact: Contact, person: Customer, rules: Rules) -> list[str]:
    if contact.channel == "email":
        return [] if person.email and person.email_consent else ["email without address and consent"]
    if contact.channel == "sms":
        if not person.has_mobile or person.mobile != "mobile":
            return ["SMS without a mobile subscription and a mobile number"]
        return [] if person.sms_consent else ["SMS without consent"]
    if contact.channel == "call":
        if person.do_not_call:
            return ["call despite do_not_call"]
        if not person.mobile:
            return ["call without a phone number"]
        if rules.respect_star_entries and person.phone_listing != "listed" and not person.call_consent:
            return [f"call to a {person.phone_listing} number without call consent"]
        return []
    if contact.channel == "print":
        if contact.kind != "personalised":
            return []
        return ["personalised letter despite do_not_mail"] if person.do_not_mail else []
    return [f"unknown channel {contact.channel}"]


def _offer(world: World, contact: Contact, row: FeedRow) -> list[tuple[str, str]]:
    offer = world.offers.get(contact.offer_id)
    if offer is None:
        return [("offer", "offer not in the catalogue handed to the product")]
    found = []
    day = contact.at.astimezone(TZ).date()
    if not offer.valid_from <= day <= offer.valid_to:
        found.append(("offer", f"offer valid {offer.valid_from}..{offer.valid_to}, not on {day}"))
    if offer.min_down_mbps > row.max_down_mbps:
        found.append(("offer", f"offer needs {offer.min_down_mbps} Mbit/s, the household has {row.max_down_mbps}"))
    if offer.target_group != contact.target_group:
        found.append(("offer", f"offer for {offer.target_group}, contact for {contact.target_group}"))
    return found


def _timing(contact: Contact, row: FeedRow, rules: Rules) -> list[tuple[str, str]]:
    local = contact.at.astimezone(TZ)
    if contact.channel == "sms" and (closed_day(local.date(), row.canton) or not in_hours(rules.sms, local)):
        return [("window", f"SMS at {local:%a %H:%M} ({row.canton}): outside the SMS window")]
    if contact.channel == "call":
        if closed_day(local.date(), row.canton):
            return [("window", f"call listed for {local:%a %Y-%m-%d}, a Sunday or public holiday in {row.canton}")]
        if local.time() != rules.export:
            return [("window", f"call listed at {local:%H:%M:%S}, not at the {rules.export:%H:%M} export")]
    if contact.channel == "print" and (local.weekday() > 4 or local.time() != rules.cut_off):
        return [("window", f"letter left at {local:%a %H:%M:%S}, not at a {rules.cut_off:%H:%M} cut-off")]
    return []


def unreached_calls(world: World, contacts: Sequence[Contact]) -> set[str]:
    """The calls that reached nobody: the household's last call listed before a `not_reached` outcome. They put
    no pressure on anyone, so they do not count against the caps (the next attempt may follow within the
    attempt window; the product's rule, README "Judged when it leaves")."""
    unreached = set()
    for r in world.responses:
        if r.type != "call_outcome" or r.outcome != "not_reached":
            continue
        calls = [c for c in contacts if c.household_id == r.household_id and c.channel == "call" and c.at <= r.at]
        if calls:
            unreached.add(max(calls, key=lambda c: c.at).contact_id)
    return unreached


def check_caps(contacts: Sequence[Contact], rules: Rules, unreached: set[str] | None = None) -> list[Violation]:
    """No half-open window [s, s + days) holds more than the cap's contacts, per channel and over all."""
    found = []
    by_household: dict[str, list[Contact]] = defaultdict(list)
    for c in contacts:
        if c.contact_id not in (unreached or set()):
            by_household[c.household_id].append(c)
    for household in by_household.values():
        for channel, cap in [*rules.per_channel.items(), ("all", rules.all_channels)]:
            chosen = sorted((c for c in household if channel in ("all", c.channel)), key=lambda c: c.at)
            times = [c.at.astimezone(UTC) for c in chosen]
            for i, start in enumerate(times):
                inside = [chosen[j] for j in range(i, len(times)) if times[j] < start + timedelta(days=cap.days)]
                if len(inside) > cap.max:
                    found.append(Violation("caps", inside[cap.max], f"{channel} cap {cap.max} in {cap.days} days: "
                                           f"{len(inside)} from {start.astimezone(TZ):%Y-%m-%d %H:%M}"))
                    break
    return found


def check_once(contacts: Sequence[Contact]) -> list[Violation]:
    """At most once per (journey, cycle, step, attempt)."""
    seen: dict[tuple[str, int, int, int], Contact] = {}
    found = []
    for c in sorted(contacts, key=lambda c: c.at):
        key = (c.journey_id, c.cycle, c.step, c.attempt)
        if key in seen:
            found.append(Violation("at most once", c, f"same step already left at {seen[key].at.isoformat()}"))
        seen.setdefault(key, c)
    return found


PERSONAL_COLUMNS = ("customer_id", "salutation", "first_name", "last_name")


def check_pieces(world: World, contacts: Sequence[Contact], pieces: dict[str, dict[str, str]]) -> list[Violation]:
    """A letter that left is a row of a closed batch, addressed to where the feed row in force said the
    household is (a corrected address applies); a partially addressed one carries no personal data."""
    found = []
    for c in contacts:
        if c.channel != "print":
            continue
        piece = pieces.get(c.contact_id)
        if piece is None:
            found.append(Violation("nothing lost", c, "no row of any closed print batch carries this letter"))
            continue
        row = world.feed_at(c.household_id, c.at)
        if row is not None and (piece.get("street"), piece.get("house_number")) != (row.street, row.house_number):
            printed = f"{piece.get('street')} {piece.get('house_number')}"
            found.append(Violation("feed correction", c, f"printed for {printed}, the row in force says "
                                   f"{row.street} {row.house_number}"))
        personal = [k for k in PERSONAL_COLUMNS if piece.get(k)]
        if c.kind == "partially_addressed" and personal:
            found.append(Violation("data minimisation", c, f"partially addressed piece carries {', '.join(personal)}"))
    return found


def check_all(world: World, contacts: Sequence[Contact], rules: Rules,
              pieces: dict[str, dict[str, str]] | None = None) -> list[Violation]:
    found = [v for c in contacts for v in check_contact(world, c, rules)]
    found += check_pieces(world, contacts, pieces) if pieces is not None else []
    return found + check_caps(contacts, rules, unreached_calls(world, contacts)) + check_once(contacts)
