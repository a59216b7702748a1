"""What the platform holds about one person (GDPR Art. 15): their profile, status changes, coffee
groups and feedback, onboarding, team rituals and notifications, from the history alone.

Pure: given the organisation's events, the document. An event belongs to the person when a
member-id field of its payload names them (``member_id``, ``new_hire_id``, ``buddy_id``,
``recipient_id``, ``attendee_ids``, a group's participants, ...), or when it is a ritual of a team
they were in. Other people in those events appear by id only: a coffee group names the other
participants' ids, not their time zones or slots.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from schemas import CloudEvent
from schemas.members import MemberJoined, MemberProfileUpdated
from schemas.rituals import RitualScheduled

SECTIONS: Mapping[str, str] = {
    "rituals.member.": "membership",
    "rituals.coffee.": "coffee",
    "rituals.onboarding.": "onboarding",
    "rituals.ritual.": "rituals",
    "rituals.notification.": "notifications",
}
"""Event families and the section of the document they go in."""


class UnknownMemberError(LookupError):
    """The organisation never had this member."""


def member_data(
    events: Iterable[CloudEvent[Any]], org: str, member_id: str, exported_at: datetime
) -> dict[str, Any]:
    """The document of everything held about ``member_id`` in ``org`` (events in domain-time
    order); UnknownMemberError when the member never joined."""
    history = [event for event in events if event.orgid == org]
    profile: dict[str, Any] | None = None
    teams: set[str] = set()
    for event in history:
        if isinstance(event.data, MemberJoined | MemberProfileUpdated) and (
            event.data.member_id == member_id
        ):
            profile = event.data.model_dump(mode="json")
            teams.add(event.data.team)
    if profile is None:
        raise UnknownMemberError(f"no member {member_id!r} in organisation {org!r}")
    document: dict[str, Any] = {
        "organisation": org,
        "member_id": member_id,
        "exported_at": exported_at.isoformat(),
        "profile": profile,
        **{section: [] for section in SECTIONS.values()},
    }
    for event in history:
        section = _section_of(event.type)
        if section is None:
            continue
        data = event.data.model_dump(mode="json")
        about = _mentions(data, member_id) or (
            isinstance(event.data, RitualScheduled) and event.data.team in teams
        )
        if about:
            document[section].append(_entry(event, _only_own_slot(data, member_id)))
    return document


def _section_of(event_type: str) -> str | None:
    return next(
        (section for family, section in SECTIONS.items() if event_type.startswith(family)), None
    )


def _mentions(value: Any, member_id: str) -> bool:
    """Whether a member-id field anywhere in the payload names the member."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_id") and item == member_id:
                return True
            if key.endswith("_ids") and isinstance(item, list) and member_id in item:
                return True
            if _mentions(item, member_id):
                return True
    elif isinstance(value, list):
        return any(_mentions(item, member_id) for item in value)
    return False


def _only_own_slot(data: dict[str, Any], member_id: str) -> dict[str, Any]:
    """A coffee group: the member's own slot, the others by id only."""
    participants = data.get("participants")
    if not isinstance(participants, list):
        return data
    return {
        **data,
        "participants": [
            p if p.get("member_id") == member_id else {"member_id": p.get("member_id")}
            for p in participants
        ],
    }


def _entry(event: CloudEvent[Any], data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "type": event.type,
        "time": event.time.isoformat(),
        "source": event.source,
        "data": data,
    }
