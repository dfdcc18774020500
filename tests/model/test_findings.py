"""The model-based test's findings, each as its shortest story: the same machine, the same reference model,
steps chosen by hand instead of by hypothesis. Each names the finding of issue 12 it reproduces."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time
from typing import Any

import pytest

from tests.model.harness import aws_account
from tests.model.test_rules_model import NOON, DispatchMachine

MONDAY = 154  # days after 2026-01-05: Monday 2026-06-08, no holiday near it


def spec(**overrides: Any) -> dict[str, Any]:
    """An internet customer at 50 Mbit/s with an address, a listed mobile number and every consent."""
    return {"relationship": "internet", "internet_down_mbps": 50, "email": True, "mobile": "mobile",
            "phone_listing": "listed", "email_consent": True, "sms_consent": True, "call_consent": True,
            "do_not_call": False, "do_not_mail": False, "language": "de"} | overrides


@contextmanager
def story(people: list[tuple[int, dict[str, Any]]], connected: list[tuple[int, int, bool]],
          promo_days: int = 60, day: int = MONDAY) -> Iterator[DispatchMachine]:
    """Monday 09:00: the first extract, then the given feed rows (marketable in N days, speed, sticker)."""
    with aws_account():
        machine = DispatchMachine()
        try:
            machine.begin(day=day, hour=9, cantons=["ZH", "ZH"], people=people, promo_days=promo_days,
                          late_days=60, connected=connected)
            machine.what_left_keeps_the_rules()
            yield machine
        finally:
            machine.teardown()


def broken(machine: DispatchMachine) -> str:
    with pytest.raises(AssertionError) as failure:
        machine.what_left_keeps_the_rules()
    return str(failure.value)


def test_an_order_at_noon_stops_the_letter_of_the_evening_cut_off() -> None:
    """Given an upgrade household whose letter is batched on day 7 (finding 1),
    When the household orders at 12:40, before the 17:00 cut-off,
    Then the letter does not leave at the cut-off."""
    with story([(0, spec())], [(0, 1000, False)]) as machine:
        machine.days_later_at(days=7, wall_clock=NOON)
        machine.respond(which=0, who=0, kind="order", channel="all", outcome="ordered", gap=0)
        machine.until(wall_clock=time(17, 25))
        machine.what_left_keeps_the_rules()


def test_an_objection_to_print_at_noon_stops_the_letter_of_the_evening_cut_off() -> None:
    """Given an upgrade household whose letter is batched on day 7 (finding 1),
    When the customer opts out of print at 12:40,
    Then the letter does not leave at the 17:00 cut-off."""
    with story([(0, spec())], [(0, 1000, False)]) as machine:
        machine.days_later_at(days=7, wall_clock=NOON)
        machine.respond(which=0, who=0, kind="opt_out", channel="print", outcome="ordered", gap=0)
        machine.until(wall_clock=time(17, 25))
        machine.what_left_keeps_the_rules()


def test_a_pre_order_stops_the_journey_from_starting() -> None:
    """Given a household that orders before the rollout feed reports it (finding 2),
    When its feed row arrives and a day passes,
    Then nothing is sent to it."""
    with story([(0, spec())], []) as machine:
        machine.respond(which=0, who=-1, kind="order", channel="all", outcome="ordered", gap=10)
        machine.connect(which=0, marketable=0, speed=1000, sticker=False, gap=30)
        machine.wait_days(days=1)
        machine.what_left_keeps_the_rules()


def test_an_order_after_the_last_step_stops_the_call_of_a_completed_journey() -> None:
    """Given an upgrade journey whose last step, the second cycle's call, is requested on Wednesday 22 July at
    10:00 (the journey is then completed) (finding 3),
    When the household orders at 12:40 that day,
    Then the call is not on Thursday's 06:00 list."""
    with story([(0, spec())], [(0, 1000, False)]) as machine:
        machine.days_later_at(days=44, wall_clock=NOON)
        machine.respond(which=0, who=0, kind="order", channel="all", outcome="ordered", gap=0)
        machine.until(wall_clock=time(6, 20))
        machine.what_left_keeps_the_rules()


def test_a_retired_customer_is_not_contacted_again() -> None:
    """Given an upgrade customer who got the first email (finding 5),
    When the next CRM extract no longer holds them,
    Then no letter goes to them a week later."""
    with story([(0, spec())], [(0, 1000, False)]) as machine:
        machine.wait(minutes=120)
        machine.crm_extract(change="leave", who=0, where=0, consent="email_consent", spec=spec(), gap=10)
        machine.days_later_at(days=7, wall_clock=time(17, 25))
        machine.what_left_keeps_the_rules()


def test_a_customer_who_moved_is_contacted_only_at_the_new_household() -> None:
    """Given an upgrade customer who got the first email (finding 5),
    When the next CRM extract has them at another household,
    Then no letter goes to them at the old one."""
    with story([(0, spec())], [(0, 1000, False)]) as machine:
        machine.wait(minutes=120)
        machine.crm_extract(change="move", who=0, where=1, consent="email_consent", spec=spec(), gap=10)
        machine.days_later_at(days=7, wall_clock=time(17, 25))
        machine.what_left_keeps_the_rules()


def test_a_marketable_from_moved_later_is_kept() -> None:
    """Given a household marketable in 3 days (issue 12, feed corrections: this direction holds today),
    When a re-sent row moves marketable_from 5 days later,
    Then nothing is sent before the new date."""
    with story([(0, spec())], [(3, 1000, False)]) as machine:
        machine.correct_row(which=0, change="later", days=5, speed=1000, gap=10)
        machine.wait_days(days=4)
        machine.what_left_keeps_the_rules()


def test_a_household_corrected_to_not_eligible_is_not_contacted() -> None:
    """Given an upgrade household (50 Mbit/s today, 1000 available) that got its first email (finding 6),
    When a re-sent row says only 50 Mbit/s are available,
    Then no letter follows."""
    with story([(0, spec())], [(0, 1000, False)]) as machine:
        machine.wait(minutes=120)
        machine.correct_row(which=0, change="not_eligible", days=1, speed=1000, gap=10)
        machine.days_later_at(days=7, wall_clock=time(17, 25))
        machine.what_left_keeps_the_rules()


def test_an_expired_offer_is_not_advertised() -> None:
    """Given a journey started on an offer valid for two more days (finding 7),
    When its letter leaves a week later,
    Then it does not advertise the expired offer."""
    with story([(0, spec())], [(0, 1000, False)], promo_days=2) as machine:
        machine.days_later_at(days=7, wall_clock=time(17, 25))
        machine.what_left_keeps_the_rules()


def test_a_residents_do_not_mail_stops_partially_addressed_mail() -> None:
    """Given a prospect household where a former customer with do_not_mail lives (finding 8),
    When its first letter is due,
    Then no partially addressed letter leaves."""
    with story([(0, spec(relationship="former", do_not_mail=True))], [(0, 1000, False)]) as machine:
        machine.until(wall_clock=time(17, 25))
        machine.what_left_keeps_the_rules()


def test_no_sms_to_a_landline_in_the_mobile_column() -> None:
    """Given a mobile-only customer whose mobile column holds a landline number, with SMS consent
    (not in issue 12; rule 2),
    When the switch journey's first step (SMS) is due,
    Then no SMS leaves."""
    with story([(0, spec(relationship="mobile", mobile="landline"))], [(0, 1000, False)]) as machine:
        machine.wait(minutes=120)
        machine.what_left_keeps_the_rules()
