"""SMS channel against moto: a requested SMS step is sent through SNS to the E.164 number with an
opt-out instruction, only inside the SMS window, and only with SMS consent."""

from __future__ import annotations

import re
from datetime import date

from functions.sms.handler import handler
from shared.stores.records import utc_key
from tests.integration import helpers as h


def _seed(due, *, customer: dict | None = None, household: dict | None = None) -> dict:
    return h.seed("H-1", "C-1", target_group="switch", offer_id="fibre-1g-switch-combo", due_at=due,
                  household={"max_down_mbps": 1000, **(household or {})},
                  customer={"has_internet": False, "internet_down_mbps": None, "has_mobile": True,
                            "mobile": "+41791234567", "first_name": "Anna", **(customer or {})})


def _request(journey: dict, at) -> None:
    h.no_failures(h.invoke(handler, h.sqs_event("ContactRequested", h.contact_requested(journey, "sms"), at)))


def test_sms_inside_the_window_goes_to_the_e164_number_with_an_opt_out(stack) -> None:
    # Given a mobile-only customer with SMS consent, step 1 (sms) requested on a Monday at 10:00
    now = h.local(h.MONDAY, 10)
    journey = _seed(now)
    _request(journey, now)
    # Then one SMS left through SNS, to the E.164 number, in German, with the STOP instruction
    [(phone, text)] = h.sms_sent()
    assert phone == "+41791234567"
    assert "STOP" in text and "Anna" in text
    [contact] = h.claims("H-1")
    assert contact["status"] == "sent" and contact["channel"] == "sms" and contact["segments"] >= 1
    # ... and the journey is at step 2 (email, day 2)
    j = h.journey("H-1")
    assert (j["step"], j["due_at"]) == (2, utc_key(h.local(date(2026, 6, 10), 10)))


def test_sms_at_22_00_is_deferred_to_the_next_morning(stack) -> None:
    now = h.local(h.MONDAY, 22)
    journey = _seed(now)
    _request(journey, now)
    assert h.sms_sent() == []
    assert h.claims("H-1") == []
    [decision] = h.decisions("H-1")
    assert decision["decision"] == "deferred" and "window" in decision["reason"]
    j = h.journey("H-1")
    assert (j["step"], j["state"], j["due_at"]) == (1, "ready", utc_key(h.local(date(2026, 6, 9), 8)))


def test_sms_on_a_sunday_is_deferred_to_monday_08_00(stack) -> None:
    now = h.local(h.SUNDAY, 11)
    journey = _seed(now)
    _request(journey, now)
    assert h.sms_sent() == []
    [decision] = h.decisions("H-1")
    assert decision["decision"] == "deferred"
    assert h.journey("H-1")["due_at"] == utc_key(h.local(date(2026, 6, 15), 8))


def test_sms_on_saturday_afternoon_after_16_00_waits_for_monday(stack) -> None:
    now = h.local(date(2026, 6, 13), 16, 30)
    journey = _seed(now)
    _request(journey, now)
    assert h.sms_sent() == []
    assert h.journey("H-1")["due_at"] == utc_key(h.local(date(2026, 6, 15), 8))


def test_customer_without_sms_consent_is_skipped(stack) -> None:
    now = h.local(h.MONDAY, 10)
    journey = _seed(now, customer={"sms_consent": False})
    _request(journey, now)
    assert h.sms_sent() == []
    [decision] = h.decisions("H-1")
    assert (decision["decision"], decision["reason"]) == ("skipped", "no SMS consent")
    assert h.journey("H-1")["step"] == 2


def test_redelivered_sms_request_sends_one_sms(stack) -> None:
    now = h.local(h.MONDAY, 10)
    journey = _seed(now)
    event = h.sqs_event("ContactRequested", h.contact_requested(journey, "sms"), now)
    h.no_failures(h.invoke(handler, event))
    h.no_failures(h.invoke(handler, event))
    assert len(h.sms_sent()) == 1


def test_sms_on_a_public_holiday_is_deferred_to_the_next_working_day(stack) -> None:
    # Ascension Day, Thursday 14 May 2026, at 10:00 in Zurich
    now = h.local(date(2026, 5, 14), 10)
    journey = _seed(now, household={"marketable_from": date(2026, 5, 1)})
    _request(journey, now)
    assert h.sms_sent() == []
    assert h.journey("H-1")["due_at"] == utc_key(h.local(date(2026, 5, 15), 8))


def _long_french_copy_catalogue() -> str:
    """The shipped catalogue with the combo offer's French SMS made long and UCS-2 (ô, ê are not GSM-7)."""
    import yaml

    from shared.channels.copy import TEMPLATES_DIR

    offers = yaml.safe_load((TEMPLATES_DIR.parent.parent / "events" / "offers.yaml").read_text(encoding="utf-8"))
    combo = next(o for o in offers if o["offer_id"] == "fibre-1g-switch-combo")
    combo["copy"]["fr"]["sms"] = ("Bientôt chez vous: la fibre optique est prête, profitez dès maintenant d'un "
                                  "rabais combiné de 25 CHF par mois avec votre abonnement mobile, sans frais.")
    return yaml.safe_dump(offers, allow_unicode=True)


def test_sms_over_the_configured_segment_limit_is_skipped_with_the_segment_count(stack) -> None:
    # Given a limit of one segment and a French copy that needs two UCS-2 segments
    from shared.aws import client

    h.upload_config("sms: {max_segments: 1}\n")
    client("s3").put_object(Bucket=h.cfg().feed_bucket, Key="config/offers.yaml",
                            Body=_long_french_copy_catalogue().encode("utf-8"))
    now = h.local(h.MONDAY, 10)
    journey = _seed(now, customer={"language": "fr", "first_name": "Zoé"},
                    household={"language": "fr", "canton": "VD"})
    # When the SMS step is handled
    _request(journey, now)
    # Then nothing is sent; the step is skipped with a reason naming the segment count, and the journey goes on
    assert h.sms_sent() == []
    [decision] = h.decisions("H-1")
    assert (decision["decision"], decision["channel"]) == ("skipped", "sms")
    needs = re.fullmatch(r"message needs (\d+) segments, limit 1", decision["reason"])
    assert needs is not None and int(needs.group(1)) >= 2, decision["reason"]
    assert [c["status"] for c in h.claims("H-1")] == ["failed"]
    assert h.journey("H-1")["step"] == 2


def test_sms_names_the_configured_short_code_and_keyword(stack) -> None:
    h.upload_config("sms: {short_code: '7070', stop_keyword: HALT}\n")
    now = h.local(h.MONDAY, 10)
    _request(_seed(now), now)
    [(_, text)] = h.sms_sent()
    assert text.endswith("HALT an 7070")


def test_sms_switched_off_by_a_cap_of_max_0_is_skipped_and_the_journey_goes_on(stack) -> None:
    # Given marketing operations switched SMS off (the other caps keep their defaults)
    h.upload_config("caps: {per_channel: {sms: {max: 0}}}\n")
    now = h.local(h.MONDAY, 10)
    journey = _seed(now)
    # When the SMS step is requested: the handler reports no failure, so nothing goes back to the queue or its DLQ
    _request(journey, now)
    # Then no SMS; the step is skipped with the reason, nothing is claimed, and the journey is at step 2 (email, day 2)
    assert h.sms_sent() == []
    assert h.claims("H-1") == []
    [decision] = h.decisions("H-1")
    assert (decision["decision"], decision["channel"], decision["reason"]) == (
        "skipped", "sms", "channel sms switched off (caps.per_channel.sms.max = 0)")
    j = h.journey("H-1")
    assert (j["step"], j["due_at"]) == (2, utc_key(h.local(date(2026, 6, 10), 10)))


def test_a_landline_in_the_mobile_column_gets_no_sms_and_the_journey_goes_on(stack) -> None:
    # Given a customer whose mobile column holds a Zurich landline (044 …)
    now = h.local(h.MONDAY, 10)
    journey = _seed(now, customer={"mobile": "+41441234567"})
    # When the SMS step is requested
    _request(journey, now)
    # Then nothing goes to SNS; the step is skipped saying why, and the journey is at step 2
    assert h.sms_sent() == []
    [decision] = h.decisions("H-1")
    assert (decision["decision"], decision["reason"]) == (
        "skipped", "the number in the mobile column is a fixed line, not a mobile: no SMS")
    assert h.journey("H-1")["step"] == 2
