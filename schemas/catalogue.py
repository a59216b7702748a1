"""The v1 event catalogue: every event type the platform knows, with its payload model."""

from __future__ import annotations

import re
from collections.abc import Mapping

from schemas import clock, coffee, members, notifications, onboarding, pulse, rituals
from schemas.base import EventPayload

_MODELS: tuple[type[EventPayload], ...] = (
    members.MemberJoined,
    members.MemberProfileUpdated,
    members.MemberPaused,
    members.MemberResumed,
    members.MemberOptedOut,
    members.MemberLeft,
    members.MemberErased,
    coffee.CoffeeRoundRequested,
    coffee.CoffeeMatched,
    coffee.CoffeeUnmatched,
    coffee.CoffeeRoundCompleted,
    coffee.CoffeeFeedbackGiven,
    coffee.CoffeeTeamDigestCompiled,
    onboarding.BuddyAssigned,
    onboarding.BuddyUnavailable,
    onboarding.BuddyReassigned,
    onboarding.CheckinScheduled,
    onboarding.CheckinDue,
    onboarding.OnboardingCompleted,
    rituals.RitualScheduled,
    rituals.RitualHeld,
    rituals.RitualCancelled,
    rituals.RitualRsvpGiven,
    rituals.RitualAttendanceConfirmed,
    pulse.PulseAsked,
    pulse.PulseAnswered,
    notifications.NotificationSent,
    notifications.NotificationFailed,
    notifications.NotificationRetryScheduled,
    notifications.NotificationRedeliveryRequested,
    clock.ClockTicked,
)

CATALOGUE: Mapping[str, type[EventPayload]] = {model.event_type: model for model in _MODELS}
"""Event type -> payload model."""

_DATASCHEMA = re.compile(r"^urn:rituals:schema:(?P<type>[a-z_.]+):v(?P<version>\d+)$")


def payload_type(event_type: str) -> type[EventPayload]:
    """The payload model of an event type (KeyError for an unknown type)."""
    return CATALOGUE[event_type]


def dataschema_uri(model: type[EventPayload]) -> str:
    """The ``dataschema`` attribute of events carrying this payload model."""
    return f"urn:rituals:schema:{model.event_type}:v{model.version}"


def type_of_dataschema(uri: str) -> str | None:
    """The event type a ``dataschema`` names; None for a foreign URI."""
    match = _DATASCHEMA.match(uri)
    return match["type"] if match else None


def version_of_dataschema(uri: str, *, default: int) -> int:
    """The payload version a ``dataschema`` names; ``default`` for a foreign URI."""
    match = _DATASCHEMA.match(uri)
    return int(match["version"]) if match else default
