"""Signed one-click unsubscribe tokens (RFC 8058): compact, URL-safe, HMAC-SHA256, ids only."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TOKEN_VERSION = 1
CHANNELS = frozenset({"email", "sms", "print", "call", "all"})
# A token issued slightly "in the future" of the verifier's clock is accepted (clock skew).
CLOCK_SKEW = timedelta(minutes=10)
TOKEN_PARAMETER = "token"

_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_MAX_TOKEN_CHARS = 2048


class InvalidToken(ValueError):
    """A token that is malformed, tampered with, signed with another secret or expired."""


@dataclass(frozen=True)
class UnsubscribeClaim:
    """What a valid token says: who unsubscribes from which channel of which campaign."""

    customer_id: str
    household_id: str
    channel: str
    campaign_id: str
    issued_at: datetime


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64URL.match(text):
        raise InvalidToken("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("not base64url") from exc


def _signature(secret: bytes, payload_part: str) -> str:
    digest = hmac.new(secret, payload_part.encode("ascii"), hashlib.sha256).digest()
    return _b64encode(digest)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def make_token(
    secret: bytes,
    *,
    customer_id: str,
    household_id: str,
    channel: str,
    campaign_id: str,
    issued_at: datetime,
) -> str:
    """A signed token `payload.signature` (both base64url, no padding) carrying only ids."""
    if not secret:
        raise ValueError("the signing secret is empty")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel: {channel!r}")
    for name, value in (("customer_id", customer_id), ("household_id", household_id), ("campaign_id", campaign_id)):
        if not value:
            raise ValueError(f"{name} is empty")
    _require_aware(issued_at, "issued_at")
    payload = {
        "v": TOKEN_VERSION,
        "c": customer_id,
        "h": household_id,
        "ch": channel,
        "k": campaign_id,
        "t": int(issued_at.timestamp()),
    }
    payload_part = _b64encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    return f"{payload_part}.{_signature(secret, payload_part)}"


def _split_and_check(secret: bytes, token: str) -> str:
    """The payload part of a token whose signature is right; else InvalidToken."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        raise InvalidToken("malformed token")
    parts = token.split(".")
    if len(parts) != 2 or not all(_B64URL.match(part) for part in parts):
        raise InvalidToken("malformed token")
    payload_part, signature_part = parts
    expected = _signature(secret, payload_part)
    # Compare the canonical encoded form: a different spelling of the same bytes is rejected too.
    if not hmac.compare_digest(expected.encode("ascii"), signature_part.encode("ascii")):
        raise InvalidToken("bad signature")
    return payload_part


def _claim_from(payload: Any) -> UnsubscribeClaim:
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        raise InvalidToken("unknown token version")
    ids = [payload.get(key) for key in ("c", "h", "ch", "k")]
    issued = payload.get("t")
    if not all(isinstance(value, str) and value for value in ids) or type(issued) is not int:
        raise InvalidToken("incomplete token")
    if ids[2] not in CHANNELS:
        raise InvalidToken("unknown channel")
    try:
        issued_at = datetime.fromtimestamp(issued, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidToken("bad issue time") from exc
    return UnsubscribeClaim(
        customer_id=str(ids[0]), household_id=str(ids[1]), channel=str(ids[2]),
        campaign_id=str(ids[3]), issued_at=issued_at,
    )


def verify_token(secret: bytes, token: str, *, now: datetime, max_age_days: int = 400) -> UnsubscribeClaim:
    """The claim of a genuine, unexpired token; raises InvalidToken otherwise."""
    _require_aware(now, "now")
    if not secret:
        raise InvalidToken("no signing secret")
    payload_part = _split_and_check(secret, token)
    try:
        payload = json.loads(_b64decode(payload_part))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidToken("malformed payload") from exc
    claim = _claim_from(payload)
    if claim.issued_at > now + CLOCK_SKEW:
        raise InvalidToken("token issued in the future")
    if now - claim.issued_at > timedelta(days=max_age_days):
        raise InvalidToken("token expired")
    return claim


def unsubscribe_url(base_url: str, token: str) -> str:
    """The one-click URL: the https base with the token as query parameter `token`."""
    parts = urlsplit(base_url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValueError("the unsubscribe base URL must be an absolute https URL")
    if parts.fragment:
        raise ValueError("the unsubscribe base URL must not carry a fragment")
    if not token or not all(_B64URL.match(part) for part in token.split(".")):
        raise ValueError("not an unsubscribe token")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != TOKEN_PARAMETER]
    query.append((TOKEN_PARAMETER, token))
    return urlunsplit(("https", parts.netloc, parts.path or "/", urlencode(query), ""))


def token_from_url(url: str) -> str | None:
    """The token carried by an unsubscribe URL, if any (for the receiving endpoint and tests)."""
    values = [v for k, v in parse_qsl(urlsplit(url).query) if k == TOKEN_PARAMETER]
    return values[-1] if values else None
