"""The contact gate: send, defer or skip, with a reason, for every channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.domain.caps import Cap, CapPolicy
from shared.domain.gate import GatePolicy, Person, Place, Request, contact_gate
from shared.domain.windows import ContactWindow

TZ = ZoneInfo("Europe/Zurich")
POLICY = GatePolicy(
    caps=CapPolicy(per_channel={"email": Cap(1, 7), "sms": Cap(1, 7), "print": Cap(1, 14), "call": Cap(1, 7)},
                   all_channels=Cap(3, 30)),
    windows={"sms": ContactWindow.from_spec("08:00-20:00", "09:00-16:00"),
             "call": ContactWindow.from_spec("08:00-20:30", "09:00-16:00")},
    respect_star_entries=True,
    tz=TZ,
)
ANNA = Person(customer_id="C1", has_internet=True, has_mobile=True, email="anna@example.ch", mobile="+41791234567",
              phone_listing="listed", email_consent=True, sms_consent=True, call_consent=False, do_not_call=False,
              do_not_mail=False)
HOUSE = Place(household_id="H1", marketable_from=date(2026, 3, 10), canton="ZH", no_ads_sticker=False)
TUESDAY_10 = datetime(2026, 3, 17, 10, 0, tzinfo=TZ)


def ask(channel: str, **changes: object) -> Request:
    request = Request(channel=channel, target_group="upgrade", person=ANNA, place=HOUSE, suppressed=frozenset(),
                      history=(), at=TUESDAY_10)
    return replace(request, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("channel", ["email", "sms", "print", "call"])
def test_a_willing_customer_in_time_passes(channel: str) -> None:
    assert contact_gate(ask(channel), POLICY).action == "send"


def test_no_contact_before_marketable_from_it_waits_for_local_midnight() -> None:
    verdict = contact_gate(ask("email", at=datetime(2026, 3, 9, 12, tzinfo=TZ)), POLICY)
    assert (verdict.action, verdict.until) == ("defer", datetime(2026, 3, 10, tzinfo=TZ))


@pytest.mark.parametrize(("channel", "person_change", "reason"), [
    ("email", {"email_consent": False}, "no email consent"),
    ("email", {"email": None}, "no email address"),
    ("sms", {"sms_consent": False}, "no SMS consent"),
    ("sms", {"has_mobile": False}, "no mobile subscription or number"),
    ("call", {"do_not_call": True}, "do_not_call"),
    ("call", {"phone_listing": "starred"}, "UWG art. 3 u"),
    ("call", {"phone_listing": "unlisted"}, "UWG art. 3 u"),
    ("print", {"do_not_mail": True}, "do_not_mail"),
])
def test_consent_and_the_law_skip_with_the_reason(channel: str, person_change: dict[str, object], reason: str) -> None:
    verdict = contact_gate(ask(channel, person=replace(ANNA, **person_change)), POLICY)  # type: ignore[arg-type]
    assert verdict.action == "skip"
    assert reason in verdict.reason


def test_a_starred_number_with_call_consent_may_be_called() -> None:
    person = replace(ANNA, phone_listing="starred", call_consent=True)
    assert contact_gate(ask("call", person=person), POLICY).action == "send"


@pytest.mark.parametrize(("blocked", "channel"), [("email", "email"), ("all", "sms"), ("print", "print")])
def test_suppression_blocks_its_channel_or_all(blocked: str, channel: str) -> None:
    verdict = contact_gate(ask(channel, suppressed=frozenset({blocked})), POLICY)
    assert (verdict.action, verdict.reason) == ("skip", f"suppressed: {blocked}")


def test_prospects_get_partially_addressed_print_only_and_not_behind_a_sticker() -> None:
    prospect = ask("print", target_group="prospect", person=None)
    assert contact_gate(prospect, POLICY).kind == "partially_addressed"
    sticker = replace(prospect, place=replace(HOUSE, no_ads_sticker=True))
    assert contact_gate(sticker, POLICY).action == "skip"
    for channel in ("email", "sms", "call"):
        assert contact_gate(ask(channel, target_group="prospect", person=None), POLICY).action == "skip"


def test_sms_outside_its_window_is_deferred_to_the_next_opening() -> None:
    late = contact_gate(ask("sms", at=datetime(2026, 3, 17, 21, 0, tzinfo=TZ)), POLICY)
    assert (late.action, late.until) == ("defer", datetime(2026, 3, 18, 8, 0, tzinfo=TZ))
    sunday = contact_gate(ask("sms", at=datetime(2026, 3, 22, 11, 0, tzinfo=TZ)), POLICY)
    assert sunday.until == datetime(2026, 3, 23, 8, 0, tzinfo=TZ)


def test_a_capped_contact_is_deferred_until_the_window_frees_never_dropped() -> None:
    history = (("email", TUESDAY_10 - timedelta(days=2)),)
    verdict = contact_gate(ask("email", history=history), POLICY)
    assert verdict.action == "defer"
    assert verdict.until == TUESDAY_10 + timedelta(days=5)
    assert "email: at most 1 in 7 days" in verdict.reason


def test_the_cross_channel_cap_holds_back_a_fourth_contact_in_thirty_days() -> None:
    history = tuple((c, TUESDAY_10 - timedelta(days=d)) for c, d in (("sms", 20), ("email", 15), ("print", 10)))
    verdict = contact_gate(ask("call", history=history), POLICY)
    assert verdict.action == "defer"
    assert "all channels: at most 3 in 30 days" in verdict.reason


@pytest.mark.parametrize("channel", ["email", "sms", "print", "call"])
def test_a_cap_of_max_0_switches_its_channel_off_the_step_is_skipped_not_deferred(channel: str) -> None:
    # Given marketing operations switched the channel off with a cap of max 0
    caps = {**POLICY.caps.per_channel, channel: Cap(0, 7)}
    policy = replace(POLICY, caps=CapPolicy(per_channel=caps, all_channels=POLICY.caps.all_channels))
    # When a step on that channel comes to the gate (which used to crash looking for a later instant)
    verdict = contact_gate(ask(channel), policy)
    # Then it is skipped for good with the reason, and the other channels still pass
    assert (verdict.action, verdict.reason) == (
        "skip", f"channel {channel} switched off (caps.per_channel.{channel}.max = 0)")
    other = "email" if channel != "email" else "print"
    assert contact_gate(ask(other), policy).action == "send"


def test_a_cross_channel_cap_of_max_0_switches_every_channel_off() -> None:
    policy = replace(POLICY, caps=CapPolicy(per_channel=POLICY.caps.per_channel, all_channels=Cap(0, 30)))
    prospect_letter = ask("print", target_group="prospect", person=None)
    assert contact_gate(prospect_letter, policy).reason == "every channel switched off (caps.all_channels.max = 0)"


@pytest.mark.parametrize(("mobile_column", "what"), [
    ("+41441234567", "a fixed line"),        # 044: Zurich landline
    ("+41800123456", "a toll-free number"),  # 0800
])
def test_a_landline_in_the_mobile_column_gets_no_sms_but_stays_a_number_to_call(mobile_column: str, what: str) -> None:
    # Given a customer with a mobile subscription whose mobile column holds a landline, with SMS and call consent
    person = replace(ANNA, mobile=mobile_column, call_consent=True)
    # When an SMS step and a call step come to the gate
    sms = contact_gate(ask("sms", person=person), POLICY)
    call = contact_gate(ask("call", person=person), POLICY)
    # Then the SMS is skipped saying why, and the call goes ahead
    assert (sms.action, sms.reason) == ("skip", f"the number in the mobile column is {what}, not a mobile: no SMS")
    assert call.action == "send"
