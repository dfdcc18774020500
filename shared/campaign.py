"""The campaign's settings as the functions see them: config and offers from the feed bucket.

Marketing operations upload `config/config.yaml` and `config/offers.yaml`; a function reads them
once per `CONFIG_VERSION` (bumped on change), falling back to the shipped defaults when absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from shared.config import DispatchConfig, parse_config
from shared.offers import Offer, load_offers, parse_offers
from shared.settings import Settings, settings

if TYPE_CHECKING:
    from shared.domain.gate import GatePolicy

CONFIG_KEY = "config/config.yaml"
OFFERS_KEY = "config/offers.yaml"


@dataclass(frozen=True)
class Campaign:
    config: DispatchConfig
    offers: tuple[Offer, ...]

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.timezone)

    def offer(self, offer_id: str) -> Offer:
        for offer in self.offers:
            if offer.offer_id == offer_id:
                return offer
        raise KeyError(f"offer {offer_id!r} is not in the catalogue")

    @cached_property
    def gate_policy(self) -> GatePolicy:
        """Built once per campaign: every contact's gate uses it, often several times."""
        from shared.domain.caps import Cap, CapPolicy
        from shared.domain.gate import GatePolicy
        from shared.domain.windows import ContactWindow

        caps = self.config.caps
        return GatePolicy(
            caps=CapPolicy(
                per_channel={c: Cap(max=v.max, days=v.days) for c, v in caps.per_channel.items()},
                all_channels=Cap(max=caps.all_channels.max, days=caps.all_channels.days),
            ),
            windows={
                "sms": ContactWindow.from_spec(self.config.windows.sms.weekdays, self.config.windows.sms.saturday),
                "call": ContactWindow.from_spec(self.config.windows.call.weekdays, self.config.windows.call.saturday),
            },
            respect_star_entries=self.config.calls.respect_star_entries,
            tz=self.tz,
        )


def campaign() -> Campaign:
    return campaign_of(settings())


def campaign_of(s: Settings) -> Campaign:
    """The campaign of the stack `s` names (also for a caller with settings of its own, such as `dispatch erase`)."""
    return _load(s.feed_bucket, s.config_version)


@lru_cache(maxsize=4)
def _load(bucket: str, version: str) -> Campaign:
    config_text = _read_optional(bucket, CONFIG_KEY)
    offers_text = _read_optional(bucket, OFFERS_KEY)
    config = parse_config(config_text, f"s3://{bucket}/{CONFIG_KEY}") if config_text is not None else DispatchConfig()
    offers = parse_offers(offers_text, f"s3://{bucket}/{OFFERS_KEY}") if offers_text is not None else load_offers()
    return Campaign(config=config, offers=offers)


def _read_optional(bucket: str, key: str) -> str | None:
    from shared.aws import read_object

    body = read_object(bucket, key)
    return body.decode("utf-8-sig") if body is not None else None


def reset_campaign_cache() -> None:
    _load.cache_clear()
