"""Signed one-click links: a token names who may answer what, until when. The notifier signs
them into messages; the gateway verifies them before it publishes the answer. Pure: the key and
the moment are given.

A token is ``<claim>.<signature>``, both base64url without padding: the claim is compact JSON,
the signature HMAC-SHA256 over the action's salt and the claim, so a token signed for one action
does not verify as another. Nothing in a token is secret (it names ids, not names or addresses);
only the signature is checked, in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

MAX_TOKEN_CHARS = 600
"""Longer tokens are refused before any decoding (real ones are about 250 characters)."""
LINK_LIFETIME = timedelta(days=30)
"""How long a link in a message works: past the next rounds' feedback, not forever."""
MIN_KEY_BYTES = 32
SUBJECT_SEPARATOR = "/"
"""Between the parts of a subject (identifiers never contain it)."""
_EVENT_ID_NAMESPACE = uuid.UUID("0b6c4f5e-8f0d-4d43-9a4e-6b1f4f3c2a71")


class LinkAction(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    RATE = "rate"
    RSVP = "rsvp"
    ATTENDED = "attended"
    PAUSE = "pause"
    OPT_OUT = "opt_out"
    PULSE = "pulse"


COFFEE_ACTIONS = frozenset({LinkAction.MET, LinkAction.NOT_MET, LinkAction.RATE})
RITUAL_ACTIONS = frozenset({LinkAction.RSVP, LinkAction.ATTENDED})
SCORED_ACTIONS = frozenset({LinkAction.RATE, LinkAction.PULSE})
"""Actions whose link carries a score 1-5 (``rating``): one link per score."""


@dataclass(frozen=True)
class LinkClaim:
    """What a link lets its recipient do. ``subject``: the coffee group (``round_id/group_id``)
    or the ritual occurrence (``ritual_id/occurrence start``); for pause and opt-out the
    notification the link came in; for the pulse the Monday of its week (``pulse_subject``).
    ``rating``: 1-5 for RATE and PULSE (the score), else None."""

    organisation: str
    member_id: str
    action: LinkAction
    subject: str
    expires: datetime
    rating: int | None = None


class LinkRefusedError(ValueError):
    """A token that is not a valid, current link; ``reason`` is one of malformed, tampered,
    expired (said to the person; the token itself is never logged)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def coffee_subject(round_id: str, group_id: str) -> str:
    return f"{round_id}{SUBJECT_SEPARATOR}{group_id}"


def ritual_subject(ritual_id: str, occurrence_start: datetime) -> str:
    return f"{ritual_id}{SUBJECT_SEPARATOR}{occurrence_start.isoformat()}"


def pulse_subject(week_starting: date) -> str:
    return week_starting.isoformat()


def sign_link(claim: LinkClaim, key: bytes) -> str:
    body = json.dumps(
        {
            "o": claim.organisation,
            "m": claim.member_id,
            "a": claim.action.value,
            "s": claim.subject,
            "e": int(claim.expires.timestamp()),
            "r": claim.rating,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    encoded = _b64(body)
    return f"{encoded}.{_b64(_signature(key, claim.action, encoded))}"


def read_link(token: str, key: bytes, now: datetime) -> LinkClaim:
    """The claim of a genuine, unexpired token; LinkRefusedError otherwise."""
    claim = unverified_claim(token)
    encoded, signature = token.split(".")
    expected = _signature(key, claim.action, encoded)
    if not hmac.compare_digest(_unb64(signature), expected):
        raise LinkRefusedError("tampered")
    if claim.expires <= now:
        raise LinkRefusedError("expired")
    return claim


def unverified_claim(token: str) -> LinkClaim:
    """What a token says, before its signature is checked: only for choosing (which link a
    reader follows, whose clock judges its expiry), never for acting; LinkRefusedError when it
    is not even shaped like a link."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise LinkRefusedError("malformed")
    return _decoded_claim(token.split(".")[0])


def answer_event_id(token: str) -> uuid.UUID:
    """The id of the event a link's answer publishes: the same token answers once (consumers
    drop a repeated id), whoever clicks it how often."""
    return uuid.uuid5(_EVENT_ID_NAMESPACE, token)


def link_expiry(sent_at: datetime) -> datetime:
    """At least LINK_LIFETIME after sending, on a day boundary: a message rendered again the same
    day (a retry) carries the very same links."""
    day = sent_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + LINK_LIFETIME + timedelta(days=1)


def _decoded_claim(encoded: str) -> LinkClaim:
    try:
        fields = json.loads(_unb64(encoded))
        action = LinkAction(fields["a"])
        rating = fields.get("r")
        texts = [fields["o"], fields["m"], fields["s"]]
        if not all(isinstance(text, str) and text for text in texts):
            raise LinkRefusedError("malformed")
        if not isinstance(fields["e"], int) or not (rating is None or isinstance(rating, int)):
            raise LinkRefusedError("malformed")
        if (action in SCORED_ACTIONS) != (rating is not None) or rating not in (
            None,
            1,
            2,
            3,
            4,
            5,
        ):
            raise LinkRefusedError("malformed")
        expires = datetime.fromtimestamp(fields["e"], UTC)
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        raise LinkRefusedError("malformed") from None
    return LinkClaim(fields["o"], fields["m"], action, fields["s"], expires, rating)


def _signature(key: bytes, action: LinkAction, encoded: str) -> bytes:
    salted = f"rituals.link.{action.value}\n{encoded}".encode()
    return hmac.new(key, salted, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise LinkRefusedError("malformed") from None
