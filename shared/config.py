"""Marketing operations' settings (`config.yaml`): one validated model, defaults from the contract."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Channel = Literal["email", "sms", "print", "call"]
TargetGroup = Literal["upgrade", "switch", "prospect"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "print", "call")
TARGET_GROUPS: tuple[TargetGroup, ...] = ("upgrade", "switch", "prospect")

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JourneyStep(_Strict):
    channel: Channel
    day: int = Field(ge=0, le=365)


class JourneyConfig(_Strict):
    steps: tuple[JourneyStep, ...] = Field(min_length=1)
    repeat_every_days: int = Field(default=75, ge=1)
    max_cycles: int = Field(default=3, ge=1, le=20)

    @model_validator(mode="after")
    def _steps_fit_in_cycle(self) -> JourneyConfig:
        days = [s.day for s in self.steps]
        if days != sorted(days):
            raise ValueError("steps must be in order of their day")
        if days[-1] >= self.repeat_every_days:
            raise ValueError("the last step must come before the next cycle (day < repeat_every_days)")
        return self


class CapConfig(_Strict):
    max: int = Field(ge=0)
    days: int = Field(ge=1, le=365)


class CapsConfig(_Strict):
    per_channel: dict[Channel, CapConfig] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "email": CapConfig(max=1, days=7),
            "sms": CapConfig(max=1, days=7),
            "print": CapConfig(max=1, days=14),
            "call": CapConfig(max=1, days=7),
        }
    )
    all_channels: CapConfig = CapConfig(max=3, days=30)


class WindowConfig(_Strict):
    weekdays: str
    saturday: str | None = None

    @field_validator("weekdays", "saturday")
    @classmethod
    def _range(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = value.split("-")
        if len(parts) != 2 or not all(_HHMM.match(p.strip()) for p in parts) or parts[0] >= parts[1]:
            raise ValueError(f"expected 'HH:MM-HH:MM' with start before end, got {value!r}")
        return value


class WindowsConfig(_Strict):
    sms: WindowConfig = WindowConfig(weekdays="08:00-20:00", saturday="09:00-16:00")
    call: WindowConfig = WindowConfig(weekdays="08:00-20:30", saturday="09:00-16:00")


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
    caps: CapsConfig = CapsConfig()
    windows: WindowsConfig = WindowsConfig()
    calls: CallsConfig = CallsConfig()
    print: PrintConfig = PrintConfig()
    sms: SmsConfig = SmsConfig()
    control_group_percent: float = Field(default=5, ge=0, le=100)
    budget_chf: BudgetConfig = BudgetConfig()
    unit_cost_chf: UnitCostConfig = UnitCostConfig()
    retention_days: int = Field(default=730, ge=1)
    crm: CrmConfig = CrmConfig()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _every_group_has_a_journey(self) -> DispatchConfig:
        journeys = {**_default_journeys(), **self.journeys}
        object.__setattr__(self, "journeys", journeys)
        return self


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
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"{file_name}: {where}: {message}") from exc


def load_config(path: Path | None) -> DispatchConfig:
    """The config from a file, or the defaults when no file is given."""
    if path is None:
        return DispatchConfig()
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    return parse_config(path.read_text(encoding="utf-8-sig"), str(path))
