"""Signed one-click links: a genuine token reads back as signed; a changed, re-labelled,
foreign-key, expired or malformed one is refused with its reason."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

import pytest

from services.common.domain.links import (
    MAX_TOKEN_CHARS,
    LinkAction,
    LinkClaim,
    LinkRefusedError,
    answer_event_id,
    link_expiry,
    read_link,
    sign_link,
)
from tests.factories import ORG, T0

KEY = b"k" * 32
CLAIM = LinkClaim(ORG, "m-1", LinkAction.MET, "r-2025-10/g-1", link_expiry(T0))


def refusal(token: str, key: bytes = KEY, now: datetime = T0) -> str:
    with pytest.raises(LinkRefusedError) as refused:
        read_link(token, key, now)
    return refused.value.reason


def test_a_signed_link_reads_back_as_signed() -> None:
    rated = LinkClaim(ORG, "m-1", LinkAction.RATE, "r-2025-10/g-1", link_expiry(T0), rating=4)
    assert read_link(sign_link(CLAIM, KEY), KEY, T0) == CLAIM
    assert read_link(sign_link(rated, KEY), KEY, T0) == rated


def test_a_link_signed_with_another_key_is_tampered() -> None:
    assert refusal(sign_link(CLAIM, b"x" * 32)) == "tampered"


def test_a_changed_claim_is_tampered() -> None:
    token = sign_link(CLAIM, KEY)
    other = sign_link(LinkClaim(ORG, "m-2", LinkAction.MET, CLAIM.subject, CLAIM.expires), KEY)
    swapped = f"{other.split('.')[0]}.{token.split('.')[1]}"
    assert refusal(swapped) == "tampered"


def test_a_signature_does_not_carry_over_to_another_action() -> None:
    """The salt per action: the same claim body relabelled as opt-out does not verify."""
    token = sign_link(CLAIM, KEY)
    body = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    body["a"] = LinkAction.OPT_OUT.value
    relabelled = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    assert refusal(f"{relabelled}.{token.split('.')[1]}") == "tampered"


def test_an_expired_link_is_refused() -> None:
    token = sign_link(CLAIM, KEY)
    assert refusal(token, now=CLAIM.expires) == "expired"
    assert read_link(token, KEY, CLAIM.expires - timedelta(seconds=1)) == CLAIM


def _unsigned(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode() + ".AAAA"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "no-dot",
        "a.b.c",
        "!!!.???",
        "x" * (MAX_TOKEN_CHARS + 1),
        "é.é",
        _unsigned([1, 2]),
        _unsigned({"o": ORG, "m": "m-1", "a": "dance", "s": "x", "e": 1, "r": None}),
        _unsigned({"o": ORG, "m": "m-1", "a": "rate", "s": "x", "e": 1, "r": None}),
        _unsigned({"o": ORG, "m": "m-1", "a": "rate", "s": "x", "e": 1, "r": 9}),
        _unsigned({"o": ORG, "m": "m-1", "a": "met", "s": "x", "e": "soon", "r": None}),
        _unsigned({"o": ORG, "m": 7, "a": "met", "s": "x", "e": 1, "r": None}),
        _unsigned({"o": ORG, "m": "m-1", "a": "met", "s": "x", "e": 10**20, "r": None}),
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    assert refusal(token) == "malformed"


def test_one_token_answers_under_one_event_id() -> None:
    token = sign_link(CLAIM, KEY)
    assert answer_event_id(token) == answer_event_id(token)
    assert answer_event_id(token) != answer_event_id(sign_link(CLAIM, b"x" * 32))
