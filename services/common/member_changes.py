"""The one way member changes become events, from whichever door they come in (the command
line's roster import, the gateway's SCIM provisioning): what differs from the directory, and the
envelopes that carry it. Anything the member events need on their way out (e.g. protecting
personal fields) belongs here, so that every door gets it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from schemas import CloudEvent, EventPayload, new_event
from schemas.members import MemberJoined, MemberLeft, MemberProfile, MemberProfileUpdated
from services.common.domain.directory import MemberDirectory, MemberStatus


def changes(
    directory: MemberDirectory, organisation: str, profiles: Sequence[MemberProfile]
) -> list[EventPayload]:
    """Joined for new (or returning) members, profile_updated for changed ones, left for members
    no longer in the file; nothing for what already matches."""
    wanted = {p.member_id for p in profiles}
    events = profile_changes(directory, organisation, profiles)
    for member in directory.members(organisation):
        if member.member_id not in wanted and member.status is not MemberStatus.LEFT:
            events.append(MemberLeft(member_id=member.member_id))
    return events


def profile_changes(
    directory: MemberDirectory, organisation: str, profiles: Sequence[MemberProfile]
) -> list[EventPayload]:
    """Joined for new (or returning) members, profile_updated for changed ones; nothing for
    what already matches, and nothing about members not named."""
    events: list[EventPayload] = []
    for profile in profiles:
        current = directory.member(organisation, profile.member_id)
        fields = profile.model_dump()
        if current is None or current.status is MemberStatus.LEFT:
            events.append(MemberJoined(**fields))
        elif current.profile.model_dump() != fields:
            events.append(MemberProfileUpdated(**fields))
    return events


def member_events(
    payloads: Sequence[EventPayload], organisation: str, moment: datetime, source: str
) -> list[CloudEvent[Any]]:
    """The envelopes of member changes, each with its member as subject, ready to publish."""
    return [
        new_event(
            payload,
            source=source,
            orgid=organisation,
            time=moment,
            subject=getattr(payload, "member_id", None),
        )
        for payload in payloads
    ]
