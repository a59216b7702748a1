"""HTTP channels: Slack and Teams incoming webhooks, and the generic signed webhook.

Every request of one notification carries the same ``Idempotency-Key`` (and, for the generic
webhook, the same ``webhook-id``), on every retry and after a restart. URLs are secrets (an
incoming-webhook URL is its own credential): they are never logged nor put into a reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from pydantic import SecretStr

from schemas import CLOUDEVENTS_CONTENT_TYPE, encode_event
from services.notifier.adapters.base import DeliveryResult, Outgoing
from services.notifier.domain.formats import as_slack, as_teams

RETRYABLE_STATUS = frozenset({408, 425, 429})
"""4xx answers that mean "not now" rather than "never"."""


def classify_status(status: int, retry_after: str | None = None) -> DeliveryResult:
    """2xx delivered; 408/425/429 and 5xx transient; any other answer permanent."""
    if 200 <= status < 300:
        return DeliveryResult.delivered()
    reason = f"http {status}"
    if status in RETRYABLE_STATUS or status >= 500:
        return DeliveryResult.transient(reason, _seconds(retry_after))
    return DeliveryResult.permanent(reason)


def _seconds(retry_after: str | None) -> float | None:
    if retry_after is None or not retry_after.strip().isdigit():
        return None  # the HTTP-date form is rare for webhooks; the backoff applies then
    return float(retry_after.strip())


MAX_ANSWER_BYTES = 64 * 1024
"""How much of an answer's body is read (only so that its connection can be used again): an
endpoint answering more gets its connection closed instead, not its body held in memory."""


class HttpPoster:
    """One shared connection pool for every HTTP channel (aiohttp's).

    Not httpx's: its pool asks every pooled connection whether it expired on every request and
    on every answer, each through a system call and a dictionary that anyio builds per call, so
    a request cost grew with the pool: about 600 µs of CPU at 1 connection, 1,400 at 16 and
    3,400 at 64, against aiohttp's 200, 120 and 80 (``benchmarks.notifier``). More concurrency
    made deliveries slower.

    The session is made on the first post, in the event loop that uses it. It keeps no cookies
    (a webhook answering with one must not see it again on the next notification) and follows
    no redirect. Proxies come from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``NO_PROXY``), read once, as httpx did: aiohttp's own ``trust_env`` looks them up, and reads
    ``~/.netrc``, in a thread on every request (half of a delivery's CPU time)."""

    def __init__(self, timeout_seconds: float, max_connections: int = 100) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.max_connections = max_connections
        self.proxies = urllib.request.getproxies_environment()
        self._proxy_of: dict[str, str | None] = {}
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections),
                timeout=self.timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def _proxy_for(self, url: str) -> str | None:
        """The proxy the environment names for the URL's scheme, unless ``NO_PROXY`` exempts
        its host (remembered per URL: a notifier posts to a few URLs many times)."""
        if url not in self._proxy_of:
            parts = urllib.parse.urlsplit(url)
            proxy = self.proxies.get(parts.scheme.lower())
            exempt = urllib.request.proxy_bypass(parts.hostname or "")
            self._proxy_of[url] = None if exempt else proxy
        return self._proxy_of[url]

    async def post(self, url: SecretStr, body: bytes, headers: Mapping[str, str]) -> DeliveryResult:
        address = url.get_secret_value()
        try:
            proxy = self._proxy_for(address)
        except ValueError:  # refused by urllib already
            return DeliveryResult.permanent("invalid webhook url")
        try:
            async with self._client().post(
                address, data=body, headers=headers, allow_redirects=False, proxy=proxy
            ) as response:
                await _read_some(response)
                return classify_status(response.status, response.headers.get("retry-after"))
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError):
            return DeliveryResult.permanent("invalid webhook url")
        except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
            return DeliveryResult.transient("http timeout")
        except aiohttp.ClientError as error:
            # Only the error's name: its text may carry the URL, which is a secret.
            return DeliveryResult.transient(f"http {type(error).__name__}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _read_some(response: aiohttp.ClientResponse) -> None:
    """Read the answer's body up to ``MAX_ANSWER_BYTES``; a connection whose answer was read to
    its end goes back to the pool."""
    received = 0
    while received <= MAX_ANSWER_BYTES:
        chunk = await response.content.readany()
        if not chunk:
            return
        received += len(chunk)


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


UrlLookup = Callable[[str], SecretStr | None]


class _IncomingWebhook:
    """Slack and Teams: a JSON document POSTed to the organisation's incoming-webhook URL."""

    def __init__(self, poster: HttpPoster, url_for: UrlLookup) -> None:
        self.poster = poster
        self.url_for = url_for

    def document(self, outgoing: Outgoing) -> dict[str, Any]:
        raise NotImplementedError

    async def send(self, outgoing: Outgoing) -> DeliveryResult:
        url = self.url_for(outgoing.org_id)
        if url is None:
            return DeliveryResult.permanent("channel not configured")
        headers = {"content-type": "application/json", "idempotency-key": outgoing.key}
        return await self.poster.post(url, _json(self.document(outgoing)), headers)

    async def close(self) -> None:
        return None  # the poster is shared; its owner closes it


class SlackChannel(_IncomingWebhook):
    def document(self, outgoing: Outgoing) -> dict[str, Any]:
        return as_slack(outgoing.message)


class TeamsChannel(_IncomingWebhook):
    def document(self, outgoing: Outgoing) -> dict[str, Any]:
        return as_teams(outgoing.message)


def standard_webhook_signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` (Standard Webhooks)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


TargetLookup = Callable[[str], tuple[SecretStr, bytes] | None]
"""Organisation -> (webhook URL, HMAC key)."""


class SignedWebhookChannel:
    """The generic outgoing webhook: the source CloudEvent (structured JSON) with the recipient
    as extension attributes, signed following Standard Webhooks so integrations can verify it.

    The body is the same on every attempt; ``webhook-timestamp`` and the signature are made per
    attempt (receivers reject old timestamps), ``webhook-id`` stays the same (receivers
    deduplicate by it)."""

    def __init__(
        self, poster: HttpPoster, target_for: TargetLookup, clock: Callable[[], float] = time.time
    ) -> None:
        self.poster = poster
        self.target_for = target_for
        self.clock = clock

    @staticmethod
    def body(outgoing: Outgoing) -> bytes:
        # The encoded event is one JSON object without these attributes (the envelope keeps no
        # unknown ones): they are appended to it rather than decoding and encoding it again.
        encoded = encode_event(outgoing.delivery.notice.source)
        extensions = _json(
            {
                "recipientid": outgoing.delivery.recipient.member_id,
                "notificationid": outgoing.notification_id,
                "notificationlanguage": outgoing.message.language,
            }
        )
        return encoded[:-1] + b"," + extensions[1:]

    async def send(self, outgoing: Outgoing) -> DeliveryResult:
        target = self.target_for(outgoing.org_id)
        if target is None:
            return DeliveryResult.permanent("channel not configured")
        url, key = target
        body = self.body(outgoing)
        idempotency = outgoing.key
        message_id = f"msg_{idempotency}"
        timestamp = int(self.clock())
        headers = {
            "content-type": CLOUDEVENTS_CONTENT_TYPE,
            "idempotency-key": idempotency,
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_webhook_signature(key, message_id, timestamp, body),
        }
        return await self.poster.post(url, body, headers)

    async def close(self) -> None:
        return None
