"""The ``/rituals`` slash command: ``pause 2w`` (or ``pause 10d``, ``pause`` for two weeks),
``resume``, ``status``, ``skip`` (the next week's coffee). What a command means for a member:
the events to publish and the reply, in the member's first language (English and Dutch; others
get English). Pure: the member and the day are given."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from schemas.base import EventPayload
from schemas.members import MemberPaused, MemberResumed
from services.common.domain.directory import Member, MemberStatus

LONGEST_PAUSE = timedelta(days=366)
_PAUSE = re.compile(r"^pause(?:\s+(?P<count>\d{1,3})\s*(?P<unit>[dw]))?$")
REPLIES: dict[str, dict[str, str]] = {
    "en": {
        "usage": "Usage: /rituals pause 2w | pause 10d | resume | status | skip",
        "not_taking_part": "You do not take part in Rituals; nothing changed.",
        "already_active": "You already take part.",
        "welcome_back": "Welcome back: you take part again.",
        "pause_bounds": "A pause lasts from one day to a year.",
        "already_paused": "You are already paused until {until}.",
        "paused": "Paused until {until}.",
        "active": "You take part in Rituals.",
        "paused_until": "You are paused until {until}.",
        "paused_open": "You are paused.",
        "out": "You do not take part in Rituals.",
    },
    "nl": {
        "usage": "Gebruik: /rituals pause 2w | pause 10d | resume | status | skip",
        "not_taking_part": "Je doet niet mee aan Rituals; er is niets veranderd.",
        "already_active": "Je doet al mee.",
        "welcome_back": "Welkom terug: je doet weer mee.",
        "pause_bounds": "Een pauze duurt van een dag tot een jaar.",
        "already_paused": "Je bent al gepauzeerd tot {until}.",
        "paused": "Gepauzeerd tot {until}.",
        "active": "Je doet mee aan Rituals.",
        "paused_until": "Je bent gepauzeerd tot {until}.",
        "paused_open": "Je bent gepauzeerd.",
        "out": "Je doet niet mee aan Rituals.",
    },
}


def reply(member: Member, name: str, until: date | None = None) -> str:
    """A reply in the member's first language that has one (dates as ISO 8601, unambiguous in
    every language)."""
    language = next(
        (code.split("-")[0] for code in member.profile.languages if code.split("-")[0] in REPLIES),
        "en",
    )
    return REPLIES[language][name].format(until=until.isoformat() if until else "")


@dataclass(frozen=True)
class CommandOutcome:
    reply: str
    events: tuple[EventPayload, ...] = ()


def run_command(text: str, member: Member, today: date) -> CommandOutcome:
    words = " ".join(text.lower().split())
    if words == "status":
        return CommandOutcome(_status(member))
    if member.status in (MemberStatus.OPTED_OUT, MemberStatus.LEFT):
        return CommandOutcome(reply(member, "not_taking_part"))
    if words == "resume":
        if member.status is MemberStatus.ACTIVE:
            return CommandOutcome(reply(member, "already_active"))
        return CommandOutcome(
            reply(member, "welcome_back"), (MemberResumed(member_id=member.member_id),)
        )
    if words == "skip":
        return _pause(member, today + timedelta(weeks=1))
    pause = _PAUSE.match(words)
    if pause is None:
        return CommandOutcome(reply(member, "usage"))
    count, unit = int(pause["count"] or 2), pause["unit"] or "w"
    length = timedelta(weeks=count) if unit == "w" else timedelta(days=count)
    if not timedelta(days=1) <= length <= LONGEST_PAUSE:
        return CommandOutcome(reply(member, "pause_bounds"))
    return _pause(member, today + length)


def _pause(member: Member, until: date) -> CommandOutcome:
    if member.status is MemberStatus.PAUSED and member.paused_until == until:
        return CommandOutcome(reply(member, "already_paused", until))
    return CommandOutcome(
        reply(member, "paused", until),
        (MemberPaused(member_id=member.member_id, until=until),),
    )


def _status(member: Member) -> str:
    match member.status:
        case MemberStatus.ACTIVE:
            return reply(member, "active")
        case MemberStatus.PAUSED if member.paused_until is not None:
            return reply(member, "paused_until", member.paused_until)
        case MemberStatus.PAUSED:
            return reply(member, "paused_open")
        case _:
            return reply(member, "out")
