"""Typed rows of a run's output folder and `load_run`, tolerant of missing files and extra keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Europe/Zurich"
DEFAULT_BUDGET_MONTHLY_CHF = Decimal(50000)
DEFAULT_UNIT_COST_CHF: dict[str, Decimal] = {
    "email": Decimal("0.002"),
    "sms": Decimal("0.06"),
    "print_personalised": Decimal("1.10"),
    "print_partially_addressed": Decimal("0.45"),
    "call": Decimal("6.50"),
}

Row = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Contact:
    """One contact made (a row of contact-history.jsonl)."""

    contact_id: str
    household_id: str
    customer_id: str | None
    target_group: str | None
    channel: str
    kind: str | None
    journey_id: str | None
    cycle: int
    step: int
    offer_id: str | None
    at: datetime
    cost_chf: Decimal


@dataclass(frozen=True)
class Decision:
    """One decision not to contact now (a row of decisions.jsonl)."""

    household_id: str
    customer_id: str | None
    channel: str | None
    at: datetime | None
    decision: str
    reason: str
    journey_id: str | None = None
    cycle: int | None = None
    step: int | None = None


@dataclass(frozen=True)
class Household:
    """One accepted household (a row of households.jsonl)."""

    household_id: str
    commune: str
    canton: str | None
    postcode: str | None
    connected_at: datetime | None
    marketable_from: date | None
    target_group: str | None
    control_group: bool
    offer_id: str | None
    journey_status: str | None
    end_reason: str | None


@dataclass(frozen=True)
class Response:
    """One accepted response (a row of responses.jsonl)."""

    at: datetime
    household_id: str
    customer_id: str | None
    type: str
    channel: str | None
    outcome: str | None

    @property
    def is_order(self) -> bool:
        """An order, or a call whose outcome was an order."""
        return self.type == "order" or (
            self.type == "call_outcome" and self.outcome == "ordered"
        )


@dataclass(frozen=True)
class RunMeta:
    """What the report knows of a campaign besides its rows: the run's run.json, or a deployed stack's config."""

    campaign_id: str
    start: datetime | None
    end: datetime | None
    seed: Any
    config: dict[str, Any]
    timezone: ZoneInfo
    budget_monthly_chf: Decimal


@dataclass(frozen=True)
class RunData(RunMeta):
    """Everything the report needs from one run's output folder: the campaign and its rows."""

    contacts: tuple[Contact, ...] = ()
    decisions: tuple[Decision, ...] = ()
    households: tuple[Household, ...] = ()
    responses: tuple[Response, ...] = field(default=())


def load_meta(out_dir: Path) -> RunMeta:
    """The campaign of a run's output folder (its run.json; defaults where it is missing)."""
    return meta_of(_read_json(Path(out_dir) / "run.json"))


def meta_of(meta: Row) -> RunMeta:
    """The campaign from a run.json-shaped object: campaign_id, start, end, seed, config."""
    config = meta.get("config") or {}
    tz = ZoneInfo(str(config.get("timezone") or DEFAULT_TIMEZONE))
    budget = (config.get("budget_chf") or {}).get("monthly", DEFAULT_BUDGET_MONTHLY_CHF)
    return RunMeta(
        campaign_id=str(meta.get("campaign_id") or config.get("campaign_id") or "campaign"),
        start=_datetime(meta.get("start"), tz),
        end=_datetime(meta.get("end"), tz),
        seed=meta.get("seed"),
        config=config,
        timezone=tz,
        budget_monthly_chf=Decimal(str(budget)),
    )


def load_run(out_dir: Path) -> RunData:
    """Read a run's output folder; missing or empty files count as empty."""
    out_dir = Path(out_dir)
    meta = load_meta(out_dir)
    tz = meta.timezone
    unit_costs = _unit_costs(meta.config)
    return RunData(
        **{f.name: getattr(meta, f.name) for f in fields(RunMeta)},
        contacts=_read_rows(
            out_dir / "contact-history.jsonl", lambda r: _contact(r, tz, unit_costs)
        ),
        decisions=_read_rows(out_dir / "decisions.jsonl", lambda r: _decision(r, tz)),
        households=_read_rows(
            out_dir / "households.jsonl", lambda r: _household(r, tz)
        ),
        responses=_read_rows(out_dir / "responses.jsonl", lambda r: _response(r, tz)),
    )


def _read_json(path: Path) -> Row:
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8-sig").strip()
    if not text:
        return {}
    data = json.loads(text, parse_float=Decimal)
    if not isinstance(data, dict):
        raise TypeError(f"{path.name}: expected a JSON object")
    return data


def _read_rows(path: Path, parse: Callable[[Row], T]) -> tuple[T, ...]:
    rows: list[T] = []
    for number, row in _iter_jsonl(path):
        try:
            rows.append(parse(row))
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ValueError(f"{path.name} line {number}: {exc}") from exc
    return tuple(rows)


def _iter_jsonl(path: Path) -> Iterator[tuple[int, Row]]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line, parse_float=Decimal)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{path.name} line {number}: not JSON ({exc.msg})"
                ) from exc
            if not isinstance(row, dict):
                raise TypeError(f"{path.name} line {number}: expected a JSON object")
            yield number, row


def _unit_costs(config: Row) -> dict[str, Decimal]:
    costs = dict(DEFAULT_UNIT_COST_CHF)
    for key, value in (config.get("unit_cost_chf") or {}).items():
        costs[str(key)] = Decimal(str(value))
    return costs


def _opt_str(row: Row, key: str) -> str | None:
    value = row.get(key)
    return None if value is None or value == "" else str(value)


def _req_str(row: Row, key: str) -> str:
    value = _opt_str(row, key)
    if value is None:
        raise ValueError(f"missing {key!r}")
    return value


def _opt_int(row: Row, key: str) -> int | None:
    value = row.get(key)
    return None if value is None or value == "" else int(value)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _datetime(value: Any, tz: ZoneInfo) -> datetime | None:
    """Parse ISO 8601; a value without an offset is read as local time in the run's time zone."""
    if value is None or value == "":
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def _req_datetime(row: Row, key: str, tz: ZoneInfo) -> datetime:
    parsed = _datetime(row.get(key), tz)
    if parsed is None:
        raise ValueError(f"missing {key!r}")
    return parsed


def _marketable_day(value: Any, tz: ZoneInfo) -> date | None:
    """The local day a household became marketable: a date as it is, an instant on the campaign's clock."""
    from shared.domain.journey import marketable_instant

    if value is None or value == "":
        return None
    return marketable_instant(str(value), tz).astimezone(tz).date()


def _contact(row: Row, tz: ZoneInfo, unit_costs: dict[str, Decimal]) -> Contact:
    channel = _req_str(row, "channel")
    kind = _opt_str(row, "kind")
    cost = row.get("cost_chf")
    if cost is None:
        unit_key = f"print_{kind or 'personalised'}" if channel == "print" else channel
        cost = unit_costs.get(unit_key, Decimal(0))
    return Contact(
        contact_id=_opt_str(row, "contact_id") or "",
        household_id=_req_str(row, "household_id"),
        customer_id=_opt_str(row, "customer_id"),
        target_group=_opt_str(row, "target_group"),
        channel=channel,
        kind=kind,
        journey_id=_opt_str(row, "journey_id"),
        cycle=_opt_int(row, "cycle") or 1,
        step=_opt_int(row, "step") or 1,
        offer_id=_opt_str(row, "offer_id"),
        at=_req_datetime(row, "at", tz),
        cost_chf=Decimal(str(cost)),
    )


def _decision(row: Row, tz: ZoneInfo) -> Decision:
    return Decision(
        household_id=_opt_str(row, "household_id") or "",
        customer_id=_opt_str(row, "customer_id"),
        channel=_opt_str(row, "channel"),
        at=_datetime(row.get("at"), tz),
        decision=_opt_str(row, "decision") or "unknown",
        reason=_opt_str(row, "reason") or "unspecified",
        journey_id=_opt_str(row, "journey_id"),
        cycle=_opt_int(row, "cycle"),
        step=_opt_int(row, "step"),
    )


def _household(row: Row, tz: ZoneInfo) -> Household:
    return Household(
        household_id=_req_str(row, "household_id"),
        commune=_opt_str(row, "commune") or "(unknown)",
        canton=_opt_str(row, "canton"),
        postcode=_opt_str(row, "postcode"),
        connected_at=_datetime(row.get("connected_at"), tz),
        marketable_from=_marketable_day(row.get("marketable_from"), tz),
        target_group=_opt_str(row, "target_group"),
        control_group=_bool(row.get("control_group")),
        offer_id=_opt_str(row, "offer_id"),
        journey_status=_opt_str(row, "journey_status"),
        end_reason=_opt_str(row, "end_reason"),
    )


def _response(row: Row, tz: ZoneInfo) -> Response:
    return Response(
        at=_req_datetime(row, "at", tz),
        household_id=_req_str(row, "household_id"),
        customer_id=_opt_str(row, "customer_id"),
        type=_req_str(row, "type"),
        channel=_opt_str(row, "channel"),
        outcome=_opt_str(row, "outcome"),
    )
