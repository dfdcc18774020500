"""Withdrawing a contact that was requested but has not left: judged again at the moment it would leave.

A letter waits in an open batch for the cut-off, a call in the queue for the morning's list. Whatever
arrived meanwhile decides (design rule 9): when the gate, asked again at that moment, says the contact may
no longer go, it is withdrawn in one transaction — its claim marked `withdrawn`, its place in the caps given
back, a decision recorded (skipped, or deferred with the step put back in the journey), the journey ended
when no offer may be shown any more — and its budget reservation is given back after.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from shared.campaign import Campaign
from shared.dispatch import Context, Part, decision_item, judge, load_context
from shared.domain.gate import Verdict
from shared.events import ContactRequested
from shared.metrics import CONTACTS_DEFERRED, CONTACTS_SKIPPED, count_decision
from shared.settings import Settings
from shared.stores import budget as budget_store
from shared.stores import journeys as journey_store
from shared.stores.dynamo import to_item
from shared.stores.ledger import TransactionCancelled, claim_update, plain_put, pressure_update, transact
from shared.stores.records import contact_sk

MAX_TRIES = 4


def judge_or_withdraw(s: Settings, campaign: Campaign, req: ContactRequested, ctx: Context, now: datetime, *,
                      own: tuple[str, datetime] | None, kind: str | None = None,
                      extra_parts: list[Part] | None = None) -> tuple[Verdict | None, str]:
    """None and the offer to advertise when the contact may still leave now; else the verdict, after the
    contact was withdrawn (with `extra_parts` in the same transaction: the piece out of its batch)."""
    sk = contact_sk(req.journey_id, req.cycle, req.step, req.attempt)
    for _ in range(MAX_TRIES):
        judged = judge(campaign, req, ctx, now, own=own)
        verdict = judged.verdict
        if verdict.action == "send" and (kind is None or verdict.kind == kind):
            return None, judged.offer_id
        if verdict.action == "send":
            verdict = Verdict("skip", f"print kind changed since it was batched ({kind} -> {verdict.kind})")
        try:
            verdict = withdraw(s, campaign, req, ctx, sk, now, verdict, own=own, ends_journey=judged.ends_journey,
                               extra_parts=extra_parts or [])
            return verdict, judged.offer_id
        except TransactionCancelled:
            ctx = load_context(s, req, sk)  # a contact, a response or another run moved something: again
            if ctx.claim is None or ctx.claim.get("status") not in ("batched", "queued") or ctx.household is None:
                return Verdict("skip", "already handled"), judged.offer_id
    raise RuntimeError(f"withdrawal of {sk} kept losing races; tried {MAX_TRIES} times")


def withdraw(s: Settings, campaign: Campaign, req: ContactRequested, ctx: Context, sk: str, now: datetime,
             verdict: Verdict, *, own: tuple[str, datetime] | None, ends_journey: bool = False,
             extra_parts: list[Part] | None = None) -> Verdict:
    """Withdraw the claimed contact with this verdict (skip, or defer: the step back in the journey, due at
    `until`); returns the verdict as recorded (a deferral whose journey moved on becomes a skip)."""
    assert ctx.claim is not None
    parts: list[Part] = list(extra_parts or [])
    rewind = _rewind(s, campaign, req, ctx, verdict.until) if verdict.action == "defer" else None
    if verdict.action == "defer" and rewind is None:
        verdict = Verdict("skip", f"{verdict.reason}; the journey has moved on since, so the step is skipped")
    if rewind is not None:
        assert verdict.until is not None
        parts.append(("Update", rewind))
        reason = f"{verdict.reason}; due again {verdict.until.astimezone(campaign.tz).isoformat()}"
    else:
        reason = verdict.reason
    journey = ctx.journey
    if ends_journey and journey is not None and journey.journey_id == req.journey_id and journey.status == "live":
        parts.append(("Update", journey_store.end_update(s.journeys_table, req.household_id, reason, now,
                                                         journey_id=req.journey_id,
                                                         retention_days=campaign.config.retention_days)))
    if own is not None and own in ctx.pressure.history:
        history = list(ctx.pressure.history)
        history.remove(own)  # the contact never left: its place in the caps goes back
        parts.append(("Update", pressure_update(s.contacts_table, ctx.pressure, history)))
    parts.append(_release_claim(s, campaign, req, ctx.claim, sk, now, reason, deferred=rewind is not None))
    decision = "deferred" if rewind is not None else "skipped"
    item = decision_item(s, campaign, req, now, decision, f"withdrawn when it would leave: {reason}", sk)
    parts.append(("Put", plain_put(s.contacts_table, item)))
    transact(parts)
    count_decision(CONTACTS_DEFERRED if rewind is not None else CONTACTS_SKIPPED, req.channel, req.target_group,
                   verdict.reason)
    budget_store.release(s.budget_table, ctx.claim)  # after: a crash in between strands money, never overspends
    return Verdict("defer" if rewind is not None else "skip", reason, until=verdict.until)


def _release_claim(s: Settings, campaign: Campaign, req: ContactRequested, claim: dict[str, Any], sk: str,
                   now: datetime, reason: str, *, deferred: bool) -> Part:
    """The claim of a contact that never left, conditioned on its status as read: `withdrawn` when its step is
    over, deleted when the step goes back in the journey (so the step can be claimed again when it is due)."""
    was = {":was": {"S": str(claim["status"])}}
    if deferred:
        return ("Delete", {"TableName": s.contacts_table, "Key": to_item({"household_id": req.household_id,
                                                                           "sk": sk}),
                           "ConditionExpression": "#status = :was", "ExpressionAttributeNames": {"#status": "status"},
                           "ExpressionAttributeValues": was})
    withdrawn = claim_update(s.contacts_table, req.household_id, sk, status="withdrawn", withdrawn_reason=reason,
                             withdrawn_at=now.astimezone(campaign.tz).isoformat())
    withdrawn["ConditionExpression"] = "#status = :was"
    withdrawn["ExpressionAttributeValues"] |= was
    return ("Update", withdrawn)


def _rewind(s: Settings, campaign: Campaign, req: ContactRequested, ctx: Context,
            until: datetime | None) -> dict[str, Any] | None:
    """The journey put back at the withdrawn step, due at `until` — only while it still stands right after
    that step and has not requested the next one (else the next step's claim would block it for good)."""
    journey = ctx.journey
    if until is None or journey is None or journey.journey_id != req.journey_id or journey.status == "ended":
        return None
    cfg = campaign.config.journeys[req.target_group]
    last = len(cfg.steps)
    if journey.status == "completed":
        if (req.cycle, req.step) != (cfg.max_cycles, last):
            return None
        started = journey.cycle_started_at
    else:
        successor = (req.cycle, req.step + 1) if req.step < last else (req.cycle + 1, 1)
        if (journey.cycle, journey.step) != successor or journey.state != "ready":
            return None
        started = journey.cycle_started_at if journey.cycle == req.cycle else (
            journey.cycle_started_at - timedelta(days=cfg.repeat_every_days))
    position = replace(journey.position, cycle=req.cycle, step=req.step,
                       cycle_started_at=until if req.step == 1 else started, due_at=until)
    return journey_store.rewind_update(s.journeys_table, journey, position)

