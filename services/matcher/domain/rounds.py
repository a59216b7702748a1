"""A coffee round, decided: who meets whom, why, how, when, and what the round achieved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import combinations
from zoneinfo import ZoneInfo

import numpy as np

from services.common.domain.words import DAY_NAMES, describe_minutes, listing
from services.common.domain.working_hours import WEEKDAYS, Interval, total_minutes
from services.matcher.domain.grouping import FormedGroup, form_groups
from services.matcher.domain.history import OrganisationHistory, PairRecord
from services.matcher.domain.policy import CoffeePolicy
from services.matcher.domain.pool import Candidate, Pool, seed_of
from services.matcher.domain.schedule import MINUTES_PER_DAY, at_minute, slot_in
from services.matcher.domain.words import both_or_all, language_name, starter

REPEAT_REASON = "you met recently, but without a repeat fewer people could be placed this round"


UNPLACED_BY_OTHERS = "the people you could meet were each needed to place someone else this round"


@dataclass(frozen=True)
class RoundRequest:
    organisation: str
    round_id: str
    week_starting: date
    group_size: int
    ordinal: int
    requested_at: datetime | None = None
    """Slots start ``notice_hours`` after this (if given): nobody is invited into the past."""

    def first_minute(self, notice_hours: int) -> int:
        if self.requested_at is None:
            return 0
        week_start = at_minute(self.week_starting, 0)
        earliest = self.requested_at + timedelta(hours=notice_hours) - week_start
        return max(0, int(earliest.total_seconds() // 60))


@dataclass(frozen=True)
class PlannedParticipant:
    member_id: str
    timezone: str
    local_start: str


@dataclass(frozen=True)
class PlannedGroup:
    group_id: str
    participants: tuple[PlannedParticipant, ...]
    mode: str
    office: str | None
    slot_start: datetime
    slot_minutes: int
    reasons: tuple[str, ...]
    conversation_starter: str
    score: float
    pairs: int
    cross_team_pairs: int
    first_time_pairs: int


@dataclass(frozen=True)
class Unplaced:
    member_id: str
    reason: str


@dataclass(frozen=True)
class RoundPlan:
    groups: tuple[PlannedGroup, ...]
    unplaced: tuple[Unplaced, ...]
    participants: int
    trios: int

    @property
    def cross_team_share(self) -> float:
        pairs = sum(g.pairs for g in self.groups)
        return sum(g.cross_team_pairs for g in self.groups) / pairs if pairs else 0.0

    @property
    def first_time_share(self) -> float:
        pairs = sum(g.pairs for g in self.groups)
        return sum(g.first_time_pairs for g in self.groups) / pairs if pairs else 0.0

    @property
    def mean_score(self) -> float:
        return float(np.mean([g.score for g in self.groups])) if self.groups else 0.0


def plan_round(
    candidates: Sequence[Candidate],
    request: RoundRequest,
    history: OrganisationHistory,
    policy: CoffeePolicy,
) -> RoundPlan:
    """The same candidates, history and round id always give the same plan."""
    seed = seed_of(request.organisation, request.round_id)
    ordered = sorted(candidates, key=lambda c: c.member_id)
    pool = Pool(
        ordered,
        week_starting=request.week_starting,
        ordinal=request.ordinal,
        seed=seed,
        policy=policy,
        history=history,
    )
    grouping = form_groups(pool, seed, request.group_size)
    formed = sorted(grouping.groups, key=lambda g: min(g.members))
    groups = tuple(
        _describe(pool, request, f"{request.round_id}-g{number}", group)
        for number, group in enumerate(formed, start=1)
    )
    unplaced = tuple(
        Unplaced(pool.candidates[m].member_id, unplaced_reason(pool, m))
        for m in sorted(grouping.left_over)
    )
    return RoundPlan(
        groups=groups,
        unplaced=unplaced,
        participants=pool.size,
        trios=sum(1 for g in formed if len(g.members) > request.group_size),
    )


def _describe(pool: Pool, request: RoundRequest, group_id: str, group: FormedGroup) -> PlannedGroup:
    members = [pool.candidates[m] for m in group.members]
    choice = seed_of(group_id)
    common = pool.common_intervals(group.members)
    bookable = _from(common, request.first_minute(pool.policy.notice_hours))
    in_person, slot = _slot(pool, members, bookable, choice)
    start = at_minute(request.week_starting, slot)
    shared_interests = _shared([m.interests for m in members])
    pairs = list(combinations(members, 2))
    records = [pool.history.pair(a.member_id, b.member_id) for a, b in pairs]
    return PlannedGroup(
        group_id=group_id,
        participants=tuple(
            PlannedParticipant(
                c.member_id,
                c.hours.timezone,
                start.astimezone(ZoneInfo(c.hours.timezone)).isoformat(),
            )
            for c in members
        ),
        mode="in_person" if in_person else "video",
        office=members[0].office if in_person else None,
        slot_start=start,
        slot_minutes=pool.policy.slot_minutes,
        reasons=_reasons(
            pool, members, records, common, shared_interests, slot if in_person else None
        ),
        conversation_starter=starter(choice, shared_interests),
        score=round(group.score, 3),
        pairs=len(pairs),
        cross_team_pairs=sum(1 for a, b in pairs if a.team != b.team),
        first_time_pairs=sum(1 for r in records if r is None or r.missed),
    )


def _from(intervals: Sequence[Interval], first_minute: int) -> tuple[Interval, ...]:
    """The part of the intervals from a minute on."""
    return tuple((max(start, first_minute), end) for start, end in intervals if end > first_minute)


def _slot(
    pool: Pool, members: Sequence[Candidate], common: Sequence[Interval], choice: int
) -> tuple[bool, int]:
    """In person on a shared office day when one fits, else by video; the minute of the week."""
    length = pool.policy.slot_minutes
    office_days = _shared_office_days(members)
    if office_days:
        slot = slot_in(common, length, choice, on_days=office_days)
        if slot is not None:
            return True, slot
    slot = slot_in(common, length, choice)
    if slot is not None:
        return False, slot
    # Only for a group placed as a last resort: the first shared minute, if any.
    return False, common[0][0] if common else members_first_minute(pool, members)


def members_first_minute(pool: Pool, members: Sequence[Candidate]) -> int:
    return pool.intervals(pool.index[members[0].member_id])[0][0]


def _shared(values: Sequence[Sequence[str]]) -> list[str]:
    """What every member has, in the first member's order."""
    common = set(values[0]).intersection(*values[1:])
    return [item for item in values[0] if item in common]


def _shared_office_days(members: Sequence[Candidate]) -> frozenset[int]:
    office = members[0].office
    if office is None or any(m.office != office for m in members):
        return frozenset()
    days = set(members[0].office_days)
    for member in members:
        days &= set(member.office_days) & set(member.hours.days)
    return frozenset(WEEKDAYS.index(day) for day in days)


def _reasons(
    pool: Pool,
    members: Sequence[Candidate],
    records: Sequence[PairRecord | None],
    common: Sequence[Interval],
    shared_interests: Sequence[str],
    office_slot: int | None,
) -> tuple[str, ...]:
    everyone = both_or_all(len(members))
    reasons = [_team_reason(members), _history_reason(pool, records)]
    if shared_interests:
        reasons.append(f"{everyone} like {listing(shared_interests)}")
    languages = _shared([m.languages for m in members]) if pool.multilingual else []
    if languages:
        reasons.append(f"{everyone} speak {language_name(languages[0])}")
    if office_slot is not None:
        day = DAY_NAMES[office_slot // MINUTES_PER_DAY]
        reasons.append(f"{everyone} at the {members[0].office} office on {day}")
    reasons.append(_overlap_reason(members, common))
    if any(m.new_hire for m in members):
        reasons.append("a new colleague meets people beyond their own team")
    reasons += priority_reasons(pool, [pool.index[m.member_id] for m in members])
    if any(pool.held_back(record) for record in records):
        reasons.append(REPEAT_REASON)
    return tuple(reasons)


def priority_reasons(pool: Pool, members: Sequence[int]) -> list[str]:
    """Why the group was matched first, when priority scored it (see ``priority``)."""
    priority, rules = pool.priority, pool.policy.priority
    reasons = []
    quiet = [priority.standings[m].rounds_without_coffee for m in members if priority.quiet[m]]
    if quiet:
        rounds = max(quiet)
        reasons.append(f"matched first: one of you has had no coffee for {rounds} rounds")
    if any(priority.new_hire_few[m] for m in members):
        reasons.append(
            f"matched first: a new colleague who has met fewer than "
            f"{rules.new_hire_connections} people here so far"
        )
    for a, b in combinations(members, 2):
        first, second = int(pool.team[a]), int(pool.team[b])
        if first != second and priority.team_points[first, second] > 0:
            links = int(priority.team_links[first, second])
            teams = listing([pool.candidates[a].team, pool.candidates[b].team])
            reason = (
                f"{teams} have had {links} coffee{'s' if links != 1 else ''} together: a new link"
            )
            if reason not in reasons:
                reasons.append(reason)
    return reasons


def _team_reason(members: Sequence[Candidate]) -> str:
    teams = list(dict.fromkeys(m.team for m in members))
    if len(teams) == 1:
        return f"same team ({teams[0]})"
    departments = list(dict.fromkeys(m.department for m in members))
    across = f" across {listing(departments)}" if len(departments) > 1 else ""
    return f"different teams: {listing(teams)}{across}"


def _history_reason(pool: Pool, records: Sequence[PairRecord | None]) -> str:
    met = [r.last_round for r in records if r is not None and not r.missed]
    if not met:
        return "first coffee together"
    rounds = pool.ordinal - max(met)
    return f"last met {rounds} round{'s' if rounds != 1 else ''} ago"


def _overlap_reason(members: Sequence[Candidate], common: Sequence[Interval]) -> str:
    days = len({start // MINUTES_PER_DAY for start, _ in common}) or 1
    per_day = describe_minutes(total_minutes(common) // days)
    zones = list(dict.fromkeys(m.hours.timezone for m in members))
    if len(zones) == 1:
        return f"{per_day} of shared working hours a day"
    return f"{per_day} of shared working hours a day across {listing(zones)}"


def unplaced_reason(pool: Pool, member: int) -> str:
    """Why nobody could be found, checking the requirements one by one against everyone."""
    others = np.array([m for m in range(pool.size) if m != member], dtype=np.int64)
    me = np.array([member], dtype=np.int64)
    if others.size == 0:
        return "nobody else takes part in this round"
    language = pool.shares_language(me, others)[0]
    overlap = pool.overlaps(me, others)[0] >= pool.policy.min_overlap_minutes
    minutes = pool.policy.min_overlap_minutes
    if not language.any():
        spoken = listing([language_name(c) for c in pool.candidates[member].languages])
        return f"nobody available this round speaks {spoken}"
    if not overlap.any():
        return f"no working-hours overlap of at least {minutes} min with anyone available"
    if not (language & overlap).any():
        return (
            f"nobody available shares both a language and {minutes} min of working hours with you"
        )
    excluded = pool.excluded_for(pool.candidates[member])
    could_meet = [pool.candidates[other].member_id for other in others[language & overlap]]
    if all(other in excluded for other in could_meet):
        return "everyone you could meet is excluded for you (do-not-pair or reporting line)"
    return UNPLACED_BY_OTHERS
