"""Valid sample payloads and events for tests: one place that knows how to build each of them.

Values are realistic but fictitious (``example.com`` addresses). ``sample_payload`` covers every
catalogue model, so a new event type without a sample fails the tests that use it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from schemas import CloudEvent, new_event
from schemas.base import EventPayload
from schemas.envelope import CloudEventAttributes
from schemas.members import MemberJoined

PayloadT = TypeVar("PayloadT", bound=EventPayload)

ORG = "acme"
OTHER_ORG = "globex"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
"""A Monday morning in domain time."""
SOURCE = "/rituals/tests"


def member_profile(member_id: str = "m-1", **overrides: Any) -> dict[str, Any]:
    """The fields of a member profile (for member.joined and member.profile_updated)."""
    profile: dict[str, Any] = {
        "member_id": member_id,
        "display_name": f"Member {member_id}",
        "email": f"{member_id}@example.com",
        "team": "Platform",
        "department": "Engineering",
        "timezone": "Europe/Amsterdam",
        "working_hours": {"start": "09:00", "end": "17:30"},
        "office_days": ("tue", "thu"),
        "languages": ("en", "nl"),
        "interests": ("cycling", "board games"),
        "start_date": date(2024, 1, 15),
    }
    return {**profile, **overrides}


def member_joined(member_id: str = "m-1", **overrides: Any) -> MemberJoined:
    return MemberJoined.model_validate(member_profile(member_id, **overrides))


def event(
    payload: EventPayload,
    *,
    org: str = ORG,
    time: datetime = T0,
    subject: str | None = None,
    source: str = SOURCE,
    cause: CloudEventAttributes | None = None,
    output_index: int = 0,
) -> CloudEvent[Any]:
    """An event as a platform service would publish it."""
    return new_event(
        payload,
        source=source,
        orgid=org,
        time=time,
        subject=subject,
        cause=cause,
        output_index=output_index,
    )


def member_joined_event(
    org: str = ORG, member_id: str = "m-1", time: datetime = T0, **overrides: Any
) -> CloudEvent[Any]:
    return event(member_joined(member_id, **overrides), org=org, time=time, subject=member_id)


def _participant(member_id: str, timezone: str, local_start: str) -> dict[str, Any]:
    return {"member_id": member_id, "timezone": timezone, "local_start": local_start}


_SAMPLES: dict[str, Callable[[], dict[str, Any]]] = {
    "rituals.member.joined": lambda: member_profile("m-1", new_hire=True),
    "rituals.member.profile_updated": lambda: member_profile("m-1", team="Data"),
    "rituals.member.paused": lambda: {"member_id": "m-1", "until": date(2025, 3, 17)},
    "rituals.member.resumed": lambda: {"member_id": "m-1"},
    "rituals.member.opted_out": lambda: {"member_id": "m-1"},
    "rituals.member.left": lambda: {"member_id": "m-1", "last_day": date(2025, 3, 31)},
    "rituals.member.erased": lambda: {"member_id": "m-1"},
    "rituals.coffee.round_requested": lambda: {
        "round_id": "r-2025-10",
        "week_starting": date(2025, 3, 3),
        "group_size": 2,
        "department": "Engineering",
    },
    "rituals.coffee.matched": lambda: {
        "round_id": "r-2025-10",
        "group_id": "g-1",
        "participants": (
            _participant("m-1", "Europe/Amsterdam", "2025-03-04T10:00:00+01:00"),
            _participant("m-2", "America/New_York", "2025-03-04T04:00:00-05:00"),
        ),
        "mode": "video",
        "slot_start": datetime(2025, 3, 4, 9, 0, tzinfo=UTC),
        "reasons": ("different teams",),
        "conversation_starter": "What did you learn this week?",
        "score": 0.75,
    },
    "rituals.coffee.unmatched": lambda: {
        "round_id": "r-2025-10",
        "member_id": "m-3",
        "reason": "no colleague shares a working hour",
    },
    "rituals.coffee.round_completed": lambda: {
        "round_id": "r-2025-10",
        "participants": 5,
        "groups": 2,
        "trios": 1,
        "unmatched": 0,
        "cross_team_share": 0.5,
        "first_time_share": 1.0,
        "mean_score": 0.7,
    },
    "rituals.coffee.feedback_given": lambda: {
        "round_id": "r-2025-10",
        "group_id": "g-1",
        "member_id": "m-1",
        "met": True,
        "rating": 4,
    },
    "rituals.coffee.team_digest_compiled": lambda: {
        "round_id": "r-2025-10",
        "team": "Platform",
        "lead_id": "m-1",
        "active": 6,
        "participants": 5,
        "quiet_rounds": 4,
        "quiet": ("m-2",),
        "new_hires": ({"member_id": "m-9", "people_met": 2},),
        "suggestions": (
            {"member_id": "m-2", "partner_id": "m-7", "partner_team": "Sales", "why": "quiet"},
            {
                "member_id": "m-9",
                "partner_id": "m-8",
                "partner_team": "Data",
                "why": "new_hire_few_connections",
            },
        ),
        "pulse_week": date(2025, 3, 3),
        "pulse_answers": 5,
        "pulse_mean": 3.4,
        "rituals_held": 1,
        "ritual_attended": 4,
        "ritual_invited": 6,
    },
    "rituals.onboarding.buddy_assigned": lambda: {
        "new_hire_id": "m-9",
        "buddy_id": "m-1",
        "reasons": ("same office",),
    },
    "rituals.onboarding.buddy_unavailable": lambda: {
        "new_hire_id": "m-9",
        "reason": "no volunteer in the department",
    },
    "rituals.onboarding.buddy_reassigned": lambda: {
        "new_hire_id": "m-9",
        "previous_buddy_id": "m-1",
        "buddy_id": "m-2",
        "reason": "the previous buddy left",
    },
    "rituals.onboarding.checkin_scheduled": lambda: {
        "new_hire_id": "m-9",
        "buddy_id": "m-1",
        "checkin_id": "day-1",
        "label": "day 1",
        "due_at": datetime(2025, 3, 3, 10, 0, tzinfo=UTC),
    },
    "rituals.onboarding.checkin_due": lambda: {
        "new_hire_id": "m-9",
        "buddy_id": "m-1",
        "checkin_id": "day-1",
        "label": "day 1",
        "due_at": datetime(2025, 3, 3, 10, 0, tzinfo=UTC),
    },
    "rituals.onboarding.completed": lambda: {"new_hire_id": "m-9", "checkins": 4},
    "rituals.ritual.scheduled": lambda: {
        "ritual_id": "friday-drinks",
        "team": "Platform",
        "title": "Friday drinks",
        "kind": "drinks",
        "rrule": "FREQ=WEEKLY;BYDAY=FR",
        "timezone": "Europe/Amsterdam",
        "first_start": datetime(2025, 3, 7, 16, 30),
        "office": "Amsterdam",
    },
    "rituals.ritual.held": lambda: {
        "ritual_id": "friday-drinks",
        "occurrence_start": datetime(2025, 3, 7, 15, 30, tzinfo=UTC),
        "attendee_ids": ("m-1", "m-2"),
    },
    "rituals.ritual.rsvp_given": lambda: {
        "ritual_id": "friday-drinks",
        "occurrence_start": datetime(2025, 3, 7, 15, 30, tzinfo=UTC),
        "member_id": "m-1",
    },
    "rituals.pulse.asked": lambda: {"week_starting": date(2025, 3, 3), "member_id": "m-1"},
    "rituals.pulse.answered": lambda: {
        "week_starting": date(2025, 3, 3),
        "member_id": "m-1",
        "score": 4,
    },
    "rituals.ritual.attendance_confirmed": lambda: {
        "ritual_id": "friday-drinks",
        "occurrence_start": datetime(2025, 3, 7, 15, 30, tzinfo=UTC),
        "member_id": "m-1",
    },
    "rituals.ritual.cancelled": lambda: {
        "ritual_id": "friday-drinks",
        "occurrence_start": datetime(2025, 3, 14, 15, 30, tzinfo=UTC),
        "reason": "office closed",
    },
    "rituals.notification.sent": lambda: {
        "notification_id": "evt-1/m-1/email",
        "source_event_id": "evt-1",
        "recipient_id": "m-1",
        "channel": "email",
        "template": "coffee.matched",
        "language": "en",
    },
    "rituals.notification.failed": lambda: {
        "notification_id": "evt-1/m-1/slack",
        "source_event_id": "evt-1",
        "recipient_id": "m-1",
        "channel": "slack",
        "reason": "workspace not connected",
        "permanent": True,
        "attempts": 1,
    },
    "rituals.notification.retry_scheduled": lambda: {
        "notification_id": "evt-1/m-1/email",
        "source_event_id": "evt-1",
        "recipient_id": "m-1",
        "channel": "email",
        "reason": "smtp unreachable",
        "attempts": 1,
        "not_before": datetime(2025, 3, 3, 9, 5, tzinfo=UTC),
    },
    "rituals.notification.redelivery_requested": lambda: {
        "failed_since": datetime(2025, 3, 3, 0, 0, tzinfo=UTC),
        "channel": "email",
    },
    "rituals.clock.ticked": lambda: {"now": datetime(2025, 3, 3, 9, 0, tzinfo=UTC), "sequence": 42},
}


def sample_data(event_type: str) -> dict[str, Any]:
    """Python values for a valid payload of an event type (a fresh dict: safe to change)."""
    return _SAMPLES[event_type]()


def sample_payload(model: type[PayloadT], **overrides: Any) -> PayloadT:
    """A valid instance of any catalogue payload model."""
    return model.model_validate({**sample_data(model.event_type), **overrides})
