"""One requested contact, from request to claim: context, the contact gate, one atomic write, delivery.

Every channel function runs this; a channel says only what is special about it (when its contact
counts as made, what else is written with the claim, how it is delivered). At most once: the claim
is written before anything leaves, in the same transaction as the cap check and the journey's
move, and a step whose claim exists is never sent again — an unfinished one is reported instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from shared.batching import current_outbox
from shared.campaign import Campaign
from shared.domain.budget import chf_text, micro_chf, month_of, next_month_start, plan_shares, shard_order
from shared.domain.caps import prune
from shared.domain.gate import Person, Place, Request, Verdict, consent_and_law, contact_gate, print_kind
from shared.domain.journey import next_position
from shared.erasure import ERASURE_REASON, erasure_key, identity_subjects
from shared.events import ContactRequested
from shared.handler import Envelope
from shared.metrics import (
    AMBIGUOUS_CLAIMS,
    CONTACTS_DEFERRED,
    CONTACTS_MADE,
    CONTACTS_SKIPPED,
    PROVIDER_REJECTIONS,
    count_decision,
    emit,
)
from shared.settings import Settings
from shared.stores import budget as budget_store
from shared.stores import journeys as journey_store
from shared.stores.dynamo import batch_get
from shared.stores.journeys import Journey
from shared.stores.ledger import (
    Pressure,
    TransactionCancelled,
    claim_put,
    claim_update,
    plain_put,
    pressure_update,
    put_item,
    transact,
    update_claim,
)
from shared.stores.records import PRESSURE_SK, contact_id, contact_sk, decision_sk, expires_at

MAX_CONFLICT_RETRIES = 6
# A claim younger than this may still be on its way out in another invocation; older, it is ambiguous.
# Longer than a function may run (its timeout, 60 s: claim to confirmation happens in one invocation),
# shorter than the channel queues' visibility timeout (360 s): the first redelivery after a crash
# already reports the claim, instead of finding it "in flight" until the message nears its DLQ.
DEFAULT_CLAIM_LEASE_SECONDS = 300.0
Part = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Context:
    household: dict[str, Any] | None
    customer: dict[str, Any] | None
    suppressed: frozenset[str]
    pressure: Pressure
    journey: Journey | None
    claim: dict[str, Any] | None
    erased: bool = False  # an erasure suppression matched: the person asked to be forgotten
    ordered: bool = False  # somebody at the household ordered (before, during or after the journey)


class ClaimInFlight(Exception):
    """Another invocation holds a fresh claim on this step: try the message again later."""


class DeliveryRejected(Exception):
    """The provider refused the message for good (bad address, blocked number): not a retry case."""


class Channel(Protocol):
    name: str
    claim_status: str
    checks_timing: bool  # False: only consent and law now; windows and caps when the contact is made

    def contact_time(self, now: datetime, campaign: Campaign, not_before: datetime | None) -> datetime: ...

    def extra_parts(self, req: ContactRequested, ctx: Context, claim: dict[str, Any],
                    campaign: Campaign) -> list[Part]: ...

    def deliver(self, req: ContactRequested, ctx: Context, claim: dict[str, Any],
                campaign: Campaign) -> dict[str, Any] | None: ...


@dataclass
class Outcome:
    action: str
    reason: str
    claim: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_context(s: Settings, req: ContactRequested, sk: str) -> Context:
    """Everything the gate needs for one request (see `load_contexts`)."""
    return load_contexts(s, [(req, sk)])[(req.household_id, sk)]


def load_contexts(s: Settings, wanted: Sequence[tuple[ContactRequested, str]]) -> dict[tuple[str, str], Context]:
    """Everything the gate needs for each (request, claim key), in one BatchGetItem across the tables for
    up to about ten requests, and one more for the erasure records of their customers."""
    keys: dict[str, list[dict[str, Any]]] = {s.households_table: [], s.suppression_table: [], s.contacts_table: [],
                                             s.journeys_table: [], s.customers_table: []}
    for req, sk in wanted:
        keys[s.households_table].append({"household_id": req.household_id})
        keys[s.suppression_table].append({"subject": f"household#{req.household_id}"})
        keys[s.contacts_table] += [{"household_id": req.household_id, "sk": PRESSURE_SK},
                                   {"household_id": req.household_id, "sk": sk}]
        keys[s.journeys_table].append({"household_id": req.household_id})
        if req.customer_id:
            keys[s.suppression_table].append({"subject": f"customer#{req.customer_id}"})
            keys[s.customers_table].append({"household_id": req.household_id, "customer_id": req.customer_id})
    found = batch_get({table: table_keys for table, table_keys in keys.items() if table_keys})
    households = {i["household_id"]: i for i in found.get(s.households_table, [])}
    journeys = {i["household_id"]: i for i in found.get(s.journeys_table, [])}
    contacts = {(i["household_id"], i["sk"]): i for i in found.get(s.contacts_table, [])}
    customers = {(i["household_id"], i["customer_id"]): i for i in found.get(s.customers_table, [])}
    suppressions = {i["subject"]: i for i in found.get(s.suppression_table, [])}
    identity = _identity_suppressions(s, list(customers.values()))
    contexts = {}
    for req, sk in wanted:
        customer = customers.get((req.household_id, req.customer_id or "")) if req.customer_id else None
        subjects = [f"household#{req.household_id}"] + ([f"customer#{req.customer_id}"] if req.customer_id else [])
        own = [suppressions[x] for x in subjects if x in suppressions]
        own += [identity[x] for x in identity_subjects_of(s, customer) if x in identity]
        journey = journeys.get(req.household_id)
        contexts[(req.household_id, sk)] = Context(
            household=households.get(req.household_id),
            customer=customer,
            suppressed=frozenset(c for i in own for c in i.get("channels", [])),
            pressure=Pressure.from_item(req.household_id, contacts.get((req.household_id, PRESSURE_SK))),
            journey=Journey.from_item(journey) if journey else None,
            claim=contacts.get((req.household_id, sk)),
            erased=any(i.get("reason") == ERASURE_REASON for i in own),
            ordered=bool(suppressions.get(f"household#{req.household_id}", {}).get("ordered_at")),
        )
    return contexts


def identity_subjects_of(s: Settings, customer: dict[str, Any] | None) -> list[str]:
    """The erasure records that would name this customer's address or number (hashed)."""
    if customer is None or not (customer.get("email") or customer.get("mobile")):
        return []
    return identity_subjects(erasure_key(s.unsubscribe_secret_arn), customer.get("email"), customer.get("mobile"))


def _identity_suppressions(s: Settings, customers: Sequence[dict[str, Any] | None]) -> dict[str, dict[str, Any]]:
    """Erasure records keyed by the hashed address and number: they catch an erased person who comes
    back under a new customer id. A second read, because the hashes need the customer items first."""
    subjects = sorted({x for c in customers for x in identity_subjects_of(s, c)})
    if not subjects:
        return {}
    found = batch_get({s.suppression_table: [{"subject": x} for x in subjects]})[s.suppression_table]
    return {i["subject"]: i for i in found}


def read_ahead(envelopes: Sequence[Envelope]) -> None:
    """The contexts of a whole SQS batch of ContactRequested in two requests (the `prepare` of the
    channel handlers); `handle_request` takes each one once, for its first try."""
    from shared.batching import batch_outbox
    from shared.settings import settings

    requests = [ContactRequested.model_validate(e.detail) for e in envelopes]
    wanted = [(r, contact_sk(r.journey_id, r.cycle, r.step, r.attempt)) for r in requests]
    batch_outbox().memo.update(load_contexts(settings(), wanted))


def person_of(customer: dict[str, Any] | None) -> Person | None:
    if customer is None:
        return None
    return Person(
        customer_id=customer["customer_id"],
        has_internet=bool(customer.get("has_internet")),
        has_mobile=bool(customer.get("has_mobile")),
        email=customer.get("email"),
        mobile=customer.get("mobile"),
        phone_listing=customer.get("phone_listing", "unlisted"),
        email_consent=bool(customer.get("email_consent")),
        sms_consent=bool(customer.get("sms_consent")),
        call_consent=bool(customer.get("call_consent")),
        do_not_call=bool(customer.get("do_not_call")),
        do_not_mail=bool(customer.get("do_not_mail")),
    )


def place_of(household: dict[str, Any]) -> Place:
    from shared.domain.journey import parse_marketable

    return Place(
        household_id=household["household_id"],
        marketable_from=parse_marketable(household["marketable_from"]),  # a date or an instant
        canton=household["canton"],
        no_ads_sticker=bool(household.get("no_ads_sticker")),
    )


def decision_item(s: Settings, campaign: Campaign, req: ContactRequested, at: datetime, decision: str,
                  reason: str, salt: str) -> dict[str, Any]:
    return {
        "household_id": req.household_id,
        "sk": decision_sk(at, salt),
        "customer_id": req.customer_id,
        "channel": req.channel,
        "at": at.astimezone(campaign.tz).isoformat(),
        "decision": decision,
        "reason": reason,
        "journey_id": req.journey_id,
        "cycle": req.cycle,
        "step": req.step,
        "expires_at": expires_at(at, campaign.config.retention_days),
    }


def handle_request(s: Settings, campaign: Campaign, req: ContactRequested, now: datetime,
                   channel: Channel) -> Outcome:
    """Gate one requested step and write its outcome; retried on a lost race for the pressure item."""
    sk = contact_sk(req.journey_id, req.cycle, req.step, req.attempt)
    not_before: datetime | None = None
    outbox = current_outbox()
    ahead = outbox.memo if outbox is not None else {}
    for _ in range(MAX_CONFLICT_RETRIES):
        ctx = ahead.pop((req.household_id, sk), None) or load_context(s, req, sk)  # read ahead: first try only
        stale = _stale(s, campaign, req, ctx, sk, now)
        if stale is not None:
            return stale
        at = channel.contact_time(now, campaign, not_before)
        judged = judge(campaign, req, ctx, at, timing=channel.checks_timing)
        offered = req.model_copy(update={"offer_id": judged.offer_id}) if judged.offer_id != req.offer_id else req
        verdict, reservation = judged.verdict, None
        if verdict.action == "send" and channel.checks_timing:  # a contact made now is paid now
            verdict, reservation = _reserve(s, campaign, offered, at, verdict)
        try:
            return _commit(s, campaign, offered, ctx, sk, now, at, verdict, channel, reservation,
                           end_journey=judged.ends_journey)
        except TransactionCancelled as exc:
            shares = len(reservation.shares) if reservation else 0
            outcome, not_before = _after_conflict(exc.reasons, at, verdict, not_before, shares)
            if outcome is not None:
                return outcome
    raise RuntimeError(f"contact for household step {sk} kept losing races; retried {MAX_CONFLICT_RETRIES} times")


@dataclass(frozen=True)
class Judgement:
    """The gate's verdict on a contact at the moment it would leave, and the offer it would advertise."""

    verdict: Verdict
    offer_id: str  # the requested offer, or another valid one when the requested one is no longer valid
    ends_journey: bool = False  # no offer may be shown any more: the journey ends with the reason


def judge(campaign: Campaign, req: ContactRequested, ctx: Context, at: datetime, *, timing: bool = True,
          window_at: datetime | None = None, own: tuple[str, datetime] | None = None) -> Judgement:
    """The contact gate on the state of this moment (design rule 9), for every channel and every effect:
    a send, a piece closed into a batch at the cut-off, a call put on the day's list.

    Beside the request it reads the journey as it is now (ended, replaced by a new one), an order at the
    household, the customer's current CRM record (missing: left, moved or retired), the offer's validity
    on the day, and the caps without the contact's own reserved place (`own`: a piece already counted).
    """
    assert ctx.household is not None
    offer_id, offer_refusal = current_offer(campaign, req, ctx, at)
    journey = ctx.journey
    replaced = journey is not None and journey.journey_id != req.journey_id
    history = list(ctx.pressure.history)
    if own is not None and own in history:
        history.remove(own)
    request = Request(
        channel=req.channel,
        target_group=req.target_group,
        person=person_of(ctx.customer),
        place=place_of(ctx.household),
        suppressed=ctx.suppressed,
        history=history,
        at=at,
        journey_over=journey is None or journey.status == "ended" or replaced,
        journey_end=("replaced by a new journey (re-segmented)" if replaced else
                     journey.end_reason if journey is not None and journey.status == "ended" else None),
        ordered=ctx.ordered,
        customer_missing=bool(req.customer_id) and ctx.customer is None,
        offer_refusal=offer_refusal,
        window_at=window_at,
    )
    policy = campaign.gate_policy
    if timing:
        verdict = contact_gate(request, policy)
    else:
        refusal = consent_and_law(request, policy)
        kind = print_kind(req.target_group, request.person) if req.channel == "print" else None
        verdict = Verdict("skip", refusal) if refusal else Verdict("send", "passed consent and law", kind=kind)
    if verdict.action != "skip":
        return Judgement(verdict, offer_id)
    if ctx.erased and verdict.reason == "suppressed: all":
        return Judgement(Verdict("skip", "suppressed: all (erasure: the person asked to be forgotten)"), offer_id)
    return Judgement(verdict, offer_id, ends_journey=verdict.reason == offer_refusal)


def current_offer(campaign: Campaign, req: ContactRequested, ctx: Context, at: datetime) -> tuple[str, str | None]:
    """The offer a contact at `at` advertises: the requested one while it is valid, else the household's best
    eligible offer of that day; with the reason when there is none (`shared.offers.offer_on`)."""
    from shared.offers import Household, offer_on

    household, customer = ctx.household or {}, ctx.customer or {}
    current = customer.get("internet_down_mbps")
    return offer_on(campaign.offers, req.offer_id, Household(
        req.target_group, int(household.get("max_down_mbps") or 0), int(current) if current else None,
        str(household.get("canton", "")), str(household.get("commune", ""))), at.astimezone(campaign.tz).date())


def _stale(s: Settings, campaign: Campaign, req: ContactRequested, ctx: Context, sk: str,
           now: datetime) -> Outcome | None:
    """A request the journey has moved past: a duplicate, a request whose journey ended or was replaced since
    it was made (a decision says so: nothing ends in silence), or the trace of a crash to report."""
    journey = ctx.journey
    if ctx.claim is not None and ctx.claim.get("status") == "claimed":
        if time.time() - float(ctx.claim.get("claimed_epoch", 0)) < _lease_seconds():
            raise ClaimInFlight(f"step {sk} is claimed by an invocation that may still be sending")
        update_claim(s.contacts_table, req.household_id, sk, status="ambiguous")
        item = decision_item(s, campaign, req, now, "skipped",
                             "ambiguous claim: claimed but not confirmed sent; never resent", sk + "#ambiguous")
        put_item(s.contacts_table, item)
        emit(AMBIGUOUS_CLAIMS)
        count_decision(CONTACTS_SKIPPED, req.channel, req.target_group, "ambiguous claim")
        return Outcome("skip", "ambiguous claim", claim=ctx.claim)
    if ctx.claim is not None:
        return Outcome("duplicate", "step already handled")
    reason = None
    if ctx.household is None or journey is None:
        reason = "unknown household or journey"
    elif journey.journey_id != req.journey_id:
        reason = "journey replaced by a new one (re-segmented) since the request"
    elif journey.status != "live":
        reason = f"journey {journey.status} since the request: {journey.end_reason}"
    if reason is not None:
        # A key of the step alone: a redelivered request records the same decision once.
        put_item(s.contacts_table, decision_item(s, campaign, req, now, "skipped", reason, sk)
                 | {"sk": f"decision#stale#{sk}"})
        count_decision(CONTACTS_SKIPPED, req.channel, req.target_group, reason)
        return Outcome("skip", reason)
    assert journey is not None
    if (journey.cycle, journey.step) != (req.cycle, req.step):
        return Outcome("duplicate", "step already handled")
    return None


def _reserve(s: Settings, campaign: Campaign, req: ContactRequested, at: datetime,
             verdict: Verdict) -> tuple[Verdict, budget_store.Reservation | None]:
    """The contact's cost from its month's budget shards, or a deferral to next month when they are short.

    Deferring (not switching to a cheaper channel) keeps every journey's plan: the step goes out
    when the next month's budget opens, and the decision says why."""
    cost = unit_cost(campaign, req.channel, verdict.kind)
    reservation, short = reserve_budget(s, campaign, req.household_id, cost, at)
    if reservation is not None:
        return verdict, reservation
    return Verdict("defer", short, until=next_month_start(at, campaign.tz)), None


def reserve_budget(s: Settings, campaign: Campaign, household_id: str, cost_chf: float,
                   at: datetime, *, fresh: bool = False) -> tuple[budget_store.Reservation | None, str]:
    """Where in the budget of `at`'s month a contact's cost can come from, or why the month cannot pay.

    Planned on what this process last knew of the month (the shares are conditioned in the contact's
    transaction, so a stale plan only loses a race and is planned again); a month that looks short is
    read afresh before the contact is deferred. `fresh`: read the month first (a caller that cannot
    simply try again when it loses a race)."""
    cost = micro_chf(cost_chf, round_up=True)
    month = month_of(at, campaign.tz)
    monthly = micro_chf(campaign.config.budget_chf.monthly, round_up=False)
    remaining: dict[int, int] = {}
    for read_again in ((True,) if fresh else (False, True)):
        remaining = budget_store.month_remaining(s.budget_table, month, monthly, fresh=read_again)
        shares = plan_shares(remaining, shard_order(household_id, len(remaining)), cost)
        if shares is not None:
            return budget_store.Reservation(month, tuple(shares)), ""
    left = sum(max(0, r) for r in remaining.values())
    return None, f"monthly budget exhausted (CHF {chf_text(left)} of {chf_text(monthly)} left in {month})"


def _commit(s: Settings, campaign: Campaign, req: ContactRequested, ctx: Context, sk: str, now: datetime,
            at: datetime, verdict: Verdict, channel: Channel,
            reservation: budget_store.Reservation | None = None, *, end_journey: bool = False) -> Outcome:
    assert ctx.journey is not None
    journey_cfg = campaign.config.journeys[req.target_group]
    if verdict.action == "defer":
        assert verdict.until is not None
        move = journey_store.defer_update(s.journeys_table, req.household_id, req.cycle, req.step, verdict.until,
                                          journey_id=req.journey_id)
        reason = f"{verdict.reason}; due again {verdict.until.astimezone(campaign.tz).isoformat()}"
        decision = decision_item(s, campaign, req, now, "deferred", reason, f"{sk}#{now.isoformat()}")
        transact([("Update", move), ("Put", plain_put(s.contacts_table, decision))])
        count_decision(CONTACTS_DEFERRED, req.channel, req.target_group, verdict.reason)
        return Outcome("defer", verdict.reason)
    position = ctx.journey.position
    if verdict.action == "send" and req.step == 1:
        # A cycle runs from its first contact, not from its plan: a letter that waits for Monday's
        # cut-off, or an SMS for the morning, moves the cycle's later steps and the next cycle with it.
        position = replace(position, cycle_started_at=at)
    nxt = None if end_journey else next_position(journey_cfg, position, campaign.tz)
    advance = journey_store.advance_update(s.journeys_table, req.household_id, req.cycle, req.step, nxt,
                                           offer_id=req.offer_id, ended=verdict.reason if end_journey else None,
                                           journey_id=req.journey_id, expiry=(now, campaign.config.retention_days))
    if verdict.action == "skip":
        decision = decision_item(s, campaign, req, now, "skipped", verdict.reason, sk + "#skip")
        transact([("Update", advance), ("Put", plain_put(s.contacts_table, decision))])
        count_decision(CONTACTS_SKIPPED, req.channel, req.target_group, verdict.reason)
        return Outcome("skip", verdict.reason)
    claim = _claim(campaign, req, ctx, sk, at, verdict, channel.claim_status)
    claim |= reservation.claim_fields() if reservation else {}  # what to give back if delivery fails
    parts: list[Part] = [("Put", claim_put(s.contacts_table, claim)), ("Update", advance)]
    if channel.checks_timing:
        history = prune([*ctx.pressure.history, (req.channel, at)], now, campaign.gate_policy.caps)
        parts.append(("Update", pressure_update(s.contacts_table, ctx.pressure, history)))
    parts += channel.extra_parts(req, ctx, claim, campaign)
    if reservation is not None:  # last, so _after_conflict knows the budget's parts by their place
        parts += reservation.parts(s.budget_table)
    try:
        transact(parts)
    except TransactionCancelled:
        if reservation is not None:
            budget_store.forget(s.budget_table, reservation.month)  # may have lost to another contact
        raise
    if reservation is not None:
        reserved(s, campaign, reservation, at)
    return _deliver(s, campaign, req, ctx, claim, channel)


def reserved(s: Settings, campaign: Campaign, reservation: budget_store.Reservation, at: datetime) -> None:
    """A committed reservation: known to this process's view of the month, and counted in the budget's metrics
    (the CHF reserved, and the month's pace as this process knows the month)."""
    from shared.domain.budget import MICRO, spending_pace
    from shared.metrics import BUDGET_PACE, BUDGET_RESERVED

    budget_store.taken(s.budget_table, reservation)
    emit(BUDGET_RESERVED, sum(amount for _, amount in reservation.shares) / MICRO)
    monthly = micro_chf(campaign.config.budget_chf.monthly, round_up=False)
    left = sum(budget_store.month_remaining(s.budget_table, reservation.month, monthly, fresh=False).values())
    emit(BUDGET_PACE, spending_pace(monthly - left, monthly, at, campaign.tz))


def _deliver(s: Settings, campaign: Campaign, req: ContactRequested, ctx: Context, claim: dict[str, Any],
             channel: Channel) -> Outcome:
    try:
        sent = channel.deliver(req, ctx, claim, campaign)
    except DeliveryRejected as exc:
        update_claim(s.contacts_table, req.household_id, claim["sk"], status="failed", failure=str(exc))
        # Given back after the claim failed: a crash in between strands the money, never overspends it.
        budget_store.release(s.budget_table, claim)
        # Nothing lost: a step that did not go out is a skip with its reason, like any refused by the gate.
        put_item(s.contacts_table, decision_item(s, campaign, req, datetime.fromisoformat(claim["at"]), "skipped",
                                                 str(exc), claim["sk"] + "#rejected"))
        emit(PROVIDER_REJECTIONS, channel=req.channel)
        count_decision(CONTACTS_SKIPPED, req.channel, req.target_group, "provider rejected")
        return Outcome("skip", f"provider rejected: {exc}", claim=claim)
    if sent is not None:
        _confirm(s, req.household_id, claim["sk"], sent)
        emit(CONTACTS_MADE, channel=req.channel, target_group=req.target_group)
    return Outcome("send", "sent" if sent is not None else channel.claim_status, claim=claim)


def _confirm(s: Settings, household_id: str, sk: str, sent: dict[str, Any]) -> None:
    """The claim marked sent: with the batch's other confirmations in one request when in a batch.
    Until it is written the claim reads as in flight, then (after the lease) as ambiguous: never resent."""
    outbox = current_outbox()
    if outbox is None:
        update_claim(s.contacts_table, household_id, sk, status="sent", **sent)
    else:
        outbox.write(f"contacts#{household_id}#{sk}", "Update",
                     claim_update(s.contacts_table, household_id, sk, status="sent", **sent))


def _after_conflict(reasons: Sequence[str], at: datetime, verdict: Verdict, not_before: datetime | None,
                    budget_parts: int = 0) -> tuple[Outcome | None, datetime | None]:
    """Which part lost: the claim (a duplicate), the journey (moved on), a budget shard another contact
    drew on since it was read (the last `budget_parts`: read again), or a retryable race."""
    if verdict.action == "send" and reasons and reasons[0] == "ConditionalCheckFailed":
        return Outcome("duplicate", "step already claimed"), not_before
    failed = [i for i, r in enumerate(reasons) if r == "ConditionalCheckFailed"]
    if budget_parts and any(i >= len(reasons) - budget_parts for i in failed):
        return None, not_before
    if verdict.action == "send" and any(i >= 3 for i in failed):
        from datetime import timedelta

        return None, at + timedelta(minutes=1)  # the channel's own condition (a closed batch): go later
    return None, not_before


def _claim(campaign: Campaign, req: ContactRequested, ctx: Context, sk: str, at: datetime, verdict: Verdict,
           status: str) -> dict[str, Any]:
    kind = verdict.kind
    cost = unit_cost(campaign, req.channel, kind)
    return {
        "household_id": req.household_id,
        "sk": sk,
        "contact_id": contact_id(req.household_id, sk),
        "customer_id": None if kind == "partially_addressed" else req.customer_id,
        "target_group": req.target_group,
        "channel": req.channel,
        "kind": kind,
        "journey_id": req.journey_id,
        "cycle": req.cycle,
        "step": req.step,
        "attempt": req.attempt,
        "offer_id": req.offer_id,
        "at": at.astimezone(campaign.tz).isoformat(),
        "status": status,
        "cost_chf": cost,
        "expires_at": expires_at(at, campaign.config.retention_days),
        "claimed_epoch": time.time(),
    }


def unit_cost(campaign: Campaign, channel: str, kind: str | None) -> float:
    """What one contact on the channel costs (print: by kind), in CHF, from the config (`shared.domain.cost`)."""
    from shared.domain.cost import unit_cost as cost_of

    return cost_of(campaign.config.unit_cost_chf, channel, kind)


def _lease_seconds() -> float:
    return float(os.environ.get("CLAIM_LEASE_SECONDS", DEFAULT_CLAIM_LEASE_SECONDS))
