"""Marketing operations' files: every key understood, unknown keys refused with the key named."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.config import ConfigError, DispatchConfig, load_config, parse_config
from shared.offers import Household, OffersError, choose_offer, load_offers, parse_offers

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_the_shipped_config_spells_out_exactly_the_defaults() -> None:
    assert load_config(EVENTS / "config.yaml") == DispatchConfig()


def test_missing_keys_take_the_defaults_and_given_ones_win() -> None:
    config = parse_config("calls: {per_day: 20}\ncontrol_group_percent: 10\n")
    assert (config.calls.per_day, config.calls.export_at, config.control_group_percent) == (20, "06:00", 10)
    assert config.journeys["switch"].steps[0].channel == "sms"


def _leaves(data: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every setting below a mapping, with its path (a list, such as a journey's steps, is one value)."""
    if not isinstance(data, dict):
        return [(path, data)]
    return [leaf for key, value in data.items() for leaf in _leaves(value, (*path, key))]


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    for key in reversed(path):
        value = {key: value}
    return value


DEFAULT_LEAVES = _leaves(yaml.safe_load((EVENTS / "config.yaml").read_text(encoding="utf-8")))


@pytest.mark.parametrize(("path", "value"), DEFAULT_LEAVES, ids=[".".join(p) for p, _ in DEFAULT_LEAVES])
def test_any_one_setting_given_alone_keeps_every_default_beside_it(path: tuple[str, ...], value: Any) -> None:
    # Given a config that sets a single key, at any depth, to its default value
    text = yaml.safe_dump(_nested(path, value))
    # When it is loaded, Then nothing else is lost: it is exactly the defaults
    assert parse_config(text) == DispatchConfig()


def test_a_partial_cap_override_keeps_the_other_channels_caps() -> None:
    # Given marketing operations raise only the email cap
    config = parse_config("caps: {per_channel: {email: {max: 2}}}\n")
    # Then email takes the new max with its default days, and print keeps one letter in 14 days
    caps = config.caps.per_channel
    assert (caps["email"].max, caps["email"].days) == (2, 7)
    assert (caps["print"].max, caps["print"].days) == (1, 14)
    assert (caps["sms"].max, caps["call"].max) == (1, 1)
    assert config.caps.all_channels == DispatchConfig().caps.all_channels


def test_a_window_without_saturday_keeps_saturdays_hours_and_null_closes_them() -> None:
    # Given a shorter SMS window on weekdays only, and one that closes Saturdays explicitly
    shorter = parse_config("windows: {sms: {weekdays: '09:00-19:00'}}\n").windows
    closed = parse_config("windows: {sms: {saturday: null}}\n").windows
    # Then Saturday keeps its default hours unless it is closed on purpose; calls are untouched
    assert (shorter.sms.weekdays, shorter.sms.saturday) == ("09:00-19:00", "09:00-16:00")
    assert (closed.sms.weekdays, closed.sms.saturday) == ("08:00-20:00", None)
    assert shorter.call == DispatchConfig().windows.call


def test_a_partial_journey_override_keeps_the_other_journeys_and_the_journeys_defaults() -> None:
    # Given a new upgrade journey without max_cycles, and a switch journey with only fewer cycles
    config = parse_config("journeys:\n"
                          "  upgrade: {steps: [{channel: email, day: 0}, {channel: call, day: 5}]}\n"
                          "  switch: {max_cycles: 1}\n")
    defaults = DispatchConfig().journeys
    # Then upgrade has the new steps and the default cycles; switch keeps its steps; prospect is untouched
    upgrade, switch = config.journeys["upgrade"], config.journeys["switch"]
    assert [(s.channel, s.day) for s in upgrade.steps] == [("email", 0), ("call", 5)]
    assert (upgrade.repeat_every_days, upgrade.max_cycles) == (75, 3)
    assert (switch.steps, switch.repeat_every_days, switch.max_cycles) == (defaults["switch"].steps, 75, 1)
    assert config.journeys["prospect"] == defaults["prospect"]


def test_partial_calls_costs_and_budget_keep_their_defaults_and_empty_sections_are_defaults() -> None:
    config = parse_config("calls: {max_attempts: 2}\nunit_cost_chf: {sms: 0.08}\nbudget_chf: {}\nwindows:\n")
    defaults = DispatchConfig()
    assert (config.calls.max_attempts, config.calls.per_day, config.calls.export_at) == (2, 200, "06:00")
    assert (config.unit_cost_chf.sms, config.unit_cost_chf.call) == (0.08, 6.50)
    assert (config.budget_chf, config.windows) == (defaults.budget_chf, defaults.windows)


@pytest.mark.parametrize(("text", "message"), [
    ("windows: {sms: {weekdays: '20:00-08:00'}}",
     "ops.yaml: windows.sms.weekdays: '20:00-08:00' ends before it starts"),
    ("windows: {call: {saturday: '09:00-09:00'}}", "ops.yaml: windows.call.saturday: '09:00-09:00' is empty"),
    ("windows: {sms: {weekdays: '8-20'}}", "ops.yaml: windows.sms.weekdays: '8-20': expected 'HH:MM-HH:MM'"),
    ("caps: {per_channel: {print: {days: -3}}}", "ops.yaml: caps.per_channel.print.days: -3: expected a number >= 1"),
    ("caps: {all_channels: {max: -1}}", "ops.yaml: caps.all_channels.max: -1: expected a number >= 0"),
    ("caps: {per_channel: {fax: {max: 1}}}", "ops.yaml: caps.per_channel.fax: unknown key; expected one of 'email'"),
    ("caps: {per_channel: {email: 3}}", "ops.yaml: caps.per_channel.email: 3: expected a mapping of settings"),
    ("journeys: {vip: {steps: [{channel: email, day: 0}]}}", "ops.yaml: journeys.vip: unknown key; expected one of"),
    ("journeys: {upgrade: {steps: [{channel: fax, day: 0}]}}",
     "ops.yaml: journeys.upgrade.steps.0.channel: 'fax': expected one of 'email', 'sms', 'print' or 'call'"),
    ("journeys: {upgrade: {steps: [{channel: email, day: -2}]}}",
     "ops.yaml: journeys.upgrade.steps.0.day: -2: expected a number >= 0"),
    ("journeys: {upgrade: {steps: [{channel: email, day: 7}, {channel: print, day: 3}]}}",
     "ops.yaml: journeys.upgrade.steps: day 3 (print) is listed after day 7 (email): expected the steps in ascending"),
    ("journeys: {upgrade: {steps: [{channel: email}]}}", "ops.yaml: journeys.upgrade.steps.0.day: missing"),
    ("journeys: {switch: {repeat_every_days: 10}}",
     "ops.yaml: journeys.switch: the last step (day 16) must come before the next cycle (repeat_every_days: 10)"),
    ("calls: {max_attempts: 0}", "ops.yaml: calls.max_attempts: 0: expected a number >= 1"),
    ("calls: {attempt_window_days: -7}", "ops.yaml: calls.attempt_window_days: -7: expected a number >= 1"),
    ("control_group_percent: 120", "ops.yaml: control_group_percent: 120: expected a number <= 100"),
    ("unit_cost_chf: {sms: -0.06}", "ops.yaml: unit_cost_chf.sms: -0.06: expected a number >= 0"),
    ("caps: {per_channel: {email: {max: 1, dayz: 7}}}", "ops.yaml: caps.per_channel.email.dayz: unknown key"),
])
def test_a_setting_that_makes_no_sense_is_refused_with_its_key_path_and_what_was_expected(
        text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text, "ops.yaml")
    assert str(error.value).startswith(message)


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
