"""The fold: one organisation's history, each event once, in a deterministic order, reduced to
what the figures need (the member directory, rounds, groups, feedback, rituals, buddies, now)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from schemas import CloudEvent
from schemas.clock import ClockTicked
from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched, CoffeeRoundRequested
from schemas.members import MemberErased
from schemas.onboarding import BuddyAssigned, BuddyReassigned
from schemas.pulse import PulseAnswered
from schemas.rituals import RitualHeld, RitualScheduled
from services.common.domain.directory import Member, MemberDirectory, MemberStatus
from services.common.domain.working_hours import week_monday

_FIRST = (
    "rituals.member.joined",
    "rituals.member.",
    "rituals.clock.",
    "rituals.ritual.scheduled",
    "rituals.coffee.round_requested",
)
"""At equal times, a join comes before anything else about the member, the directory and the
clock move before what depends on them, and a round's request before its groups."""


def ordered(events: Iterable[CloudEvent[Any]], organisation: str) -> list[CloudEvent[Any]]:
    """The organisation's events, each id once, by domain time; ties are broken by kind and id
    so that any order of the input gives the same fold."""
    unique = {event.id: event for event in events if event.orgid == organisation}
    return sorted(unique.values(), key=_order_key)


def _order_key(event: CloudEvent[Any]) -> tuple[datetime, int, str]:
    rank = next((n for n, prefix in enumerate(_FIRST) if event.type.startswith(prefix)), 99)
    return event.time, rank, str(event.id)


def status_at(member: Member, moment: datetime) -> MemberStatus | None:
    """A member's status at a moment, by the directory's one rule: the member as they stood
    then (``Member.as_of``: None if they had not joined yet), taking part that day
    (``Member.takes_part_on``) or not. A pause whose ``until`` has come is over: active."""
    standing = member.as_of(moment)
    if standing is None:
        return None
    if standing.status is MemberStatus.PAUSED and standing.takes_part_on(moment.date()):
        return MemberStatus.ACTIVE
    return standing.status


@dataclass
class Round:
    round_id: str
    week_starting: date
    active: dict[str, str]
    """Members taking part when the round started (id → team), within its team/department."""
    participants: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Group:
    round_id: str
    group_id: str
    members: tuple[str, ...]
    slot_start: datetime


@dataclass(frozen=True)
class Occurrence:
    ritual_id: str
    start: datetime
    attendees: tuple[str, ...]
    expected: dict[str, str] | None
    """Active members of the ritual's team at the occurrence (None: the ritual is unknown)."""


@dataclass(frozen=True)
class BuddyLink:
    new_hire_id: str
    buddy_id: str
    at: datetime


@dataclass
class History:
    organisation: str
    directory: MemberDirectory = field(default_factory=MemberDirectory)
    events: int = 0
    latest_event: datetime | None = None
    latest_tick: datetime | None = None
    rounds: dict[str, Round] = field(default_factory=dict)
    groups: dict[tuple[str, str], Group] = field(default_factory=dict)
    feedback: dict[tuple[str, str], dict[str, bool]] = field(default_factory=dict)
    """Per group, each member's latest answer to "did you meet?", as given (``answers`` keeps
    only the group's participants)."""
    rituals: dict[str, RitualScheduled] = field(default_factory=dict)
    occurrences: dict[tuple[str, datetime], Occurrence] = field(default_factory=dict)
    buddies: list[BuddyLink] = field(default_factory=list)
    pulse: dict[date, dict[str, tuple[str, int]]] = field(default_factory=dict)
    """Per week, each member's counted pulse answer (the latest in this order) with their team
    when they answered."""

    @property
    def now(self) -> datetime | None:
        """Domain time of the report: the latest clock tick, else the latest event."""
        return self.latest_tick or self.latest_event

    def statuses(self) -> dict[str, MemberStatus]:
        """Every member's status now (``status_at``), for those who had joined by now."""
        now = self.now
        if now is None:
            return {}
        found = {}
        for member in self.directory.members(self.organisation):
            status = status_at(member, now)
            if status is not None:
                found[member.member_id] = status
        return found

    def happened(self, at: datetime) -> bool:
        """A meeting counts once it has taken place: at or before now. Later ones are upcoming."""
        return self.now is not None and at <= self.now

    def answers(self, group: Group) -> dict[str, bool]:
        """Each participant's latest answer about their group. Only a group's participants can
        answer for it: feedback from anyone else (the command line refuses it now, old logs may
        hold it) is left out."""
        said = self.feedback.get((group.round_id, group.group_id), {})
        return {member: said[member] for member in group.members if member in said}

    def counted(self, group: Group) -> bool:
        """A matched group is a connection unless all its feedback says it did not happen."""
        answers = self.answers(group)
        return not answers or any(answers.values())

    def apply(self, event: CloudEvent[Any]) -> None:
        self.events += 1
        self.latest_event = max(self.latest_event or event.time, event.time)
        payload = event.data
        if event.type.startswith("rituals.member."):
            self.directory.apply(event)
        match payload:
            case ClockTicked(now=now):
                self.latest_tick = max(self.latest_tick or now, now)
            case CoffeeRoundRequested():
                self._requested(event.time, payload)
            case CoffeeMatched():
                self._matched(event.time, payload)
            case CoffeeFeedbackGiven():
                key = (payload.round_id, payload.group_id)
                self.feedback.setdefault(key, {})[payload.member_id] = payload.met
            case RitualScheduled():
                self.rituals[payload.ritual_id] = payload
            case RitualHeld():
                self._held(payload)
            case BuddyAssigned() | BuddyReassigned():
                self.buddies.append(BuddyLink(payload.new_hire_id, payload.buddy_id, event.time))
            case PulseAnswered():
                self._pulse(payload)
            case MemberErased(member_id=member_id):
                for answers in self.pulse.values():
                    answers.pop(member_id, None)

    def _active(
        self, at: datetime, on: date, team: str | None = None, department: str | None = None
    ) -> dict[str, str]:
        return {
            member.member_id: member.profile.team
            for member in self.directory.taking_part(self.organisation, on, as_of=at)
            if team in (None, member.profile.team)
            and department in (None, member.profile.department)
        }

    def _requested(self, at: datetime, payload: CoffeeRoundRequested) -> None:
        known = self.rounds.get(payload.round_id)
        if known is not None:
            known.week_starting = payload.week_starting
            return
        active = self._active(at, at.date(), payload.team, payload.department)
        self.rounds[payload.round_id] = Round(payload.round_id, payload.week_starting, active)

    def _matched(self, at: datetime, payload: CoffeeMatched) -> None:
        members = tuple(sorted(p.member_id for p in payload.participants))
        if payload.round_id not in self.rounds:
            monday = week_monday(at.date())
            self.rounds[payload.round_id] = Round(
                payload.round_id, monday, self._active(at, at.date())
            )
        self.rounds[payload.round_id].participants.update(members)
        key = (payload.round_id, payload.group_id)
        self.groups[key] = Group(payload.round_id, payload.group_id, members, payload.slot_start)

    def _pulse(self, payload: PulseAnswered) -> None:
        member = self.directory.member(self.organisation, payload.member_id)
        if member is None:
            return  # not a member of the organisation: not counted
        answers = self.pulse.setdefault(payload.week_starting, {})
        answers[payload.member_id] = (member.profile.team, payload.score)

    def _held(self, payload: RitualHeld) -> None:
        ritual = self.rituals.get(payload.ritual_id)
        start = payload.occurrence_start
        expected = None if ritual is None else self._active(start, start.date(), ritual.team)
        self.occurrences[(payload.ritual_id, start)] = Occurrence(
            payload.ritual_id, start, tuple(sorted(set(payload.attendee_ids))), expected
        )


def fold(events: Iterable[CloudEvent[Any]], organisation: str) -> History:
    history = History(organisation)
    for event in ordered(events, organisation):
        history.apply(event)
    return history
