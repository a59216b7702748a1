"""Choosing a buddy: who is eligible, who is preferred, and how the load is shared.

Eligible (every rule must hold, at the domain time of the decision): takes part that day (not
paused, opted out or left), shares a language, has been in the organisation for the minimum
tenure, is neither in the new hire's reporting line nor a new hire being onboarded, shares the
minimum stretch of working time, volunteered (only when the policy says so) and looks after fewer
new hires than the cap.

Among the eligible, the order of preference is, rule by rule: volunteers; same department but a
different team; the fewest new hires looked after now; an office day in common; the fewest new
hires looked after ever; then a tie-break hashed from the organisation, the new hire and the
candidate, so that ties spread over people and a replay makes the same choice.

The search reads the candidate index tier by tier (volunteers of the department first), ranks a
tier's candidates and checks their eligibility in that order, stopping at the first eligible one:
every member of a tier ranks before every member of the next, so the choice is the one a scan of
the whole organisation would make (tested), and eligibility (the costly part) is checked for a
few candidates rather than for everyone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntEnum
from typing import Protocol

from services.common.domain.directory import MemberDirectory
from services.common.domain.working_hours import week_monday
from services.onboarding.domain.candidates import MemberFacts, OrgCandidates
from services.onboarding.domain.policy import BuddyPolicy
from services.onboarding.domain.reasons import (
    Stage,
    assignment_reasons,
    common_office_days,
)
from services.onboarding.domain.working_time import longest_shared_stretch, months_before


class Loads(Protocol):
    """How many new hires people look after, and who is being onboarded."""

    def active(self, buddy_id: str) -> int:
        """New hires the person looks after now."""

    def lifetime(self, buddy_id: str) -> int:
        """New hires the person was ever given."""

    def is_onboarding(self, member_id: str) -> bool:
        """Whether the person is a new hire being onboarded."""

    def without_room(self, cap: int) -> AbstractSet[str]:
        """Everyone being onboarded or looking after ``cap`` new hires or more: nobody a search
        may choose, whatever else is true of them."""


@dataclass(frozen=True)
class BuddySearch:
    """Everything a choice depends on; nothing in it changes during the search."""

    org_id: str
    policy: BuddyPolicy
    today: date
    directory: MemberDirectory
    candidates: OrgCandidates
    loads: Loads
    use_index: bool = True
    """False scans every member of the organisation (the reference the index is tested and
    benchmarked against)."""


@dataclass(frozen=True)
class BuddyChoice:
    buddy_id: str
    reasons: tuple[str, ...]


class Rule(IntEnum):
    """The eligibility rules, in the order they are checked and explained."""

    TAKES_PART = 0
    LANGUAGE = 1
    TENURE = 2
    REPORTING_LINE = 3
    OVERLAP = 4
    VOLUNTEER = 5
    ROOM = 6


@dataclass(frozen=True)
class _Seeker:
    """The new hire, prepared once for a search."""

    facts: MemberFacts
    reporting_line: frozenset[str]
    excluded: frozenset[str]
    monday: date
    """The reference week of the working-time overlap: the week onboarding starts."""
    tenure_cutoff: date
    min_overlap: timedelta


def choose_buddy(
    search: BuddySearch, new_hire_id: str, *, exclude: Iterable[str] = ()
) -> BuddyChoice | None:
    """The best eligible buddy, or None when nobody is eligible."""
    seeker = _seeker(search, new_hire_id, exclude)
    if seeker is None:
        return None
    if not search.use_index:
        return _best_of_everyone(search, seeker)
    tie = _tie_breaker(search.org_id, seeker.facts.member_id)
    for tier in _tiers(search, seeker):
        # Preference is a total order and cheap to compute; eligibility is not (working-time
        # overlap, the directory): check it in order of preference and stop at the first.
        # Within a tier the first two rules of the ranking are equal: the others decide. The
        # tie-break (a hash) is taken only within a group the other rules leave equal, and
        # only for the groups reached.
        for group in _equally_ranked(search, seeker, tier):
            for candidate_id in sorted(group, key=lambda c: (tie(c), c)):
                if failing_rule(search, seeker, candidate_id) is None:
                    return _choice(search, seeker, candidate_id)
    return None


def _equally_ranked(
    search: BuddySearch, seeker: _Seeker, tier: Iterable[str]
) -> Iterator[list[str]]:
    """A tier's candidates in groups that ``_in_tier_rank`` orders alike but for the tie-break,
    best group first."""
    by_rank: dict[tuple[int, int, int], list[str]] = {}
    for candidate_id in tier:
        by_rank.setdefault(_in_tier_rank(search, seeker, candidate_id), []).append(candidate_id)
    for rank in sorted(by_rank):
        yield by_rank[rank]


def _may_be_eligible(
    facts: MemberFacts | None, loads: Loads, cap: int, tenure_cutoff: date
) -> bool:
    """Rules checked by lookups alone, before ranking: a candidate without room, being onboarded
    or too new is never eligible (new hires are most of those, and a stream of them made every
    search rank and reject all the earlier ones)."""
    return (
        facts is not None
        and facts.start_date <= tenure_cutoff
        and loads.active(facts.member_id) < cap
        and not loads.is_onboarding(facts.member_id)
    )


def _best_of_everyone(search: BuddySearch, seeker: _Seeker) -> BuddyChoice | None:
    """Every member checked, the best eligible kept: the reference the search is tested against."""
    best: tuple[tuple[int, ...], str] | None = None
    for member in search.directory.members(search.org_id):
        candidate_id = member.member_id
        if failing_rule(search, seeker, candidate_id) is None:
            ranked = (_rank(search, seeker, candidate_id), candidate_id)
            if best is None or ranked < best:
                best = ranked
    return None if best is None else _choice(search, seeker, best[1])


def could_be_buddy(search: BuddySearch, new_hire_id: str, candidate_ids: Iterable[str]) -> bool:
    """Whether any of the given members is eligible for the new hire (a cheap test before a
    full search)."""
    seeker = _seeker(search, new_hire_id, ())
    return seeker is not None and any(
        failing_rule(search, seeker, candidate_id) is None for candidate_id in candidate_ids
    )


def may_be_a_buddy(search: BuddySearch, candidate_id: str) -> bool:
    """Whether the member passes the rules that do not depend on the new hire (takes part, tenure,
    not being onboarded, volunteer, room): a member who does not is nobody's buddy today."""
    candidates = search.candidates
    facts = candidates.facts.get(candidate_id)
    if facts is None or candidate_id not in candidates.available:
        return False
    member = search.directory.member(search.org_id, candidate_id)
    policy = search.policy
    return (
        member is not None
        and member.takes_part_on(search.today)
        and (facts.volunteer or not policy.volunteers_only)
        and _may_be_eligible(
            facts,
            search.loads,
            policy.max_active_buddies,
            months_before(search.today, policy.min_tenure_months),
        )
    )


def in_reporting_line(search: BuddySearch, new_hire_id: str, buddy_id: str) -> bool:
    return buddy_id in search.candidates.reporting_line(new_hire_id)


def eligibility_stages(
    search: BuddySearch, new_hire_id: str, *, exclude: Iterable[str] = ()
) -> list[Stage]:
    """How many colleagues pass each rule in turn: the explanation when nobody is eligible."""
    seeker = _seeker(search, new_hire_id, exclude)
    failures = [0] * len(Rule)
    colleagues = 0
    if seeker is not None:
        for candidate_id in search.candidates.facts:
            if candidate_id == new_hire_id:
                continue
            colleagues += 1
            rule = failing_rule(search, seeker, candidate_id)
            if rule is not None:
                failures[rule] += 1
    stages: list[Stage] = []
    passing = colleagues
    for rule in Rule:
        if rule is Rule.VOLUNTEER and not search.policy.volunteers_only:
            continue
        passing -= failures[rule]
        stages.append(Stage(*_rule_words(rule, search.policy), passing=passing))
    return stages


def failing_rule(search: BuddySearch, seeker: _Seeker, candidate_id: str) -> Rule | None:
    """The first rule a candidate breaks, or None when they are eligible."""
    candidates = search.candidates
    facts = candidates.facts.get(candidate_id)
    if (
        facts is None
        or candidate_id not in candidates.available
        or candidate_id == seeker.facts.member_id
        or candidate_id in seeker.excluded
    ):
        return Rule.TAKES_PART
    member = search.directory.member(search.org_id, candidate_id)
    if member is None or not member.takes_part_on(search.today):
        return Rule.TAKES_PART
    if facts.languages.isdisjoint(seeker.facts.languages):
        return Rule.LANGUAGE
    if facts.start_date > seeker.tenure_cutoff:
        return Rule.TENURE
    if candidate_id in seeker.reporting_line or search.loads.is_onboarding(candidate_id):
        return Rule.REPORTING_LINE
    if longest_shared_stretch(seeker.facts.hours, facts.hours, seeker.monday) < seeker.min_overlap:
        return Rule.OVERLAP
    if search.policy.volunteers_only and not facts.volunteer:
        return Rule.VOLUNTEER
    if search.loads.active(candidate_id) >= search.policy.max_active_buddies:
        return Rule.ROOM
    return None


def _seeker(search: BuddySearch, new_hire_id: str, exclude: Iterable[str]) -> _Seeker | None:
    facts = search.candidates.facts.get(new_hire_id)
    if facts is None:
        return None
    return _Seeker(
        facts=facts,
        reporting_line=search.candidates.reporting_line(new_hire_id),
        excluded=frozenset(exclude),
        monday=week_monday(max(search.today, facts.start_date)),
        tenure_cutoff=months_before(search.today, search.policy.min_tenure_months),
        min_overlap=timedelta(hours=search.policy.min_overlap_hours),
    )


def _tiers(search: BuddySearch, seeker: _Seeker) -> Iterator[Iterable[str]]:
    """Candidates in groups of equal preference for the first two rules of the ranking (volunteer,
    same department and other team), best group first; only those ``_may_be_eligible`` (checked
    first: it is the cheaper test, and most of a large group fails it)."""
    candidates = search.candidates
    facts = candidates.facts
    loads, cap, cutoff = search.loads, search.policy.max_active_buddies, seeker.tenure_cutoff
    department, team = seeker.facts.department, seeker.facts.team

    def close(candidate_id: str) -> bool:
        return seeker.facts.same_department_other_team(facts[candidate_id])

    # The same test as ``_may_be_eligible``, its bulk done by a set difference: in a wave of
    # new hires most of a group is being onboarded or full, and a test per member was a fifth
    # of onboarding's time at 200 joins a second.
    without_room = loads.without_room(cap)

    def possible(candidate_ids: AbstractSet[str]) -> Iterator[str]:
        return (c for c in candidate_ids - without_room if facts[c].start_date <= cutoff)

    yield (c for c in possible(candidates.volunteers_in(department)) if facts[c].team != team)
    yield (c for c in possible(candidates.volunteers) if not close(c))
    if search.policy.volunteers_only:
        return
    volunteers = candidates.volunteers
    in_department = possible(candidates.in_department(department))
    yield (c for c in in_department if c not in volunteers and close(c))
    yield (c for c in possible(candidates.available) if c not in volunteers and not close(c))


def _rank(search: BuddySearch, seeker: _Seeker, candidate_id: str) -> tuple[int, ...]:
    """Smaller is better; see the module's docstring for the order."""
    facts = search.candidates.facts[candidate_id]
    tie = _tie_breaker(search.org_id, seeker.facts.member_id)
    return (
        0 if facts.volunteer else 1,
        0 if seeker.facts.same_department_other_team(facts) else 1,
        *_in_tier_rank(search, seeker, candidate_id),
        tie(candidate_id),
    )


def _in_tier_rank(search: BuddySearch, seeker: _Seeker, candidate_id: str) -> tuple[int, int, int]:
    """The ranking after its first two rules (volunteer; same department, other team) and
    before the tie-break."""
    loads = search.loads
    return (
        loads.active(candidate_id),
        0 if common_office_days(seeker.facts, search.candidates.facts[candidate_id]) else 1,
        loads.lifetime(candidate_id),
    )


def _tie_breaker(org_id: str, new_hire_id: str) -> Callable[[str], int]:
    """A number per candidate that orders candidates differently for every new hire, the same
    in every run (a hash; the hash of the common prefix is taken once)."""
    prefix = hashlib.blake2b(f"{org_id}\x1f{new_hire_id}\x1f".encode(), digest_size=8)

    def tie(candidate_id: str) -> int:
        digest = prefix.copy()
        digest.update(candidate_id.encode())
        return int.from_bytes(digest.digest(), "big")

    return tie


def _choice(search: BuddySearch, seeker: _Seeker, buddy_id: str) -> BuddyChoice:
    buddy = search.candidates.facts[buddy_id]
    shared = longest_shared_stretch(seeker.facts.hours, buddy.hours, seeker.monday)
    reasons = assignment_reasons(
        seeker.facts,
        buddy,
        shared=shared,
        load=search.loads.active(buddy_id),
        today=search.today,
    )
    return BuddyChoice(buddy_id=buddy_id, reasons=reasons)


def _rule_words(rule: Rule, policy: BuddyPolicy) -> tuple[str, str]:
    """What passing a rule means, said of one colleague and of several."""
    hours = f"{policy.min_overlap_hours:g} h"
    cap = policy.max_active_buddies
    words: dict[Rule, tuple[str, str]] = {
        Rule.TAKES_PART: (
            "takes part in the programme now",
            "take part in the programme now",
        ),
        Rule.LANGUAGE: (
            "shares a language with the new hire",
            "share a language with the new hire",
        ),
        Rule.TENURE: (
            f"has been in the organisation for at least {policy.min_tenure_months} months",
            f"have been in the organisation for at least {policy.min_tenure_months} months",
        ),
        Rule.REPORTING_LINE: (
            "is outside the new hire's reporting line and not a new hire too",
            "are outside the new hire's reporting line and not new hires too",
        ),
        Rule.OVERLAP: (
            f"shares at least {hours} of working time a day with the new hire",
            f"share at least {hours} of working time a day with the new hire",
        ),
        Rule.VOLUNTEER: ("volunteered to be a buddy", "volunteered to be a buddy"),
        Rule.ROOM: (
            f"looks after fewer than {cap} new hires already",
            f"look after fewer than {cap} new hires already",
        ),
    }
    return words[rule]
