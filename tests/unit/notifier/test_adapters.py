"""Channel adapters: what they send, and how they classify failures."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import io
import json
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiohttp import web
from icalendar import Calendar
from pydantic import SecretStr
from standardwebhooks import Webhook

from infra.broker import free_port
from schemas import encode_event
from services.notifier.adapters.base import DeliveryResult, Outcome, idempotency_key
from services.notifier.adapters.console import ConsoleChannel
from services.notifier.adapters.smtp import EmailComposer, OutboxChannel, SmtpChannel, _by_smtp_code
from services.notifier.adapters.webhooks import (
    MAX_ANSWER_BYTES,
    HttpPoster,
    SignedWebhookChannel,
    SlackChannel,
    TeamsChannel,
    classify_status,
    standard_webhook_signature,
)
from tests.unit.notifier.local_http import (
    SECRET_PATH,
    Received,
    Recorder,
    endless_answer_peer,
    raw_peer,
    self_signed_tls,
)
from tests.unit.notifier.support import outgoing

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@contextlib.asynccontextmanager
async def posting(seconds: float = 5) -> AsyncIterator[HttpPoster]:
    poster = HttpPoster(seconds)
    try:
        yield poster
    finally:
        await poster.close()


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
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    async with Recorder().serving() as recorder, posting() as poster:
        channel = SignedWebhookChannel(poster, lambda _org: (recorder.url, key))
        message = outgoing("webhook")
        assert (await channel.send(message)).outcome is Outcome.DELIVERED
        assert (await channel.send(message)).outcome is Outcome.DELIVERED

    first, second = recorder.requests
    assert (first.method, first.target) == ("POST", SECRET_PATH)
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
    async with Recorder().serving() as recorder, posting() as poster:
        await SlackChannel(poster, lambda _org: recorder.url).send(outgoing("slack"))
        await TeamsChannel(poster, lambda _org: recorder.url).send(outgoing("teams"))
    slack, teams = (json.loads(request.content) for request in recorder.requests)
    assert slack["blocks"][0]["type"] == "header"
    assert teams["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert all(request.headers["idempotency-key"] for request in recorder.requests)
    assert all(r.headers["content-type"] == "application/json" for r in recorder.requests)


async def test_an_unconfigured_webhook_fails_for_good() -> None:
    async with posting() as poster:
        result = await SlackChannel(poster, lambda _org: None).send(outgoing("slack"))
    assert result == DeliveryResult.permanent("channel not configured")


async def slow(_request: Received) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(status=200)


async def test_an_answer_slower_than_the_timeout_is_a_transient_failure() -> None:
    async with Recorder(slow).serving() as recorder, posting(seconds=0.2) as poster:
        result = await SlackChannel(poster, lambda _org: recorder.url).send(outgoing("slack"))
    assert result == DeliveryResult.transient("http timeout")


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"", "http ServerDisconnectedError"),
        (b"this is not HTTP\r\n\r\n", "http ClientResponseError"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut short", "http ClientPayloadError"),
    ],
    ids=["hangs up", "not HTTP", "body cut short"],
)
async def test_a_peer_that_breaks_http_is_a_transient_failure_whose_reason_names_no_url(
    reply: bytes, reason: str
) -> None:
    async with raw_peer(reply) as url, posting() as poster:
        result = await SlackChannel(poster, lambda _org: url).send(outgoing("slack"))
    assert result == DeliveryResult.transient(reason)


async def test_nobody_listening_is_a_transient_failure_whose_reason_names_no_url() -> None:
    url = SecretStr(f"http://127.0.0.1:{free_port()}{SECRET_PATH}")
    async with posting() as poster:
        result = await SlackChannel(poster, lambda _org: url).send(outgoing("slack"))
    assert result == DeliveryResult.transient("http ClientConnectorError")


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/secret-token", "http://", "not a url", "http://[::1/x"]
)
async def test_an_invalid_webhook_url_fails_for_good_without_naming_it(url: str) -> None:
    async with posting() as poster:
        result = await SlackChannel(poster, lambda _org: SecretStr(url)).send(outgoing("slack"))
    assert result == DeliveryResult.permanent("invalid webhook url")


async def test_a_webhook_4xx_is_permanent_and_a_5xx_transient_with_its_retry_after() -> None:
    answers = iter(
        [web.Response(status=400), web.Response(status=503, headers={"Retry-After": "7"})]
    )
    async with Recorder(lambda _request: next(answers)).serving() as recorder, posting() as poster:
        channel = TeamsChannel(poster, lambda _org: recorder.url)
        assert await channel.send(outgoing("teams")) == DeliveryResult.permanent("http 400")
        assert await channel.send(outgoing("teams")) == DeliveryResult.transient("http 503", 7)


async def test_a_certificate_nobody_vouches_for_is_refused_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    async with Recorder().serving(self_signed_tls(tmp_path)) as recorder, posting() as poster:
        channel = SlackChannel(poster, lambda _org: recorder.https_url)
        result = await channel.send(outgoing("slack"))
    assert result == DeliveryResult.transient("http ClientConnectorCertificateError")
    assert recorder.requests == []


async def test_a_redirect_is_not_followed_and_fails_for_good() -> None:
    def moved(_request: Received) -> web.Response:
        return web.Response(status=301, headers={"Location": "http://127.0.0.1:1/elsewhere"})

    async with Recorder(moved).serving() as recorder, posting() as poster:
        result = await SlackChannel(poster, lambda _org: recorder.url).send(outgoing("slack"))
    assert result == DeliveryResult.permanent("http 301")
    assert len(recorder.requests) == 1


async def test_a_cookie_set_by_a_webhook_is_not_sent_back() -> None:
    def with_cookie(_request: Received) -> web.Response:
        return web.Response(status=200, headers={"Set-Cookie": "session=abc; Path=/"})

    async with Recorder(with_cookie).serving() as recorder, posting() as poster:
        # A host name: aiohttp's default jar would keep a cookie from one, not from an address.
        url = SecretStr(f"http://localhost:{recorder.port}{SECRET_PATH}")
        channel = SlackChannel(poster, lambda _org: url)
        for _ in range(2):
            assert (await channel.send(outgoing("slack"))).outcome is Outcome.DELIVERED
    assert [r.headers.get("cookie") for r in recorder.requests] == [None, None]


async def test_a_huge_answer_is_not_read_whole_and_the_next_post_still_goes() -> None:
    huge = b"x" * (8 * MAX_ANSWER_BYTES)
    answer = Recorder(lambda _request: web.Response(body=huge))
    async with answer.serving() as recorder, posting() as poster:
        channel = SlackChannel(poster, lambda _org: recorder.url)
        for _ in range(3):
            assert (await channel.send(outgoing("slack"))).outcome is Outcome.DELIVERED
    assert len(recorder.requests) == 3


async def test_an_answer_that_never_ends_is_delivered_without_waiting_for_its_end() -> None:
    async with endless_answer_peer() as url, posting(seconds=2) as poster:
        result = await SlackChannel(poster, lambda _org: url).send(outgoing("slack"))
    assert result == DeliveryResult.delivered()


async def test_the_proxy_named_by_the_environment_carries_the_post_unless_no_proxy_exempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Recorder().serving() as proxy, Recorder().serving() as direct:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "localhost")
        async with posting() as poster:
            far = SecretStr(f"http://hooks.example.com{SECRET_PATH}")
            assert (await SlackChannel(poster, lambda _org: far).send(outgoing("slack"))).outcome
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with posting() as poster:
            near = SlackChannel(poster, lambda _org: direct.url)
            assert (await near.send(outgoing("slack"))).outcome is Outcome.DELIVERED
    (through_proxy,) = proxy.requests
    assert through_proxy.target == f"http://hooks.example.com{SECRET_PATH}"
    assert len(direct.requests) == 1


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
