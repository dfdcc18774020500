"""One-click unsubscribe (RFC 8058): a POST with a genuine token suppresses its channel; a GET only asks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import urlencode

from shared.campaign import Campaign
from shared.channels.copy import normalise_language
from shared.channels.unsubscribe import InvalidToken, UnsubscribeClaim, verify_token
from shared.events import ResponseReceived
from shared.settings import Settings

_CHANNEL_WORDS = {
    "de": {"email": "E-Mails", "sms": "SMS", "print": "Briefe", "call": "Anrufe", "all": "Nachrichten"},
    "fr": {"email": "e-mails", "sms": "SMS", "print": "lettres", "call": "appels", "all": "messages"},
    "it": {"email": "e-mail", "sms": "SMS", "print": "lettere", "call": "chiamate", "all": "messaggi"},
    "en": {"email": "emails", "sms": "text messages", "print": "letters", "call": "calls", "all": "messages"},
}
_ASK = {
    "de": ("Abmelden?", "Keine Marketing-{what} mehr von uns erhalten?", "Abmelden"),
    "fr": ("Se désabonner ?", "Ne plus recevoir nos {what} publicitaires ?", "Se désabonner"),
    "it": ("Annullare l'iscrizione?", "Non ricevere più le nostre {what} pubblicitarie?", "Annulla l'iscrizione"),
    "en": ("Unsubscribe?", "Stop receiving marketing {what} from us?", "Unsubscribe"),
}
_DONE = {
    "de": ("Abgemeldet", "Sie erhalten keine Marketing-{what} mehr von uns."),
    "fr": ("Désabonnement confirmé", "Vous ne recevrez plus nos {what} publicitaires."),
    "it": ("Iscrizione annullata", "Non riceverà più le nostre {what} pubblicitarie."),
    "en": ("Unsubscribed", "You will no longer receive marketing {what} from us."),
}
# One message for every bad token: whether it was tampered with, expired or malformed is nobody's business.
_INVALID = {
    "de": ("Link ungültig", "Dieser Abmeldelink ist ungültig oder abgelaufen."),
    "fr": ("Lien invalide", "Ce lien de désabonnement est invalide ou a expiré."),
    "it": ("Link non valido", "Questo link di annullamento non è valido o è scaduto."),
    "en": ("Invalid link", "This unsubscribe link is invalid or has expired."),
}


@dataclass(frozen=True)
class Page:
    status: int
    html: str
    language: str


def _page(language: str, title: str, body: str, status: int = 200) -> Page:
    html = (f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
            f'<meta name="robots" content="noindex"><title>{escape(title)}</title></head>'
            f"<body><h1>{escape(title)}</h1>{body}</body></html>")
    return Page(status, html, language)


def invalid_page(language: str) -> Page:
    lang = normalise_language(language)
    title, text = _INVALID[lang]
    return _page(lang, title, f"<p>{escape(text)}</p>", status=400)


def check(secret: bytes, token: str | None, now: datetime) -> UnsubscribeClaim | None:
    """The token's claim, or None for a missing, tampered, foreign or expired token."""
    if not token:
        return None
    try:
        return verify_token(secret, token, now=now)
    except InvalidToken:
        return None


def confirmation_page(claim: UnsubscribeClaim, token: str, language: str) -> Page:
    """What a GET shows: a question and a form that POSTs; following the link changes nothing."""
    lang = normalise_language(language)
    title, question, button = _ASK[lang]
    action = escape("?" + urlencode({"token": token}))
    form = (f'<form method="post" action="{action}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            f'<button type="submit">{escape(button)}</button></form>')
    what = _CHANNEL_WORDS[lang][claim.channel]
    return _page(lang, title, f"<p>{escape(question.format(what=what))}</p>{form}")


def unsubscribe(s: Settings, campaign: Campaign, claim: UnsubscribeClaim, now: datetime, language: str) -> Page:
    """Record the opt-out exactly as a responses-file `opt_out` would, and say so."""
    from functions.responses.logic import apply_response

    apply_response(s, campaign, ResponseReceived(
        correlation_id=claim.household_id, at=now, household_id=claim.household_id,
        customer_id=claim.customer_id, type="opt_out", channel=claim.channel))  # type: ignore[arg-type]
    lang = normalise_language(language)
    title, text = _DONE[lang]
    return _page(lang, title, f"<p>{escape(text.format(what=_CHANNEL_WORDS[lang][claim.channel]))}</p>")


def customer_language(s: Settings, claim: UnsubscribeClaim) -> str | None:
    """The language on file for the token's customer (None when unknown)."""
    from shared.aws import client
    from shared.stores.dynamo import to_item

    item = client("dynamodb").get_item(
        TableName=s.customers_table, Key=to_item({"household_id": claim.household_id,
                                                  "customer_id": claim.customer_id}),
        ProjectionExpression="#l", ExpressionAttributeNames={"#l": "language"}).get("Item")
    return str(item["language"]["S"]) if item and "S" in item.get("language", {}) else None
