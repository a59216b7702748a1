"""Who could be a buddy, grouped so that a search looks at the preferred people first.

The index is a projection of the member directory, kept up to date event by event: a buddy
search then reads the volunteers of one department instead of every member of the organisation.
It also answers reporting-line questions (managers above, reports below) without a scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from schemas.members import MemberProfile
from services.common.domain.directory import Member, MemberStatus
from services.common.domain.working_hours import WeeklyHours

_CANDIDATE_STATUSES = frozenset({MemberStatus.ACTIVE, MemberStatus.PAUSED})
"""Members who may be a buddy on some day (a pause ends); left and opted-out members may not."""


def language_family(tag: str) -> str:
    """The primary language of a BCP 47 tag: 'en-GB' and 'en' share English."""
    return tag.split("-", 1)[0].lower()


@dataclass(frozen=True)
class MemberFacts:
    """What the buddy search needs of a member, derived once per profile change."""

    member_id: str
    team: str
    department: str
    manager_id: str | None
    languages: frozenset[str]
    office: str | None
    office_days: frozenset[str]
    hours: WeeklyHours
    start_date: date
    volunteer: bool

    @classmethod
    def of(cls, profile: MemberProfile) -> MemberFacts:
        return cls(
            member_id=profile.member_id,
            team=profile.team,
            department=profile.department,
            manager_id=profile.manager_id,
            languages=frozenset(language_family(tag) for tag in profile.languages),
            office=profile.office,
            office_days=frozenset(profile.office_days),
            hours=WeeklyHours.of(profile),
            start_date=profile.start_date,
            volunteer=profile.buddy_volunteer,
        )

    def same_department_other_team(self, other: MemberFacts) -> bool:
        return self.department == other.department and self.team != other.team


@dataclass(frozen=True)
class IndexChange:
    """What one member event changed in the index."""

    previous: MemberFacts | None
    current: MemberFacts

    @property
    def manager_changed(self) -> bool:
        return self.previous is not None and self.previous.manager_id != self.current.manager_id


@dataclass
class OrgCandidates:
    """One organisation's members as the buddy search sees them."""

    facts: dict[str, MemberFacts] = field(default_factory=dict)
    """Every member the organisation ever had (latest profile): reporting lines need them all."""
    available: set[str] = field(default_factory=set)
    """Members neither left nor opted out."""
    volunteers: set[str] = field(default_factory=set)
    by_department: dict[str, set[str]] = field(default_factory=dict)
    """Available members by department."""
    volunteers_by_department: dict[str, set[str]] = field(default_factory=dict)
    reports: dict[str, set[str]] = field(default_factory=dict)
    """Direct reports by manager id."""

    def update(self, member: Member) -> IndexChange:
        previous = self.facts.get(member.member_id)
        if previous is not None:
            self._forget(previous)
        current = MemberFacts.of(member.profile)
        self.facts[current.member_id] = current
        if current.manager_id is not None:
            self.reports.setdefault(current.manager_id, set()).add(current.member_id)
        if member.status in _CANDIDATE_STATUSES:
            self._offer(current)
        return IndexChange(previous, current)

    def _groups_of(self, facts: MemberFacts) -> list[set[str]]:
        groups = [self.available, self.by_department.setdefault(facts.department, set())]
        if facts.volunteer:
            groups.append(self.volunteers)
            groups.append(self.volunteers_by_department.setdefault(facts.department, set()))
        return groups

    def _offer(self, facts: MemberFacts) -> None:
        for group in self._groups_of(facts):
            group.add(facts.member_id)

    def _forget(self, facts: MemberFacts) -> None:
        if facts.manager_id is not None:
            self.reports.get(facts.manager_id, set()).discard(facts.member_id)
        for group in self._groups_of(facts):
            group.discard(facts.member_id)

    def in_department(self, department: str) -> frozenset[str] | set[str]:
        """The department's available members."""
        return self.by_department.get(department, frozenset())

    def volunteers_in(self, department: str) -> frozenset[str] | set[str]:
        """The department's available volunteers."""
        return self.volunteers_by_department.get(department, frozenset())

    def reporting_line(self, member_id: str) -> frozenset[str]:
        """The member's managers up to the top and everyone who reports to them, directly or
        not; cycles in the data do not loop."""
        return frozenset(self._managers_above(member_id)) | frozenset(
            self._reports_below(member_id)
        )

    def _managers_above(self, member_id: str) -> Iterator[str]:
        seen = {member_id}
        facts = self.facts.get(member_id)
        manager = facts.manager_id if facts is not None else None
        while manager is not None and manager not in seen:
            seen.add(manager)
            yield manager
            above = self.facts.get(manager)
            manager = above.manager_id if above is not None else None

    def _reports_below(self, member_id: str) -> Iterator[str]:
        seen = {member_id}
        frontier = [member_id]
        while frontier:
            manager = frontier.pop()
            for report in self.reports.get(manager, ()):
                if report not in seen:
                    seen.add(report)
                    frontier.append(report)
                    yield report


class CandidateIndex:
    """The candidates of every organisation; ``update`` re-indexes one member after an event."""

    def __init__(self) -> None:
        self._organisations: dict[str, OrgCandidates] = {}

    def update(self, org_id: str, member: Member) -> IndexChange:
        return self._organisations.setdefault(org_id, OrgCandidates()).update(member)

    def of(self, org_id: str) -> OrgCandidates:
        """The organisation's candidates (an empty, unstored index for an unknown one: reading
        never changes the state)."""
        return self._organisations.get(org_id) or OrgCandidates()
