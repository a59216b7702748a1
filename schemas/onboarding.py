"""Onboarding events (topic ``rituals.onboarding``): a buddy and check-ins for every new hire."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from schemas.base import EventPayload, Identifier, Label


class BuddyAssigned(EventPayload):
    """A new hire got a buddy."""

    event_type: ClassVar[str] = "rituals.onboarding.buddy_assigned"

    new_hire_id: Identifier = Field(description="The new hire.")
    buddy_id: Identifier = Field(description="The buddy.")
    reasons: tuple[str, ...] = Field(
        default=(), description="Why this buddy, in words a person understands."
    )


class BuddyUnavailable(EventPayload):
    """No eligible buddy exists for a new hire right now; retried when the directory changes."""

    event_type: ClassVar[str] = "rituals.onboarding.buddy_unavailable"

    new_hire_id: Identifier = Field(description="The new hire.")
    reason: str = Field(description="Why no buddy could be chosen.")


class BuddyReassigned(EventPayload):
    """A new hire's buddy changed (the previous one paused, opted out or left)."""

    event_type: ClassVar[str] = "rituals.onboarding.buddy_reassigned"

    new_hire_id: Identifier = Field(description="The new hire.")
    previous_buddy_id: Identifier = Field(description="The buddy who is replaced.")
    buddy_id: Identifier = Field(description="The new buddy.")
    reason: str = Field(description="Why the buddy changed.")
    reasons: tuple[str, ...] = Field(default=(), description="Why this new buddy.")


class CheckinScheduled(EventPayload):
    """A check-in of the new hire with their buddy was planned."""

    event_type: ClassVar[str] = "rituals.onboarding.checkin_scheduled"

    new_hire_id: Identifier = Field(description="The new hire.")
    buddy_id: Identifier = Field(description="The buddy.")
    checkin_id: Identifier = Field(description="Id of the check-in, unique per new hire.")
    label: Label = Field(description="Which check-in, e.g. 'day 1' or 'week 4'.")
    due_at: AwareDatetime = Field(description="When it is due (UTC), inside working hours.")


class CheckinDue(EventPayload):
    """A planned check-in is due now (the clock passed its moment)."""

    event_type: ClassVar[str] = "rituals.onboarding.checkin_due"

    new_hire_id: Identifier = Field(description="The new hire.")
    buddy_id: Identifier = Field(description="The buddy.")
    checkin_id: Identifier = Field(description="The check-in.")
    label: Label = Field(description="Which check-in.")
    due_at: AwareDatetime = Field(description="When it was due (UTC).")


class OnboardingCompleted(EventPayload):
    """A new hire's onboarding ended: the last check-in passed, or they left."""

    event_type: ClassVar[str] = "rituals.onboarding.completed"

    new_hire_id: Identifier = Field(description="The new hire.")
    checkins: int = Field(ge=0, description="Check-ins that came due.")
    ended_early: bool = Field(default=False, description="True when stopped before the last one.")
