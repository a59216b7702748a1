"""The ``/rituals`` slash command: ``pause 2w`` (or ``pause 10d``, ``pause`` for two weeks),
``resume``, ``status``, ``skip`` (the next week's coffee). What a command means for a member:
the events to publish and the reply. Pure: the member and the day are given."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from schemas.base import EventPayload
from schemas.members import MemberPaused, MemberResumed
from services.common.domain.directory import Member, MemberStatus

USAGE = "Usage: /rituals pause 2w | pause 10d | resume | status | skip"
LONGEST_PAUSE = timedelta(days=366)
_PAUSE = re.compile(r"^pause(?:\s+(?P<count>\d{1,3})\s*(?P<unit>[dw]))?$")


@dataclass(frozen=True)
class CommandOutcome:
    reply: str
    events: tuple[EventPayload, ...] = ()


def run_command(text: str, member: Member, today: date) -> CommandOutcome:
    words = " ".join(text.lower().split())
    if words == "status":
        return CommandOutcome(_status(member))
    if member.status in (MemberStatus.OPTED_OUT, MemberStatus.LEFT):
        return CommandOutcome("You do not take part in Rituals; nothing changed.")
    if words == "resume":
        if member.status is MemberStatus.ACTIVE:
            return CommandOutcome("You already take part.")
        return CommandOutcome(
            "Welcome back: you take part again.", (MemberResumed(member_id=member.member_id),)
        )
    if words == "skip":
        return _pause(member, today + timedelta(weeks=1))
    pause = _PAUSE.match(words)
    if pause is None:
        return CommandOutcome(USAGE)
    count, unit = int(pause["count"] or 2), pause["unit"] or "w"
    length = timedelta(weeks=count) if unit == "w" else timedelta(days=count)
    if not timedelta(days=1) <= length <= LONGEST_PAUSE:
        return CommandOutcome("A pause lasts from one day to a year.")
    return _pause(member, today + length)


def _pause(member: Member, until: date) -> CommandOutcome:
    if member.status is MemberStatus.PAUSED and member.paused_until == until:
        return CommandOutcome(f"You are already paused until {until.isoformat()}.")
    return CommandOutcome(
        f"Paused until {until.isoformat()}.",
        (MemberPaused(member_id=member.member_id, until=until),),
    )


def _status(member: Member) -> str:
    match member.status:
        case MemberStatus.ACTIVE:
            return "You take part in Rituals."
        case MemberStatus.PAUSED if member.paused_until is not None:
            return f"You are paused until {member.paused_until.isoformat()}."
        case MemberStatus.PAUSED:
            return "You are paused."
        case _:
            return "You do not take part in Rituals."
