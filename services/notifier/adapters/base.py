"""What every channel adapter takes and answers.

An adapter makes one attempt and says how it went; retrying is the worker's job. The answer
separates failures worth retrying (timeouts, 5xx, SMTP 4xx) from permanent ones (webhook 4xx,
rejected address), and its reason holds status codes and error kinds only: never an address, a
URL or a message body (servers' error texts may echo them, so they are not copied).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from services.notifier.domain.message import Message
from services.notifier.domain.notices import Delivery

_IDEMPOTENCY_NAMESPACE = uuid.UUID("3b0f6d8e-93a1-4b7c-8f55-2d8e0c6a9b41")


class Outcome(StrEnum):
    DELIVERED = "delivered"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    reason: str = ""
    retry_after: float | None = None
    """Seconds the receiver asked to wait (HTTP ``Retry-After``)."""

    @classmethod
    def delivered(cls) -> DeliveryResult:
        return cls(Outcome.DELIVERED)

    @classmethod
    def transient(cls, reason: str, retry_after: float | None = None) -> DeliveryResult:
        return cls(Outcome.TRANSIENT, reason, retry_after)

    @classmethod
    def permanent(cls, reason: str) -> DeliveryResult:
        return cls(Outcome.PERMANENT, reason)


def idempotency_key(notification_id: str) -> str:
    """The same key for every attempt at one notification, in this process or the next: HTTP
    receivers get it as ``Idempotency-Key`` / ``webhook-id``, e-mail as the Message-ID."""
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, notification_id))


@dataclass(frozen=True)
class Outgoing:
    """One notification to send: the delivery, its rendered message and its idempotency key."""

    delivery: Delivery
    message: Message

    @property
    def notification_id(self) -> str:
        return self.delivery.notification_id

    @property
    def org_id(self) -> str:
        return self.delivery.notice.org_id

    @property
    def key(self) -> str:
        return idempotency_key(self.notification_id)


class ChannelAdapter(Protocol):
    async def send(self, outgoing: Outgoing) -> DeliveryResult:
        """One attempt; exceptions are for bugs, not for failed deliveries."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
