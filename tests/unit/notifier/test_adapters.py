"""Channel adapters: what they send, and how they classify failures."""

from __future__ import annotations

import base64
import email
import email.policy
import io
import json
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from icalendar import Calendar
from pydantic import SecretStr
from standardwebhooks import Webhook

from infra.broker import free_port
from schemas import encode_event
from services.notifier.adapters.base import DeliveryResult, Outcome, idempotency_key
from services.notifier.adapters.console import ConsoleChannel
from services.notifier.adapters.smtp import EmailComposer, OutboxChannel, SmtpChannel, _by_smtp_code
from services.notifier.adapters.webhooks import (
    HttpPoster,
    SignedWebhookChannel,
    SlackChannel,
    TeamsChannel,
    classify_status,
    standard_webhook_signature,
)
from tests.unit.notifier.support import outgoing

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
URL = SecretStr("https://hooks.example.com/services/T000/B000/secret-token")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (301, Outcome.PERMANENT),
        (400, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (410, Outcome.PERMANENT),
        (408, Outcome.TRANSIENT),
        (429, Outcome.TRANSIENT),
        (500, Outcome.TRANSIENT),
        (503, Outcome.TRANSIENT),
    ],
)
def test_http_answers_are_classified(status: int, expected: Outcome) -> None:
    assert classify_status(status).outcome is expected


def test_a_retry_after_in_seconds_is_kept() -> None:
    assert classify_status(429, "7").retry_after == 7
    assert classify_status(503, "Wed, 21 Oct 2015 07:28:00 GMT").retry_after is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [(421, Outcome.TRANSIENT), (451, Outcome.TRANSIENT), (550, Outcome.PERMANENT)],
)
def test_smtp_replies_are_classified(code: int, expected: Outcome) -> None:
    result = _by_smtp_code(code, "recipient refused")
    assert result.outcome is expected
    assert result.reason == f"recipient refused {code}"


def test_the_signature_is_what_an_independent_standard_webhooks_verifier_accepts() -> None:
    body = b'{"hello":"world"}'
    now = int(time.time())
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": standard_webhook_signature(key, "msg_1", now, body),
    }
    assert Webhook(SECRET).verify(body, headers) == {"hello": "world"}


class Recorder:
    """An httpx transport answering from a function and recording the requests."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def poster(self) -> HttpPoster:
        return HttpPoster(httpx.AsyncClient(transport=httpx.MockTransport(self)))


def ok(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


def test_the_generic_webhook_body_is_the_encoded_event_with_the_recipient_attributes() -> None:
    message = outgoing("webhook")
    source = message.delivery.notice.source

    def no_repeated_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _value in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    document = json.loads(SignedWebhookChannel.body(message), object_pairs_hook=no_repeated_keys)
    assert document == {
        **json.loads(encode_event(source)),
        "recipientid": message.delivery.recipient.member_id,
        "notificationid": message.notification_id,
        "notificationlanguage": message.message.language,
    }


async def test_the_generic_webhook_carries_the_signed_cloud_event_with_a_stable_id() -> None:
    recorder = Recorder(ok)
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    channel = SignedWebhookChannel(recorder.poster(), lambda _org: (URL, key))
    message = outgoing("webhook")
    assert (await channel.send(message)).outcome is Outcome.DELIVERED
    assert (await channel.send(message)).outcome is Outcome.DELIVERED

    first, second = recorder.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.headers["webhook-id"] == f"msg_{idempotency_key(message.notification_id)}"
    assert first.headers["idempotency-key"] == idempotency_key(message.notification_id)
    assert first.headers["content-type"] == "application/cloudevents+json"
    document = Webhook(SECRET).verify(first.content, dict(first.headers))
    source = message.delivery.notice.source
    assert document["id"] == str(source.id)
    assert document["type"] == "rituals.coffee.matched"
    assert document["data"]["group_id"] == "g-1"
    assert document["recipientid"] == "m-1"
    assert document["notificationid"] == message.notification_id


async def test_slack_and_teams_post_their_documents_with_an_idempotency_key() -> None:
    recorder = Recorder(ok)
    poster = recorder.poster()
    await SlackChannel(poster, lambda _org: URL).send(outgoing("slack"))
    await TeamsChannel(poster, lambda _org: URL).send(outgoing("teams"))
    slack, teams = (json.loads(request.content) for request in recorder.requests)
    assert slack["blocks"][0]["type"] == "header"
    assert teams["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert all(request.headers["idempotency-key"] for request in recorder.requests)


async def test_an_unconfigured_webhook_fails_for_good() -> None:
    poster = Recorder(ok).poster()
    result = await SlackChannel(poster, lambda _org: None).send(outgoing("slack"))
    assert result == DeliveryResult.permanent("channel not configured")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (httpx.ConnectTimeout("slow"), "http timeout"),
        (httpx.ReadTimeout("slow"), "http timeout"),
        (httpx.ConnectError("refused"), "http ConnectError"),
        (httpx.RemoteProtocolError("bad"), "http RemoteProtocolError"),
    ],
)
async def test_network_errors_are_transient_and_their_reason_names_no_url(
    error: Exception, reason: str
) -> None:
    def fail(_request: httpx.Request) -> httpx.Response:
        raise error

    result = await SlackChannel(Recorder(fail).poster(), lambda _org: URL).send(outgoing("slack"))
    assert result == DeliveryResult.transient(reason)
    assert "hooks.example.com" not in result.reason


async def test_a_webhook_4xx_is_permanent_and_a_5xx_transient() -> None:
    statuses = iter([400, 502])
    poster = Recorder(lambda _request: httpx.Response(next(statuses))).poster()
    channel = TeamsChannel(poster, lambda _org: URL)
    assert await channel.send(outgoing("teams")) == DeliveryResult.permanent("http 400")
    assert await channel.send(outgoing("teams")) == DeliveryResult.transient("http 502")


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_an_email_is_text_html_and_a_calendar_request() -> None:
    composer = EmailComposer("rituals@example.com", "Rituals")
    message = outgoing("email")
    mail = parsed(bytes(composer.compose(message)))
    assert mail["Message-ID"] == f"<{idempotency_key(message.notification_id)}@example.com>"
    assert mail["To"] == "Ada <m-1@example.com>"
    assert mail["Subject"] == "Coffee with Grace"
    assert mail.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part for part in mail.iter_parts()}
    assert set(parts) == {"text/plain", "text/html", "text/calendar"}
    assert parts["text/calendar"].get_param("method") == "REQUEST"
    calendar = Calendar.from_ical(parts["text/calendar"].get_content())
    assert calendar["METHOD"] == "REQUEST"
    assert "Grace" in parts["text/plain"].get_content()


@pytest.mark.parametrize(("language", "subject"), [("en", "Coffee with"), ("nl", "Koffie met")])
def test_an_email_says_its_language(language: str, subject: str) -> None:
    composer = EmailComposer("rituals@example.com", "Rituals")
    mail = parsed(bytes(composer.compose(outgoing("email", language))))
    assert mail["Content-Language"] == language
    assert mail["Subject"].startswith(subject)


async def test_the_outbox_writes_one_file_per_notification_however_often_it_is_sent(
    tmp_path: Path,
) -> None:
    channel = OutboxChannel(EmailComposer("rituals@example.com", "Rituals"), tmp_path / "out")
    message = outgoing("email")
    assert (await channel.send(message)).outcome is Outcome.DELIVERED
    assert (await channel.send(message)).outcome is Outcome.DELIVERED
    (written,) = (tmp_path / "out").iterdir()
    assert written.name == f"{idempotency_key(message.notification_id)}.eml"
    assert parsed(written.read_bytes())["Subject"] == "Coffee with Grace"


async def test_an_smtp_server_that_is_not_there_is_a_transient_failure() -> None:
    composer = EmailComposer("rituals@example.com", "Rituals")
    channel = SmtpChannel(composer, host="127.0.0.1", port=free_port(), timeout=5)
    result = await channel.send(outgoing("email"))
    assert result.outcome is Outcome.TRANSIENT
    assert "example.com" not in result.reason


async def test_the_console_prints_the_message() -> None:
    stream = io.StringIO()
    await ConsoleChannel(stream).send(outgoing("console"))
    assert "Coffee with Grace" in stream.getvalue()
    assert "Hi Ada," in stream.getvalue()
