"""The contact gate: send, defer or skip one requested contact, with the reason — the same for every channel.

Checks run from the most final to the most passing: what makes a contact unlawful or unwanted
skips it for good; what only makes it untimely (fair play, windows, caps) defers it to the first
instant at which it may go out, so nothing is dropped for being early.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from shared.domain.caps import CapPolicy, allowed, blocking_caps, earliest_allowed
from shared.domain.journey import marketable_start
from shared.domain.phone import why_not_mobile
from shared.domain.windows import ContactWindow, is_open, next_opening

PARTIALLY_ADDRESSED = "partially_addressed"  # the household-level suppression of a resident's objection to mail

Action = Literal["send", "defer", "skip"]
PrintKind = Literal["personalised", "partially_addressed"]


@dataclass(frozen=True)
class Person:
    customer_id: str
    has_internet: bool
    has_mobile: bool
    email: str | None
    mobile: str | None
    phone_listing: str
    email_consent: bool
    sms_consent: bool
    call_consent: bool
    do_not_call: bool
    do_not_mail: bool


@dataclass(frozen=True)
class Place:
    household_id: str
    marketable_from: date | datetime  # a date (00:00 in the campaign's time zone) or an instant
    canton: str
    no_ads_sticker: bool


@dataclass(frozen=True)
class GatePolicy:
    caps: CapPolicy
    windows: Mapping[str, ContactWindow]
    respect_star_entries: bool
    tz: ZoneInfo


@dataclass(frozen=True)
class Request:
    channel: str
    target_group: str
    person: Person | None
    place: Place
    suppressed: frozenset[str]
    history: Sequence[tuple[str, datetime]]
    at: datetime
    journey_over: bool = False
    journey_end: str | None = None  # why the journey ended (order, objection, re-segmented), for the reason
    ordered: bool = False  # somebody at the household ordered: no contact after an order, whatever the journey
    customer_missing: bool = False  # the journey's customer is not in the current CRM extract at this household
    offer_refusal: str | None = None  # no offer the household may be shown at `at` (expired, not yet valid)
    window_at: datetime | None = None  # when the channel's window is checked, if not `at` (calls: today's opening)


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str
    until: datetime | None = None
    kind: PrintKind | None = None


def print_kind(target_group: str, person: Person | None) -> PrintKind:
    return "personalised" if person is not None and target_group != "prospect" else "partially_addressed"


def consent_and_law(request: Request, policy: GatePolicy) -> str | None:
    """Why this person may not be contacted on this channel at all, or None."""
    refusal = _state_refusal(request, policy)
    if refusal is not None:
        return refusal
    channel, person = request.channel, request.person
    if channel == "print":
        return _print_rule(request)
    if person is None or request.target_group == "prospect":
        return f"prospects get partially addressed mail only, no {channel}"
    if channel == "email":
        return None if person.email and person.email_consent else (
            "no email address" if not person.email else "no email consent")
    if channel == "sms":
        if not person.has_mobile or not person.mobile:
            return "no mobile subscription or number"
        if (not_mobile := why_not_mobile(person.mobile)) is not None:
            return not_mobile  # a landline in the mobile column: no SMS, still a number to call
        return None if person.sms_consent else "no SMS consent"
    if channel == "call":
        return _call_rule(person, policy)
    return f"unknown channel {channel}"


def _state_refusal(request: Request, policy: GatePolicy) -> str | None:
    """What the state of the moment forbids whatever the channel's own rules: an order, an ended journey,
    an objection, a channel switched off, a customer the CRM no longer has here, an offer that may not be
    shown."""
    if request.ordered:
        return "ordered: no contact after an order"
    if request.journey_over:
        return f"journey ended ({request.journey_end})" if request.journey_end else "journey over (order or objection)"
    for blocked in ("all", request.channel):
        if blocked in request.suppressed:
            return f"suppressed: {blocked}"
    if (switched_off := policy.caps.switched_off(request.channel)) is not None:
        return switched_off
    if request.customer_missing:
        return "customer not in the current CRM extract at this household (left, moved or retired)"
    return request.offer_refusal


def _print_rule(request: Request) -> str | None:
    person = request.person
    if print_kind(request.target_group, person) == "partially_addressed":
        if PARTIALLY_ADDRESSED in request.suppressed:
            return "a resident objected to mail: no partially addressed mail to the household"
        return "no-advertising sticker on the letter box" if request.place.no_ads_sticker else None
    assert person is not None
    return "do_not_mail" if person.do_not_mail else None


def _call_rule(person: Person, policy: GatePolicy) -> str | None:
    if person.do_not_call:
        return "do_not_call"
    if not person.mobile:
        return "no phone number"
    if policy.respect_star_entries and person.phone_listing != "listed" and not person.call_consent:
        return f"{person.phone_listing} directory entry without call consent (UWG art. 3 u)"
    return None


def timing(request: Request, policy: GatePolicy) -> Verdict | None:
    """A deferral when fair play, the channel's window or a cap holds the contact back, else None."""
    start = marketable_start(request.place.marketable_from, policy.tz)
    if request.at < start:
        return Verdict("defer", "before marketable_from (fair play)", until=start)
    window = policy.windows.get(request.channel)
    canton = request.place.canton
    window_at = request.window_at or request.at
    if window is not None and not is_open(window, window_at, canton, policy.tz):
        opening = next_opening(window, window_at, canton, policy.tz)
        return Verdict("defer", f"outside the {request.channel} window", until=opening)
    if not allowed(request.history, request.channel, request.at, policy.caps):
        until = earliest_allowed(request.history, request.channel, request.at, policy.caps)
        if window is not None:
            until = next_opening(window, until, canton, policy.tz)
        caps = "; ".join(blocking_caps(request.history, request.channel, request.at, policy.caps))
        return Verdict("defer", f"contact pressure cap ({caps})", until=until)
    return None


def contact_gate(request: Request, policy: GatePolicy) -> Verdict:
    """Send, defer or skip, with the reason that a person reading decisions.jsonl can act on."""
    refusal = consent_and_law(request, policy)
    if refusal is not None:
        return Verdict("skip", refusal)
    deferral = timing(request, policy)
    if deferral is not None:
        return deferral
    kind = print_kind(request.target_group, request.person) if request.channel == "print" else None
    return Verdict("send", "passed the contact gate", kind=kind)
