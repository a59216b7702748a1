"""The demo's weekly notification line: a delivery that failed is told apart from a notice no
longer useful by the time it could go (not attempted at all)."""

from __future__ import annotations

import pytest

from schemas.notifications import NotificationFailed, NotificationSent
from services.demo.console import _notifications
from tests.factories import event

ABOUT = {"source_event_id": "e-1", "recipient_id": "m-1"}
LAPSED = "outside working hours until the occurrence started"


def _sent(channel: str) -> NotificationSent:
    return NotificationSent(
        notification_id=f"n-0/{channel}",
        channel=channel,
        template="coffee_matched",
        language="en",
        attempts=1,
        **ABOUT,
    )


def _failed(number: int, reason: str, attempts: int) -> NotificationFailed:
    return NotificationFailed(
        notification_id=f"n-{number}/email",
        channel="email",
        reason=reason,
        permanent=True,
        attempts=attempts,
        **ABOUT,
    )


def test_notices_not_attempted_are_not_counted_as_failed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    payloads = [
        _sent("email"),
        _failed(1, LAPSED, 0),
        _failed(2, LAPSED, 0),
        _failed(3, "http 500", 5),
    ]

    _notifications([event(payload) for payload in payloads], [], outbox_files=1)

    assert capsys.readouterr().out.splitlines() == [
        "Notifications: 1 sent (email 1), 1 failed; "
        "1 e-mails with invitations in the outbox so far",
        f"  2 not sent, no longer useful: {LAPSED}",
    ]


def test_the_message_shown_is_said_to_be_the_latest_sent_not_one_not_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    payloads = [_sent("console"), _failed(1, LAPSED, 0)]

    _notifications([event(p) for p in payloads], ["first\nold", "Hi Ada,\nyour coffee"], 0)

    assert capsys.readouterr().out.splitlines()[1:] == [
        f"  1 not sent, no longer useful: {LAPSED}",
        "  The latest sent, as the console channel printed it:",
        "  │ Hi Ada,",
        "  │ your coffee",
    ]
