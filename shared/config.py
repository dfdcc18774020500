"""Marketing operations' settings (`config.yaml`): one validated model, defaults from the contract.

A partial setting merges with the defaults at every level: each section is validated on top of its
own defaults (a mapping merges key by key, a list or a value replaces), so overriding the email cap
keeps the print cap, and a `windows.sms` without `saturday` keeps Saturday's hours. What makes no
sense is refused at load with the key path and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails, PydanticUndefined, to_jsonable_python

Channel = Literal["email", "sms", "print", "call"]
TargetGroup = Literal["upgrade", "switch", "prospect"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "print", "call")
TARGET_GROUPS: tuple[TargetGroup, ...] = ("upgrade", "switch", "prospect")

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Strict(BaseModel):
    """A section: unknown keys refused, given keys merged onto the section's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _onto_the_defaults(cls, data: Any) -> Any:
        return _merged(_defaults(cls), data)


@cache
def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    """A section's defaults as plain data (fields without a default are left out)."""
    found = {}
    for name, field in model.model_fields.items():
        value = field.get_default(call_default_factory=True)
        if value is not PydanticUndefined:
            found[name] = to_jsonable_python(value)
    return found


def _merged(defaults: Any, given: Any) -> Any:
    """given on top of defaults: mappings key by key, all the way down; anything else replaces.

    An empty section (`windows:` with nothing under it, YAML's null) keeps its defaults; a null
    where the default is a value (`saturday: null`) is that value's null."""
    if isinstance(defaults, Mapping) and given is None:
        return defaults
    if not (isinstance(defaults, Mapping) and isinstance(given, Mapping)):
        return given
    merged = dict(defaults)
    for key, value in given.items():
        merged[key] = _merged(defaults[key], value) if key in defaults else value
    return merged


class JourneyStep(_Strict):
    channel: Channel
    day: int = Field(ge=0, le=365)


class JourneyConfig(_Strict):
    steps: tuple[JourneyStep, ...] = Field(min_length=1)
    repeat_every_days: int = Field(default=75, ge=1)
    max_cycles: int = Field(default=3, ge=1, le=20)

    @field_validator("steps")
    @classmethod
    def _in_order_of_day(cls, steps: tuple[JourneyStep, ...]) -> tuple[JourneyStep, ...]:
        for before, after in pairwise(steps):
            if after.day < before.day:
                raise ValueError(f"day {after.day} ({after.channel}) is listed after day {before.day} "
                                 f"({before.channel}): expected the steps in ascending order of day")
        return steps

    @model_validator(mode="after")
    def _steps_fit_in_cycle(self) -> JourneyConfig:
        last = self.steps[-1].day
        if last >= self.repeat_every_days:
            raise ValueError(f"the last step (day {last}) must come before the next cycle "
                             f"(repeat_every_days: {self.repeat_every_days})")
        return self


class CapConfig(_Strict):
    max: int = Field(ge=0)
    days: int = Field(ge=1, le=365)


class CapsConfig(_Strict):
    """`max: 0` switches a channel off (all_channels: every channel): its steps are skipped."""

    per_channel: dict[Channel, CapConfig] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "email": CapConfig(max=1, days=7),
            "sms": CapConfig(max=1, days=7),
            "print": CapConfig(max=1, days=14),
            "call": CapConfig(max=1, days=7),
        }
    )
    all_channels: CapConfig = Field(default_factory=lambda: CapConfig(max=3, days=30))


class WindowConfig(_Strict):
    """Local opening hours; `saturday: null` closes Saturdays (Sundays and holidays are always closed)."""

    weekdays: str
    saturday: str | None = None

    @field_validator("weekdays", "saturday")
    @classmethod
    def _range(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = [p.strip() for p in value.split("-")]
        if len(parts) != 2 or not all(_HHMM.match(p) for p in parts):
            raise ValueError(f"{value!r}: expected 'HH:MM-HH:MM' (24-hour local times)")
        if parts[1] < parts[0]:
            raise ValueError(f"{value!r} ends before it starts")
        if parts[1] == parts[0]:
            raise ValueError(f"{value!r} is empty (it ends when it starts); to close the day, use null")
        return value


class WindowsConfig(_Strict):
    sms: WindowConfig = Field(default_factory=lambda: WindowConfig(weekdays="08:00-20:00", saturday="09:00-16:00"))
    call: WindowConfig = Field(default_factory=lambda: WindowConfig(weekdays="08:00-20:30", saturday="09:00-16:00"))


def _clock(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError(f"expected a local time 'HH:MM', got {value!r}")
    return value


class CallsConfig(_Strict):
    per_day: int = Field(default=200, ge=0)
    export_at: str = "06:00"
    max_attempts: int = Field(default=3, ge=1)
    attempt_window_days: int = Field(default=7, ge=1)
    respect_star_entries: bool = True
    # A due call waiting longer than this for a place on a list is an alarm (the exporter's metric).
    max_backlog_days: int = Field(default=3, ge=0)

    @field_validator("export_at")
    @classmethod
    def _export_clock(cls, value: str) -> str:
        return _clock(value)


class PrintConfig(_Strict):
    cut_off_at: str = "17:00"

    @field_validator("cut_off_at")
    @classmethod
    def _cut_off_clock(cls, value: str) -> str:
        return _clock(value)


class SmsConfig(_Strict):
    max_segments: int = Field(default=2, ge=1, le=10)
    short_code: str = Field(default="9988", pattern=r"^[0-9]{3,8}$")
    stop_keyword: str = Field(default="STOP", pattern=r"^[A-Za-z]{2,20}$")


class BudgetConfig(_Strict):
    monthly: float = Field(default=50000, ge=0)


class UnitCostConfig(_Strict):
    email: float = Field(default=0.002, ge=0)
    sms: float = Field(default=0.06, ge=0)
    print_personalised: float = Field(default=1.10, ge=0)
    print_partially_addressed: float = Field(default=0.45, ge=0)
    call: float = Field(default=6.50, ge=0)


class CrmConfig(_Strict):
    max_retire_percent: float = Field(default=20, ge=0, le=100)


def _default_journeys() -> dict[TargetGroup, JourneyConfig]:
    def steps(*pairs: tuple[Channel, int]) -> tuple[JourneyStep, ...]:
        return tuple(JourneyStep(channel=c, day=d) for c, d in pairs)

    return {
        "upgrade": JourneyConfig(steps=steps(("email", 0), ("print", 7), ("call", 14))),
        "switch": JourneyConfig(steps=steps(("sms", 0), ("email", 2), ("print", 9), ("call", 16))),
        "prospect": JourneyConfig(steps=steps(("print", 0))),
    }


class DispatchConfig(_Strict):
    timezone: str = "Europe/Zurich"
    campaign_id: str = Field(default="fibre-rollout", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    journeys: dict[TargetGroup, JourneyConfig] = Field(default_factory=_default_journeys)
    caps: CapsConfig = Field(default_factory=CapsConfig)
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    calls: CallsConfig = Field(default_factory=CallsConfig)
    print: PrintConfig = Field(default_factory=PrintConfig)
    sms: SmsConfig = Field(default_factory=SmsConfig)
    control_group_percent: float = Field(default=5, ge=0, le=100)
    budget_chf: BudgetConfig = Field(default_factory=BudgetConfig)
    unit_cost_chf: UnitCostConfig = Field(default_factory=UnitCostConfig)
    retention_days: int = Field(default=730, ge=1)
    crm: CrmConfig = Field(default_factory=CrmConfig)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


def local_clock(value: str) -> time:
    """'HH:MM' as a time of day."""
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


class ConfigError(ValueError):
    """A config file that cannot be used, with the file and the offending key."""


def parse_config(text: str, file_name: str = "config.yaml") -> DispatchConfig:
    """Validate config text; unknown keys are an error, missing keys take the defaults."""
    try:
        data: Any = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file_name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file_name}: expected a mapping of settings at the top level")
    try:
        return DispatchConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{file_name}: {_explained(exc.errors()[0])}") from exc


_BOUNDS = {"greater_than_equal": ("ge", ">="), "greater_than": ("gt", ">"),
           "less_than_equal": ("le", "<="), "less_than": ("lt", "<")}


def _explained(error: ErrorDetails) -> str:
    """`key.path: what was wrong`, in words marketing operations can act on."""
    loc = [str(part) for part in error["loc"]]
    ctx = error.get("ctx") or {}
    given = repr(error["input"])
    given = given if len(given) <= 60 else given[:57] + "..."
    if loc and loc[-1] == "[key]":  # a mapping with fixed keys (journeys, caps.per_channel)
        return f"{'.'.join(loc[:-1])}: unknown key; expected one of {ctx.get('expected', '')}"
    where = ".".join(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key"
    if kind == "missing":
        return f"{where}: missing"
    if kind == "value_error" and "error" in ctx:
        return f"{where}: {ctx['error']}"
    if kind in ("model_type", "dict_type"):
        return f"{where}: {given}: expected a mapping of settings"
    if kind == "literal_error":
        return f"{where}: {given}: expected one of {ctx.get('expected', '')}"
    if kind in _BOUNDS:
        name, sign = _BOUNDS[kind]
        return f"{where}: {given}: expected a number {sign} {ctx.get(name)}"
    return f"{where}: {given}: {error['msg']}"


def load_config(path: Path | None) -> DispatchConfig:
    """The config from a file, or the defaults when no file is given."""
    if path is None:
        return DispatchConfig()
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    return parse_config(path.read_text(encoding="utf-8-sig"), str(path))
