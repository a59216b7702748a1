"""The member directory: every organisation's members and whether they take part.

A projection of ``rituals.members``, folded event by event. Events about a member the directory
does not know (a pause before any join) are ignored: the topic is keyed by organisation, so that
order only arises from a producer's mistake, and inventing a member would be worse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from schemas import CloudEvent
from schemas.members import (
    MemberErased,
    MemberJoined,
    MemberLeft,
    MemberOptedOut,
    MemberPaused,
    MemberProfile,
    MemberProfileUpdated,
    MemberResumed,
)
from schemas.sealing import erased_profile


class MemberStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    OPTED_OUT = "opted_out"
    LEFT = "left"


@dataclass(frozen=True)
class Member:
    profile: MemberProfile
    status: MemberStatus
    joined_at: datetime
    """Domain time of the (latest) join: a member takes part in rounds requested after it."""
    paused_until: date | None = None
    changed_at: datetime | None = None
    """Domain time of the latest change of status (or join), None for the first join."""
    before: Member | None = None
    """The member as they were before that change: what ``as_of`` goes back to."""

    @property
    def member_id(self) -> str:
        return self.profile.member_id

    def as_of(self, moment: datetime) -> Member | None:
        """The member as they stood at a moment: changes of status dated after it are undone
        (None if they had not joined yet). Topics are consumed independently, so a service may
        read a pause dated 10:00 before the clock's 08:00 tick: a decision made for 08:00 must
        not depend on that."""
        member: Member | None = self
        while member is not None and member.changed_at is not None and member.changed_at > moment:
            member = member.before
        return None if member is None or member.joined_at > moment else member

    def takes_part_on(self, day: date) -> bool:
        """Active on ``day``: not left, not opted out, and any pause is over by then."""
        if self.status is MemberStatus.PAUSED:
            return self.paused_until is not None and day >= self.paused_until
        return self.status is MemberStatus.ACTIVE


class MemberDirectory:
    """Members per organisation; ``apply`` folds one member event in."""

    def __init__(self) -> None:
        self._organisations: dict[str, dict[str, Member]] = {}
        self._counts: Counter[MemberStatus] = Counter()
        """Kept up to date on every change: metrics read it after each event."""

    def apply(self, event: CloudEvent[Any]) -> None:
        members = self._organisations.setdefault(event.orgid, {})
        payload = event.data
        current = members.get(getattr(payload, "member_id", ""))
        if isinstance(payload, MemberJoined):
            following = self._joined(current, event, payload)
        elif current is None:
            return
        else:
            following = _next_state(current, payload)
        if current is not None and (
            following.status is not current.status or following.paused_until != current.paused_until
        ):
            following = replace(following, changed_at=event.time, before=current)
        if isinstance(payload, MemberErased):
            following = _without_personal_data(following)
        self._store(members, current, following)

    def _store(self, members: dict[str, Member], old: Member | None, new: Member) -> None:
        if old is not None:
            self._counts[old.status] -= 1
        self._counts[new.status] += 1
        members[new.member_id] = new

    @staticmethod
    def _joined(current: Member | None, event: CloudEvent[Any], payload: MemberJoined) -> Member:
        if current is None or current.status is MemberStatus.LEFT:
            return Member(profile=payload, status=MemberStatus.ACTIVE, joined_at=event.time)
        return replace(current, profile=payload)

    def member(self, org_id: str, member_id: str) -> Member | None:
        return self._organisations.get(org_id, {}).get(member_id)

    def members(self, org_id: str) -> Iterator[Member]:
        """Every member the organisation ever had, in order of first join."""
        return iter(self._organisations.get(org_id, {}).values())

    def taking_part(self, org_id: str, on: date, as_of: datetime | None = None) -> Iterator[Member]:
        """Members who take part on a day; with ``as_of``, as they stood at that moment (joined
        by then, later changes of status not yet made)."""
        for current in self.members(org_id):
            member = current if as_of is None else current.as_of(as_of)
            if member is not None and member.takes_part_on(on):
                yield member

    def organisations(self) -> Iterator[str]:
        return iter(self._organisations)

    def status_counts(self) -> Counter[MemberStatus]:
        return Counter({status: count for status, count in self._counts.items() if count})


def _next_state(current: Member, payload: object) -> Member:
    match payload:
        case MemberProfileUpdated():
            return replace(current, profile=payload)
        case MemberPaused(until=until) if current.status in (
            MemberStatus.ACTIVE,
            MemberStatus.PAUSED,
        ):
            return replace(current, status=MemberStatus.PAUSED, paused_until=until)
        case MemberResumed() if current.status in (MemberStatus.PAUSED, MemberStatus.OPTED_OUT):
            return replace(current, status=MemberStatus.ACTIVE, paused_until=None)
        case MemberOptedOut() if current.status is not MemberStatus.LEFT:
            return replace(current, status=MemberStatus.OPTED_OUT, paused_until=None)
        case MemberLeft():
            return replace(current, status=MemberStatus.LEFT, paused_until=None)
    return current


def _without_personal_data(member: Member) -> Member:
    """The member, and every earlier state ``as_of`` can go back to, with placeholders for
    their personal data: what an erasure leaves (docs/privacy.md)."""
    before = _without_personal_data(member.before) if member.before is not None else None
    return replace(member, profile=erased_profile(member.profile), before=before)


def directory_measures(directory: MemberDirectory) -> dict[str, float]:
    """Members by status, as exported in every service's metrics."""
    counts = directory.status_counts()
    return {f"members_{status.value}": float(counts[status]) for status in MemberStatus}
