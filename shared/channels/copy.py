"""The words people read: e-mails (Jinja2 templates), SMS texts, salutations and addressees per language."""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Jinja2 is imported on first render: SMS-only cold starts do not pay for it.
    from jinja2 import Environment

    from shared.offers import Offer

SUPPORTED_LANGUAGES: tuple[str, ...] = ("de", "fr", "it", "en")
FALLBACK_LANGUAGE = "en"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
COMMUNE_LANGUAGES = Path(__file__).resolve().parent.parent / "data" / "commune_languages.csv"

_FRENCH_CANTONS = frozenset({"FR", "GE", "JU", "NE", "VD", "VS"})
_ITALIAN_CANTONS = frozenset({"TI"})

_SALUTATIONS = {"de": "Guten Tag", "fr": "Bonjour", "it": "Buongiorno", "en": "Hello"}
_ADDRESSEES = {
    "de": "An die Bewohner des Hauses",
    "fr": "Aux habitants de la maison",
    "it": "Agli abitanti della casa",
    "en": "To the residents of the house",
}
_SMS_GREETINGS = {"de": "Hallo {name}!", "fr": "Bonjour {name}!", "it": "Buongiorno {name}!", "en": "Hello {name}!"}
_SMS_OPT_OUT = {
    "de": "{keyword} an {code}",
    "fr": "{keyword} au {code}",
    "it": "{keyword} al {code}",
    "en": "Reply {keyword} to {code}",
}
_SMS_SPEED = {
    "de": "Bis zu {speed} verfügbar.",
    "fr": "Jusqu'à {speed} disponibles.",
    "it": "Fino a {speed} disponibili.",
    "en": "Up to {speed} available.",
}


@dataclass(frozen=True)
class RenderedEmail:
    """An e-mail ready for MIME: subject, HTML part and plain-text part (same content)."""

    subject: str
    html: str
    text: str
    language: str = FALLBACK_LANGUAGE


# From's display name in the recipient's language (template.yaml SenderName, when set, stands for all of them): mail
# from a bare address looks like a robot's, and the big mailbox providers rank it so.
SENDER_NAMES = {
    "de": "Ihr Glasfaser-Team",
    "fr": "Votre équipe fibre optique",
    "it": "Il vostro team fibra ottica",
    "en": "Your fibre team",
}


def sender_name(language: str | None) -> str:
    return SENDER_NAMES[normalise_language(language)]


def normalise_language(language: str | None) -> str:
    """One of de/fr/it/en; anything else falls back to English."""
    code = (language or "").strip().lower()
    return code if code in SUPPORTED_LANGUAGES else FALLBACK_LANGUAGE


def language_for(customer_language: str | None, canton: str, *, commune: str | None = None) -> str:
    """The customer's language when known, else the commune's (multilingual cantons), else the canton's."""
    code = (customer_language or "").strip().lower()
    if code in SUPPORTED_LANGUAGES:
        return code
    region = (canton or "").strip().upper()
    by_commune = _commune_languages().get((region, _commune_key(commune or "")))
    if by_commune is not None:
        return by_commune
    if region in _FRENCH_CANTONS:
        return "fr"
    if region in _ITALIAN_CANTONS:
        return "it"
    return "de"


_CANTON_SUFFIX = re.compile(r"\s*\([A-Za-z]{2}\)\s*$")
_NOT_LETTERS = re.compile(r"[^0-9a-z]+")
_SAINT = re.compile(r"\b(?:saint|sainte|sankt|ste)\b")  # St-Imier, St. Niklaus: written either way


def _commune_key(name: str) -> str:
    """A commune's name as looked up: without a canton suffix "(BE)", accents, case and punctuation."""
    plain = unicodedata.normalize("NFKD", _CANTON_SUFFIX.sub("", name))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).casefold()
    return _SAINT.sub("st", _NOT_LETTERS.sub(" ", plain)).strip()


@cache
def _commune_languages() -> dict[tuple[str, str], str]:
    """(canton, commune key) -> language, from the shipped table; a bilingual name under each of its names."""
    table: dict[tuple[str, str], str] = {}
    with COMMUNE_LANGUAGES.open(encoding="utf-8") as lines:
        rows = csv.DictReader(line for line in lines if not line.startswith("#"))
        for row in rows:
            language = "de" if row["region"] == "rm" else row["region"]  # no Romansh copy: German
            name = row["commune"]
            for variant in {name, *name.split("/"), re.sub(r"\s*\(.*\)", "", name)}:
                if _commune_key(variant):
                    table[(row["canton"], _commune_key(variant))] = language
    return table


def salutation(language: str) -> str:
    """The greeting that opens a personalised letter or e-mail ("Guten Tag", "Bonjour", …)."""
    return _SALUTATIONS[normalise_language(language)]


def partially_addressed_addressee(language: str) -> str:
    """The addressee line of partially addressed mail, which names no person."""
    return _ADDRESSEES[normalise_language(language)]


def format_chf(amount: float) -> str:
    """Swiss notation: "CHF 59.–" for whole francs, "CHF 12.50" otherwise, "CHF 1'290.–"."""
    cents = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    francs, rest = divmod(int(cents * 100), 100)
    grouped = f"{francs:,}".replace(",", "'")
    return f"CHF {grouped}.–" if rest == 0 else f"CHF {grouped}.{rest:02d}"


def _decimal(value: float, language: str) -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return text if language == "en" else text.replace(".", ",")


def format_speed(mbps: int, language: str) -> str:
    """"500 Mbit/s", "1 Gbit/s", "2,5 Gbit/s" (decimal point in English)."""
    if mbps >= 1000:
        return f"{_decimal(mbps / 1000, normalise_language(language))} Gbit/s"
    return f"{mbps} Mbit/s"


def speed_factor(new_mbps: int, current_mbps: int | None, language: str) -> str | None:
    """How many times faster, rounded down ("10", "1,5"); None when not faster or unknown."""
    if not current_mbps or current_mbps <= 0 or new_mbps <= current_mbps:
        return None
    ratio = new_mbps / current_mbps
    if ratio >= 2:
        return str(math.floor(ratio))
    floored = math.floor(ratio * 10) / 10
    return _decimal(floored, normalise_language(language)) if floored > 1 else None


def _full_name(first_name: str, last_name: str) -> str:
    return " ".join(f"{first_name} {last_name}".split())


@cache
def _environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _email_context(
    language: str, name: str, offer: Offer, target_group: str,
    new_speed_mbps: int, current_speed_mbps: int | None, unsubscribe_url: str,
) -> dict[str, Any]:
    copy = offer.copy_for(language)
    # "x times faster" describes what this offer delivers, never more than the address allows.
    delivered = min(new_speed_mbps, offer.speed_mbps)
    compare = target_group == "upgrade" and bool(current_speed_mbps) and new_speed_mbps > (current_speed_mbps or 0)
    discount = offer.discount_chf > 0
    return {
        "language": language,
        "greeting": f"{salutation(language)} {name}".strip(),
        "headline": copy.headline,
        "body": copy.body,
        "offer_name": copy.name,
        "new_speed": format_speed(new_speed_mbps, language),
        "current_speed": format_speed(current_speed_mbps, language) if compare and current_speed_mbps else None,
        "factor": speed_factor(delivered, current_speed_mbps, language) if compare else None,
        "monthly": format_chf(offer.monthly_chf),
        "discount": format_chf(offer.discount_chf) if discount else None,
        "discount_months": offer.discount_months,
        "net_monthly": format_chf(offer.monthly_chf - offer.discount_chf),
        "unsubscribe_url": unsubscribe_url,
    }


def render_email(
    *,
    language: str,
    first_name: str,
    last_name: str,
    offer: Offer,
    target_group: str,
    new_speed_mbps: int,
    current_speed_mbps: int | None,
    unsubscribe_url: str,
) -> RenderedEmail:
    """The offer e-mail in the customer's language (English for an unknown one)."""
    if not unsubscribe_url.lower().startswith("https://"):
        raise ValueError("the unsubscribe URL must be https")
    lang = normalise_language(language)
    context = _email_context(
        lang, _full_name(first_name, last_name), offer, target_group,
        new_speed_mbps, current_speed_mbps, unsubscribe_url,
    )
    env = _environment()
    html = env.get_template(f"email/{lang}.html").render(context)
    text = _tidy_text(env.get_template(f"email/{lang}.txt").render(context))
    return RenderedEmail(subject=str(context["headline"]), html=html, text=text, language=lang)


def fits_one_segment(text: str) -> bool:
    """Whether the text fits one SMS (160 GSM-7 septets, else 70 UCS-2 code units)."""
    from shared.domain.sms_text import measure

    return measure(text).segments == 1


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else f"{text}."


def render_sms(
    *,
    language: str,
    first_name: str,
    offer: Offer,
    new_speed_mbps: int,
    stop_keyword: str = "STOP",
    short_code: str = "9988",
) -> str:
    """The offer SMS with the opt-out instruction; as personal as one segment allows."""
    if not stop_keyword.strip() or not short_code.strip():
        raise ValueError("an SMS needs an opt-out keyword and short code")
    lang = normalise_language(language)
    copy = _sentence(offer.copy_for(lang).sms)
    opt_out = _SMS_OPT_OUT[lang].format(keyword=stop_keyword.strip(), code=short_code.strip())
    name = " ".join(first_name.split())
    greeting = _SMS_GREETINGS[lang].format(name=name) if name else ""
    speed = "" if "bit/s" in copy.lower() else _SMS_SPEED[lang].format(speed=format_speed(new_speed_mbps, lang))
    candidates = [
        (greeting, copy, speed, opt_out),
        (greeting, copy, opt_out),
        (copy, speed, opt_out),
    ]
    for parts in candidates:
        text = " ".join(part for part in parts if part)
        if fits_one_segment(text):
            return text
    return f"{copy} {opt_out}"
