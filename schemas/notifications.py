"""Notification events (topic ``rituals.notifications``): what the notifier delivered."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from schemas.base import Channel, EventPayload, Identifier, LanguageCode


class NotificationSent(EventPayload):
    """A message reached a recipient; the notifier's durable record of (event, recipient,
    channel), from which its deduplication is rebuilt."""

    event_type: ClassVar[str] = "rituals.notification.sent"

    notification_id: str = Field(description="Deduplication key: source event, recipient, channel.")
    source_event_id: str = Field(description="The event the notification is about.")
    recipient_id: Identifier = Field(description="The member notified.")
    channel: Channel = Field(description="The channel used.")
    template: Identifier = Field(description="The template rendered.")
    language: LanguageCode = Field(description="The language rendered.")
    attempts: int = Field(default=1, ge=1, description="Attempts it took.")


class NotificationFailed(EventPayload):
    """A message could not be delivered."""

    event_type: ClassVar[str] = "rituals.notification.failed"

    notification_id: str = Field(description="Deduplication key: source event, recipient, channel.")
    source_event_id: str = Field(description="The event the notification was about.")
    recipient_id: Identifier = Field(description="The member not notified.")
    channel: Channel = Field(description="The channel tried.")
    reason: str = Field(description="Why it failed (no addresses or message bodies).")
    permanent: bool = Field(description="False when retries ran out on a transient error.")
    attempts: int = Field(ge=1, description="Attempts made.")
