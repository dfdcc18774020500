"""The offer catalogue (`offers.yaml`): validated offers and the choice of the best eligible one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from shared.config import TargetGroup

Language = Literal["de", "fr", "it", "en"]
LANGUAGES: tuple[Language, ...] = ("de", "fr", "it", "en")


class OfferCopy(BaseModel):
    """What the customer reads about the offer, in one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=80)
    headline: str = Field(min_length=1, max_length=160)
    body: str = Field(min_length=1, max_length=2000)
    sms: str = Field(min_length=1, max_length=300)


class Offer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    offer_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    target_group: TargetGroup
    speed_mbps: int = Field(gt=0, description="download speed of the offered product")
    min_down_mbps: int = Field(ge=0, description="speed the household must have available")
    max_current_down_mbps: int | None = Field(
        default=None, ge=0, description="upgrade offers: only customers whose current speed is below this"
    )
    valid_from: date
    valid_to: date
    monthly_chf: float = Field(ge=0)
    discount_chf: float = Field(
        ge=0, description="monthly discount; for switch offers the combined mobile+internet discount")
    discount_months: int = Field(default=12, ge=0)
    expected_value_chf: float = Field(ge=0, description="expected margin of an order; ranks offers and calls")
    cantons: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    copy_text: dict[Language, OfferCopy] = Field(alias="copy")

    @model_validator(mode="after")
    def _consistent(self) -> Offer:
        if self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        if self.discount_chf > self.monthly_chf:
            raise ValueError("discount_chf exceeds monthly_chf")
        missing = [lang for lang in LANGUAGES if lang not in self.copy_text]
        if missing:
            raise ValueError(f"copy missing for languages: {', '.join(missing)}")
        return self

    def copy_for(self, language: str) -> OfferCopy:
        for key, text in self.copy_text.items():
            if key == language:
                return text
        return self.copy_text["en"]


class OffersError(ValueError):
    """An offers file that cannot be used, naming the file and the offer."""


_CATALOGUE = TypeAdapter(list[Offer])


def parse_offers(text: str, file_name: str = "offers.yaml") -> tuple[Offer, ...]:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise OffersError(f"{file_name}: not valid YAML: {exc}") from exc
    if isinstance(data, dict) and "offers" in data:
        data = data["offers"]
    if not isinstance(data, list) or not data:
        raise OffersError(f"{file_name}: expected a non-empty list of offers")
    try:
        offers = _CATALOGUE.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = list(first["loc"])
        index = loc.pop(0) if loc and isinstance(loc[0], int) else None
        offer_id = data[index].get("offer_id", "?") if isinstance(index, int) and isinstance(data[index], dict) else "?"
        where = ".".join(str(p) for p in loc) or "(offer)"
        raise OffersError(f"{file_name}: offer #{index} ({offer_id}): {where}: {first['msg']}") from exc
    ids = [o.offer_id for o in offers]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise OffersError(f"{file_name}: duplicate offer_id: {', '.join(duplicates)}")
    return tuple(offers)


def default_offers_path() -> Path:
    return Path(__file__).resolve().parent.parent / "events" / "offers.yaml"


def load_offers(path: Path | None = None) -> tuple[Offer, ...]:
    path = path or default_offers_path()
    if not path.is_file():
        raise OffersError(f"{path}: file not found")
    return parse_offers(path.read_text(encoding="utf-8-sig"), str(path))


@dataclass(frozen=True)
class Household:
    """What the offer choice needs to know about a household."""

    target_group: TargetGroup
    available_down_mbps: int
    current_down_mbps: int | None
    canton: str
    commune: str


@dataclass(frozen=True)
class OfferChoice:
    offer: Offer | None
    reason: str


def choose_offer(offers: tuple[Offer, ...], household: Household, on: date) -> OfferChoice:
    """The eligible offer with the highest expected value; else the reason none fits."""
    group = [o for o in offers if o.target_group == household.target_group]
    if not group:
        return OfferChoice(None, f"no offer for target group {household.target_group}")
    checks = (
        (lambda o: o.valid_from <= on <= o.valid_to, f"no offer valid on {on.isoformat()}"),
        (lambda o: o.min_down_mbps <= household.available_down_mbps,
         f"no offer needs at most the {household.available_down_mbps} Mbit/s available"),
        (lambda o: not o.cantons or household.canton in o.cantons, f"no offer for canton {household.canton}"),
        (lambda o: not o.communes or household.commune in o.communes, "no offer for the commune"),
        (lambda o: o.speed_mbps > (household.current_down_mbps or 0), "the current speed is already as fast"),
        (lambda o: o.max_current_down_mbps is None or (household.current_down_mbps or 0) < o.max_current_down_mbps,
         "the current speed is above every offer's limit"),
    )
    for check, reason in checks:
        group = [o for o in group if check(o)]
        if not group:
            return OfferChoice(None, reason)
    best = max(group, key=lambda o: (o.expected_value_chf, o.speed_mbps, o.offer_id))
    return OfferChoice(best, "best expected value")


def offer_on(offers: tuple[Offer, ...], offer_id: str, household: Household, day: date) -> tuple[str, str | None]:
    """The offer a contact on `day` advertises: `offer_id` while it is valid, else the household's best eligible
    offer of that day; with the reason when there is none (then `offer_id` is returned as it was)."""
    offer = next((o for o in offers if o.offer_id == offer_id), None)
    if offer is not None and offer.valid_from <= day <= offer.valid_to:
        return offer_id, None
    choice = choose_offer(offers, household, day)
    if choice.offer is not None:
        return choice.offer.offer_id, None
    why = f"valid {offer.valid_from}..{offer.valid_to}" if offer is not None else "no longer in the catalogue"
    return offer_id, f"offer {offer_id} not valid on {day} ({why}) and no other offer fits: {choice.reason}"
