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
from collections.abc import Callable
from typing import Any

import httpx
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


class HttpPoster:
    """One shared connection pool for every HTTP channel."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @classmethod
    def with_timeout(cls, seconds: float, max_connections: int = 100) -> HttpPoster:
        limits = httpx.Limits(max_connections=max_connections)
        return cls(httpx.AsyncClient(timeout=seconds, limits=limits, follow_redirects=False))

    async def post(self, url: SecretStr, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        try:
            response = await self.client.post(url.get_secret_value(), content=body, headers=headers)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            return DeliveryResult.permanent("invalid webhook url")
        except httpx.TimeoutException:
            return DeliveryResult.transient("http timeout")
        except httpx.TransportError as error:
            return DeliveryResult.transient(f"http {type(error).__name__}")
        return classify_status(response.status_code, response.headers.get("retry-after"))

    async def close(self) -> None:
        await self.client.aclose()


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
