"""Marketing operations' files: every key understood, unknown keys refused with the key named."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from shared.config import ConfigError, DispatchConfig, load_config, parse_config
from shared.offers import Household, OffersError, choose_offer, load_offers, parse_offers

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_the_shipped_config_spells_out_exactly_the_defaults() -> None:
    assert load_config(EVENTS / "config.yaml") == DispatchConfig()


def test_missing_keys_take_the_defaults_and_given_ones_win() -> None:
    config = parse_config("calls: {per_day: 20}\ncontrol_group_percent: 10\n")
    assert (config.calls.per_day, config.calls.export_at, config.control_group_percent) == (20, "06:00", 10)
    assert config.journeys["switch"].steps[0].channel == "sms"


@pytest.mark.parametrize(("text", "named"), [
    ("calls: {per_dya: 3}", "calls.per_dya: unknown key"),
    ("colour: blue", "colour: unknown key"),
    ("windows: {sms: {weekdays: '20:00-08:00'}}", "windows.sms.weekdays"),
    ("print: {cut_off_at: '25:00'}", "print.cut_off_at"),
    ("timezone: Mars/Olympus", "timezone"),
    ("journeys: {upgrade: {steps: [{channel: fax, day: 0}]}}", "journeys.upgrade.steps.0.channel"),
    ("journeys: {upgrade: {steps: [{channel: email, day: 80}], repeat_every_days: 75}}", "journeys.upgrade"),
])
def test_a_bad_config_names_the_key(text: str, named: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text, "ops.yaml")
    assert str(error.value).startswith("ops.yaml: ")
    assert named in str(error.value)


def test_the_sms_section_is_optional_with_defaults_and_takes_given_values() -> None:
    # Given no sms section, then a partial one
    default = parse_config("").sms
    given = parse_config("sms: {max_segments: 1, short_code: '7070'}\n").sms
    # Then the defaults fill in what is missing
    assert (default.max_segments, default.short_code, default.stop_keyword) == (2, "9988", "STOP")
    assert (given.max_segments, given.short_code, given.stop_keyword) == (1, "7070", "STOP")


@pytest.mark.parametrize(("text", "named"), [
    ("sms: {max_segment: 2}", "sms.max_segment: unknown key"),
    ("sms: {max_segments: 0}", "sms.max_segments"),
    ("sms: {short_code: 'abc'}", "sms.short_code"),
    ("sms: {stop_keyword: ''}", "sms.stop_keyword"),
])
def test_a_bad_sms_setting_names_the_key(text: str, named: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text, "ops.yaml")
    assert named in str(error.value)


def test_the_default_catalogue_has_offers_for_every_group_and_language() -> None:
    offers = load_offers()
    assert {o.target_group for o in offers} == {"upgrade", "switch", "prospect"}
    assert all(o.copy_for(lang).headline for o in offers for lang in ("de", "fr", "it", "en"))


def test_the_best_eligible_offer_wins_by_expected_value() -> None:
    offers = load_offers()
    on = date(2026, 4, 1)
    assert choose_offer(offers, Household("upgrade", 10000, 100, "ZH", "Winterthur"), on).offer.offer_id == \
        "fibre-10g-upgrade"  # type: ignore[union-attr]
    assert choose_offer(offers, Household("upgrade", 1000, 100, "ZH", "Winterthur"), on).offer.offer_id == \
        "fibre-1g-upgrade"  # type: ignore[union-attr]
    assert choose_offer(offers, Household("switch", 1000, None, "VD", "Yverdon"), on).offer.discount_chf == 25.0  # type: ignore[union-attr]


def test_no_offer_is_a_reason_not_an_error() -> None:
    offers = load_offers()
    choice = choose_offer(offers, Household("prospect", 100, None, "TI", "Locarno"), date(2026, 4, 1))
    assert choice.offer is None and "Mbit/s" in choice.reason
    expired = choose_offer(offers, Household("prospect", 1000, None, "TI", "Locarno"), date(2030, 1, 1))
    assert expired.offer is None and "valid" in expired.reason


def test_a_bad_offer_names_the_file_the_offer_and_the_field() -> None:
    with pytest.raises(OffersError) as error:
        parse_offers("- {offer_id: x1, target_group: upsell}", "cat.yaml")
    assert "cat.yaml: offer #0 (x1): target_group" in str(error.value)
