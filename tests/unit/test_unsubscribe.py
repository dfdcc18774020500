"""Unit tests of the signed one-click unsubscribe tokens and URLs."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.channels.unsubscribe import (
    InvalidToken,
    UnsubscribeClaim,
    make_token,
    token_from_url,
    unsubscribe_url,
    verify_token,
)

SECRET = b"test-secret-0123456789abcdef"
ISSUED = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)
ID_CHARS = st.characters(codec="utf-8")
IDS = st.text(ID_CHARS, min_size=1, max_size=40)
CHANNELS = st.sampled_from(["email", "sms", "print", "call", "all"])
TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))]),
)


def _token(**overrides: object) -> str:
    fields: dict[str, object] = {
        "customer_id": "C-000123", "household_id": "H-000045", "channel": "email",
        "campaign_id": "fibre-rollout", "issued_at": ISSUED,
    }
    fields.update(overrides)
    return make_token(SECRET, **fields)  # type: ignore[arg-type]


def test_round_trip_gives_the_claim() -> None:
    claim = verify_token(SECRET, _token(), now=ISSUED + timedelta(days=3))
    assert claim == UnsubscribeClaim("C-000123", "H-000045", "email", "fibre-rollout", ISSUED)


def test_token_is_compact_and_url_safe() -> None:
    token = _token()
    assert len(token) < 200
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert token.count(".") == 1


def test_payload_carries_ids_only() -> None:
    payload_part = _token().split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4)))
    assert set(payload) == {"v", "c", "h", "ch", "k", "t"}


@settings(max_examples=150, deadline=None)
@given(customer=IDS, household=IDS, channel=CHANNELS, campaign=IDS, issued=TIMES,
       age=st.integers(min_value=0, max_value=399 * 86400))
def test_round_trip_property(
    customer: str, household: str, channel: str, campaign: str, issued: datetime, age: int
) -> None:
    token = make_token(SECRET, customer_id=customer, household_id=household, channel=channel,
                       campaign_id=campaign, issued_at=issued)
    claim = verify_token(SECRET, token, now=issued + timedelta(seconds=age))
    assert (claim.customer_id, claim.household_id, claim.channel, claim.campaign_id) == (
        customer, household, channel, campaign)
    assert claim.issued_at == issued.replace(microsecond=0).astimezone(UTC)


@settings(max_examples=300, deadline=None)
@given(customer=IDS, data=st.data())
def test_flipping_any_character_fails(customer: str, data: st.DataObject) -> None:
    token = make_token(SECRET, customer_id=customer, household_id="H-1", channel="sms",
                       campaign_id="fibre-rollout", issued_at=ISSUED)
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(
        lambda c: c != token[index]))
    tampered = token[:index] + replacement + token[index + 1:]
    with pytest.raises(InvalidToken):
        verify_token(SECRET, tampered, now=ISSUED)


@settings(max_examples=50, deadline=None)
@given(other=st.binary(min_size=1, max_size=64).filter(lambda s: s != SECRET))
def test_wrong_secret_fails(other: bytes) -> None:
    with pytest.raises(InvalidToken):
        verify_token(other, _token(), now=ISSUED)


@pytest.mark.parametrize("token", ["", ".", "abc", "a.b.c", "abc.", ".abc", "a b.c", "é.é", "x" * 5000])
def test_malformed_tokens_fail(token: str) -> None:
    with pytest.raises(InvalidToken):
        verify_token(SECRET, token, now=ISSUED)


def test_expired_token_fails_and_age_limit_is_configurable() -> None:
    token = _token()
    verify_token(SECRET, token, now=ISSUED + timedelta(days=400))
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(SECRET, token, now=ISSUED + timedelta(days=400, seconds=1))
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(SECRET, token, now=ISSUED + timedelta(days=31), max_age_days=30)


def test_token_from_the_future_fails() -> None:
    with pytest.raises(InvalidToken):
        verify_token(SECRET, _token(), now=ISSUED - timedelta(days=1))


def test_naive_times_and_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        _token(issued_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        verify_token(SECRET, _token(), now=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        _token(channel="fax")
    with pytest.raises(ValueError):
        _token(customer_id="")
    with pytest.raises(ValueError):
        make_token(b"", customer_id="C", household_id="H", channel="email", campaign_id="k", issued_at=ISSUED)


def test_unsubscribe_url_is_https_with_the_token() -> None:
    token = _token()
    url = unsubscribe_url("https://unsubscribe.example.ch/u?lang=de", token)
    assert url.startswith("https://unsubscribe.example.ch/u?")
    assert "lang=de" in url
    assert token_from_url(url) == token
    assert token_from_url(unsubscribe_url("https://unsubscribe.example.ch", token)) == token


@pytest.mark.parametrize("base", [
    "http://unsubscribe.example.ch/u", "ftp://example.ch", "//example.ch/u", "unsubscribe.example.ch/u",
    "https:///u", "https://example.ch/u#frag", "",
])
def test_unsubscribe_url_refuses_non_https(base: str) -> None:
    with pytest.raises(ValueError):
        unsubscribe_url(base, _token())


def test_unsubscribe_url_refuses_a_non_token() -> None:
    with pytest.raises(ValueError):
        unsubscribe_url("https://example.ch/u", "a&b=c")
