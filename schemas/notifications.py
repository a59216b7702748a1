"""Notification events (topic ``rituals.notifications``): what the notifier delivered."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

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
    attempts: int = Field(ge=0, description="Attempts made (0: no longer useful before the first).")


class NotificationRetryScheduled(EventPayload):
    """A delivery failed for now and will be tried again no sooner than ``not_before``: the
    notifier's schedule survives a restart."""

    event_type: ClassVar[str] = "rituals.notification.retry_scheduled"

    notification_id: str = Field(description="Deduplication key: source event, recipient, channel.")
    source_event_id: str = Field(description="The event the notification is about.")
    recipient_id: Identifier = Field(description="The member to notify.")
    channel: Channel = Field(description="The channel tried.")
    reason: str = Field(description="Why the attempt failed (no addresses or message bodies).")
    attempts: int = Field(ge=1, description="Attempts made so far.")
    not_before: AwareDatetime = Field(description="The next attempt goes no sooner (wall clock).")


class NotificationRedeliveryRequested(EventPayload):
    """An operator asks to deliver again what failed in the organisation (e.g. after a channel
    outage longer than the retry schedule); ``rituals notifications redeliver``."""

    event_type: ClassVar[str] = "rituals.notification.redelivery_requested"

    failed_since: AwareDatetime | None = Field(
        default=None, description="Only notifications that failed at or after this moment."
    )
    channel: Channel | None = Field(default=None, description="Only this channel.")
