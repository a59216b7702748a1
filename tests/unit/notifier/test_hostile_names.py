"""Names with line breaks, NULs, bidi overrides, great length or emoji: every channel still
composes a sound message, one member's name stops nobody's notice, and a message that cannot be
composed is a permanent failure with a clear reason."""

from __future__ import annotations

import email
import email.policy
import json
from typing import Any

import pytest
from icalendar import Calendar

from schemas.coffee import CoffeeMatched
from services.notifier.adapters.base import DeliveryResult, Outgoing
from services.notifier.adapters.smtp import EmailComposer
from services.notifier.adapters.webhooks import HttpPoster, SignedWebhookChannel
from services.notifier.domain.backoff import RetryPolicy
from services.notifier.domain.formats import as_slack, as_teams
from services.notifier.domain.rendering import render
from services.notifier.handlers import NotifierProcessor
from services.notifier.worker import DeliveryWorker
from tests.factories import event, sample_payload
from tests.unit.notifier.local_http import Recorder
from tests.unit.notifier.support import MemoryRuntime, ScriptedChannel, joined, policy_with

HOSTILE = {
    "header injection": "Ada\r\nBcc: everyone@example.org",
    "line break": "Ada\nLovelace",
    "nul": "Ada\x00Lovelace",
    "bidi override": "Ada \u202eecalevoL\u202c",
    "long": "Ada " + "Lovelace " * 21,
    "emoji": "Ada 👩\u200d💻",
}
SECRET = b"0123456789abcdef0123456789abcdef"


def outgoing_for(name: str, channel: Any) -> list[Outgoing]:
    """Both participants of a match named ``name``: what each of them is sent."""
    processor = NotifierProcessor(policy_with("slack", "teams", "webhook"))
    for member_id in ("m-1", "m-2"):
        processor.apply(joined(member_id, display_name=name, notification_channels=(channel,)))
    processor.apply(event(sample_payload(CoffeeMatched)))
    return [Outgoing(delivery, render(delivery)) for delivery in processor.book.ready()]


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_an_email_to_and_about_them_has_sound_headers_and_invitation(name: str) -> None:
    composer = EmailComposer("rituals@example.com", "Rituals")
    for outgoing in outgoing_for(name, "email"):
        raw = bytes(composer.compose(outgoing))
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        assert mail["Bcc"] is None
        assert len(mail.get_all("To") or []) == 1
        for header in ("To", "Subject", "From"):
            assert not set(str(mail[header])) & {"\r", "\n", "\x00", "\u202e"}
        parts = {part.get_content_type(): part for part in mail.iter_parts()}
        calendar = Calendar.from_ical(parts["text/calendar"].get_content())
        (meeting,) = calendar.walk("VEVENT")
        for attendee in meeting.get("attendee"):
            assert not set(str(attendee.params["CN"])) & {"\r", "\n", "\x00", "\u202e"}


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_slack_and_teams_documents_carry_the_cleaned_name(name: str) -> None:
    for channel, document in (("slack", as_slack), ("teams", as_teams)):
        for outgoing in outgoing_for(name, channel):
            text = json.dumps(document(outgoing.message), ensure_ascii=False)
            assert not set(text) & {"\x00", "\u202e", "\r"}
            assert "Ada" in text


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
async def test_the_signed_webhook_carries_the_cleaned_profile(name: str) -> None:
    poster = HttpPoster(5)
    async with Recorder().serving() as recorder:
        channel = SignedWebhookChannel(poster, lambda _org: (recorder.url, SECRET))
        for outgoing in outgoing_for(name, "webhook"):
            assert (await channel.send(outgoing)).outcome.value == "delivered"
        await poster.close()
    assert recorder.requests
    assert all("\\u0000" not in r.content.decode() for r in recorder.requests)
    assert all("\u202e" not in r.content.decode() for r in recorder.requests)


async def test_a_message_that_cannot_be_composed_fails_for_good_and_stops_nobody_else() -> None:
    class Refusing(ScriptedChannel):
        async def send(self, outgoing: Any) -> DeliveryResult:
            self.attempts.append(outgoing)
            if outgoing.delivery.recipient.member_id == "m-1":
                raise ValueError("Header values may not contain linefeed or carriage return")
            return DeliveryResult.delivered()

    runtime = MemoryRuntime(NotifierProcessor(policy_with()))
    runtime.feed(
        joined("m-1", notification_channels=("email",)),
        joined("m-2", notification_channels=("email",)),
        event(sample_payload(CoffeeMatched)),
    )
    refusing = Refusing()
    worker = DeliveryWorker({"email": refusing}, RetryPolicy((1.0,)))
    worker.start_ready(runtime)
    await worker.idle()

    (failed,) = runtime.of_type("rituals.notification.failed")
    assert (failed.recipient_id, failed.permanent, failed.attempts) == ("m-1", True, 1)
    assert failed.reason == "could not compose the message: ValueError"
    assert [s.recipient_id for s in runtime.of_type("rituals.notification.sent")] == ["m-2"]
    assert len(refusing.attempts) == 2  # no retry of what cannot be composed
