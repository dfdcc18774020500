"""`dispatch preview`: every message the catalogue will send, rendered by the channels' own code, on one page.

Per offer and language: the e-mail (subject, HTML and text with the unsubscribe link, built into the MIME
message SES would get), the SMS (encoding and segments, flagged over `sms.max_segments`), the letter's printed
fields (personalised or partially addressed, as the gate gives the offer's target group); and a sample
call-list row. A template that fails to render, copy missing in a language (the English fallback would go out)
or a message missing its unsubscribe link is flagged on the page and returned as a problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined

from shared.channels.copy import SUPPORTED_LANGUAGES, render_email, render_sms
from shared.channels.letter import CALL_LIST_COLUMNS, call_list_row, letter_fields
from shared.channels.mime import build_mime
from shared.config import DispatchConfig
from shared.domain.gate import Person, print_kind
from shared.domain.sms_text import measure
from shared.offers import Offer
from shared.report.html import page_head

UNSUBSCRIBE_URL = "https://unsubscribe.example.invalid/u/preview-token"
SAMPLE_PEOPLE = {"de": ("Anna", "Müller"), "fr": ("Camille", "Favre"), "it": ("Giulia", "Bernasconi"),
                 "en": ("James", "Smith")}
SAMPLE_ADDRESSES = {
    "de": {"street": "Technikumstrasse", "house_number": "12", "postcode": "8400", "locality": "Winterthur"},
    "fr": {"street": "Rue du Lac", "house_number": "5a", "postcode": "1400", "locality": "Yverdon-les-Bains"},
    "it": {"street": "Viale Stazione", "house_number": "3", "postcode": "6500", "locality": "Bellinzona"},
    "en": {"street": "Bahnhofstrasse", "house_number": "1", "postcode": "8001", "locality": "Zürich"},
}

SAMPLE_PERSON = Person("C-000123", True, True, "kunde@example.ch", "+41791234567", "listed", True, True, True, False,
                       False)


@dataclass
class Card:
    """One message of one offer in one language, or why it could not be shown."""

    channel: str
    language: str
    title: str
    fields: dict[str, Any] = field(default_factory=dict)
    html: str | None = None
    text: str | None = None
    problems: list[str] = field(default_factory=list)


def _email(offer: Offer, language: str) -> Card:
    first, last = SAMPLE_PEOPLE[language]
    card = Card("email", language, "e-mail")
    try:
        rendered = render_email(language=language, first_name=first, last_name=last, offer=offer,
                                target_group=offer.target_group, new_speed_mbps=offer.speed_mbps,
                                current_speed_mbps=100 if offer.target_group == "upgrade" else None,
                                unsubscribe_url=UNSUBSCRIBE_URL)
        mime = message_from_bytes(build_mime(rendered=rendered, sender="angebote@example.ch",
                                             recipient="kunde@example.ch", unsubscribe_url=UNSUBSCRIBE_URL,
                                             sent_at=datetime(2026, 3, 2, 9, tzinfo=UTC)))
    except Exception as exc:  # the page shows any failure to render
        card.problems.append(f"template fails to render: {type(exc).__name__}: {exc}")
        return card
    card.fields = {"subject": rendered.subject, "List-Unsubscribe": mime["List-Unsubscribe"],
                   "Content-Language": mime["Content-Language"]}
    card.html, card.text = rendered.html, rendered.text
    for part, body in (("HTML", rendered.html), ("text", rendered.text)):
        if UNSUBSCRIBE_URL not in body:
            card.problems.append(f"the {part} part has no unsubscribe link")
    return card


def _sms(offer: Offer, language: str, config: DispatchConfig) -> Card:
    card = Card("sms", language, "SMS")
    try:
        text = render_sms(language=language, first_name=SAMPLE_PEOPLE[language][0], offer=offer,
                          new_speed_mbps=offer.speed_mbps, stop_keyword=config.sms.stop_keyword,
                          short_code=config.sms.short_code)
    except Exception as exc:  # the page shows any failure to render
        card.problems.append(f"SMS fails to render: {type(exc).__name__}: {exc}")
        return card
    encoding = measure(text)
    card.text = text
    card.fields = {"encoding": encoding.encoding, "length": encoding.units, "segments": encoding.segments,
                   "limit (sms.max_segments)": config.sms.max_segments}
    if encoding.segments > config.sms.max_segments:
        card.problems.append(f"needs {encoding.segments} segments, over sms.max_segments "
                             f"{config.sms.max_segments}: it would be skipped, never sent cut short")
    if config.sms.stop_keyword not in text:
        card.problems.append("no opt-out instruction")
    return card


def _letter(offer: Offer, language: str) -> Card:
    first, last = SAMPLE_PEOPLE[language]
    kind = print_kind(offer.target_group, SAMPLE_PERSON)  # what the gate makes of a letter to this target group
    card = Card("print", language, f"letter ({kind.replace('_', ' ')})")
    customer = {"customer_id": "C-000123", "first_name": first, "last_name": last}
    card.fields = letter_fields(kind, language, SAMPLE_ADDRESSES[language], offer.offer_id, customer)
    if not card.fields.get("addressee"):
        card.problems.append("no addressee")
    return card


def _cards(offer: Offer, config: DispatchConfig) -> list[Card]:
    channels = {s.channel for s in config.journeys[offer.target_group].steps}
    cards = []
    for language in SUPPORTED_LANGUAGES:
        missing = _missing_copy(offer, language)
        made = [_email(offer, language) if "email" in channels else None,
                _sms(offer, language, config) if "sms" in channels else None,
                _letter(offer, language) if "print" in channels else None]
        for card in made:
            if card is not None:
                card.problems[:0] = missing
                cards.append(card)
    return cards


def _missing_copy(offer: Offer, language: str) -> list[str]:
    """Copy the catalogue lacks in a language: none at all (the English would go), or the English itself."""
    if language not in offer.copy_text:
        return [f"copy missing in {language}: the English copy would go"]
    if language != "en" and "en" in offer.copy_text:
        same = [name for name, value in offer.copy_text[language].model_dump().items()
                if value == getattr(offer.copy_text["en"], name) and name != "name"]
        if same:
            return [f"copy in {language} is the English text ({', '.join(same)}): not translated"]
    return []


def _call_row(offers: tuple[Offer, ...], config: DispatchConfig) -> dict[str, Any]:
    called = [o for o in offers if "call" in {step.channel for step in config.journeys[o.target_group].steps}]
    offer_id = called[0].offer_id if called else (offers[0].offer_id if offers else "")
    row = call_list_row(date(2026, 3, 16).isoformat(), {"first_name": "Anna", "last_name": "Müller",
                                                         "mobile": "+41791234567", "language": "de"},
                        {"language": "de"}, "C-000123", "HH-000042", offer_id, 1)
    return {"priority": 1, **row}


def build_preview(offers: tuple[Offer, ...], config: DispatchConfig) -> tuple[str, list[str]]:
    sections: list[dict[str, Any]] = [{"offer": o, "cards": _cards(o, config)} for o in offers]
    problems = [f"{s['offer'].offer_id} {c.language} {c.title}: {p}" for s in sections for c in s["cards"]
                for p in c.problems]
    call_row = _call_row(offers, config)
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    page = env.from_string(_TEMPLATE).render(sections=sections, problems=problems, call_row=call_row,
                                             columns=CALL_LIST_COLUMNS)
    return page, problems


def write_preview(offers: tuple[Offer, ...], config: DispatchConfig, out: Path) -> tuple[Path, list[str]]:
    out.mkdir(parents=True, exist_ok=True)
    page, problems = build_preview(offers, config)
    path = out / "preview.html"
    path.write_text(page, encoding="utf-8")
    return path, problems


_PREVIEW_STYLE = """.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: .8rem; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: .6rem .8rem; background: #fafafa; }
.card.flagged { border: 2px solid #b00020; background: #fff3f4; }
.card h3 { margin: .1rem 0 .4rem; font-size: 1rem; } .card dl { margin: 0; font-size: .85rem; }
.card pre { white-space: pre-wrap; font-size: .8rem; background: #fff; border: 1px solid #eee; padding: .4rem; }
.card iframe { width: 100%; height: 320px; border: 1px solid #ddd; background: #fff; }
.problem { color: #b00020; font-weight: 600; } .ok { color: #1b7f3b; font-weight: 600; }
"""

_TEMPLATE = page_head("Message preview", _PREVIEW_STYLE) + """
<body>
<header>
<h1>Message preview</h1>
<p class="sub">Every offer's messages in every language, rendered by the channels' own code.</p>
{% if problems %}<section id="problems" class="problem"><h2>{{ problems|length }} problem(s)</h2><ul>
{% for p in problems %}<li>{{ p }}</li>{% endfor %}</ul></section>
{% else %}<p id="problems" class="ok">No problems: every template renders, every language has its copy, every
message has its unsubscribe or opt-out.</p>{% endif %}
</header>
<main>
{% for section in sections %}
<section class="offer" id="offer-{{ section.offer.offer_id }}">
<h2>{{ section.offer.offer_id }} <small>({{ section.offer.target_group }})</small></h2>
<div class="cards">
{% for card in section.cards %}
<article class="card {{ card.channel }}{% if card.problems %} flagged{% endif %}" data-channel="{{ card.channel }}"
 data-language="{{ card.language }}">
<h3>{{ card.title }} · {{ card.language }}</h3>
{% for p in card.problems %}<p class="problem">{{ p }}</p>{% endfor %}
<dl>{% for k, v in card.fields.items() %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}</dl>
{% if card.html %}<iframe sandbox title="{{ section.offer.offer_id }} e-mail {{ card.language }}"
 srcdoc="{{ card.html }}"></iframe>{% endif %}
{% if card.text %}<pre>{{ card.text }}</pre>{% endif %}
</article>
{% endfor %}
</div>
</section>
{% endfor %}
<section id="call-row"><h2>A call-list row</h2>
<table><thead><tr>{% for c in columns %}<th scope="col">{{ c }}</th>{% endfor %}</tr></thead>
<tbody><tr>{% for c in columns %}<td>{{ call_row[c] }}</td>{% endfor %}</tr></tbody></table>
</section>
</main>
</body>
</html>
"""
