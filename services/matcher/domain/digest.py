"""Each team lead's weekly digest: their team in the round just matched, who has been quiet,
the new hires' connections, and what the round does about it.

Compiled from the matcher's own state (the round's candidates and plan, and the history of
rounds before it), so a replay compiles the same digest. The lead of a team is the manager of
most of its members (the smallest id on a tie); a team without a manager gets no digest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from schemas.coffee import (
    CoffeeTeamDigestCompiled,
    NewHireConnections,
    PairingSuggestion,
    SuggestionReason,
)
from services.common.domain.pulse import PulseAnswers, pulse_figure
from services.matcher.domain.history import OrganisationHistory
from services.matcher.domain.policy import Priority
from services.matcher.domain.pool import Candidate
from services.matcher.domain.priority import Standing, standing
from services.matcher.domain.rounds import RoundPlan

MAX_SUGGESTIONS = 2
WHY_ORDER: tuple[SuggestionReason, ...] = ("quiet", "new_hire_few_connections", "only_own_team")
"""The suggestions a lead reads first: the quiet, then new hires, then the rest."""


def team_digests(
    round_id: str,
    candidates: Sequence[Candidate],
    plan: RoundPlan,
    history: OrganisationHistory,
    ordinal: int,
    priority: Priority,
) -> list[CoffeeTeamDigestCompiled]:
    team_of = {c.member_id: c.team for c in candidates}
    partners = _partners_this_round(plan)
    standings = {c.member_id: standing(history, c.member_id, ordinal) for c in candidates}
    digests = []
    for team in sorted(set(team_of.values())):
        members = sorted((c for c in candidates if c.team == team), key=lambda c: c.member_id)
        lead = lead_of(members)
        if lead is None:
            continue
        context = _Team(team, members, standings, priority, history, team_of)
        digests.append(
            CoffeeTeamDigestCompiled(
                round_id=round_id,
                team=team,
                lead_id=lead,
                active=len(members),
                participants=sum(1 for c in members if c.member_id in partners),
                quiet_rounds=priority.quiet_rounds,
                quiet=tuple(c.member_id for c in members if context.why(c) == "quiet"),
                new_hires=tuple(
                    NewHireConnections(
                        member_id=c.member_id, people_met=standings[c.member_id].people_met
                    )
                    for c in members
                    if c.new_hire
                ),
                suggestions=_suggestions(context, partners, team_of),
            )
        )
    return digests


@dataclass(frozen=True)
class HeldOccurrence:
    """One held occurrence of a team's ritual and who attended it."""

    team: str
    start: datetime
    attendees: frozenset[str]


def with_last_week(
    digest: CoffeeTeamDigestCompiled,
    members: Sequence[str],
    week_starting: date,
    answers: PulseAnswers,
    held: Sequence[HeldOccurrence],
) -> CoffeeTeamDigestCompiled:
    """The digest with the team's week before ``week_starting``: its pulse (the mean only from
    5 answers of the team's members on) and its rituals' attendance (occurrences held that week,
    attended over invited, the invited being the team's members of the digest)."""
    last_week = week_starting - timedelta(days=7)
    figure = pulse_figure(answers.scores(last_week, members))
    team = set(members)
    occurrences = [
        o for o in held if o.team == digest.team and last_week <= o.start.date() < week_starting
    ]
    return digest.model_copy(
        update={
            "pulse_week": last_week,
            "pulse_answers": figure.answers,
            "pulse_mean": figure.mean,
            "rituals_held": len(occurrences),
            "ritual_attended": sum(len(o.attendees & team) for o in occurrences),
            "ritual_invited": len(team) * len(occurrences),
        }
    )


def lead_of(members: Sequence[Candidate]) -> str | None:
    managers = Counter(c.manager_id for c in members if c.manager_id is not None)
    if not managers:
        return None
    most = max(managers.values())
    return min(manager for manager, count in managers.items() if count == most)


class _Team:
    def __init__(
        self,
        team: str,
        members: Sequence[Candidate],
        standings: dict[str, Standing],
        priority: Priority,
        history: OrganisationHistory,
        team_of: dict[str, str],
    ) -> None:
        self.team = team
        self.members = members
        self.standings = standings
        self.priority = priority
        self.history = history
        self.team_of = team_of

    def why(self, member: Candidate) -> SuggestionReason | None:
        """Why the member needs a new connection most, if they do."""
        own = self.standings[member.member_id]
        if own.rounds_without_coffee >= self.priority.quiet_rounds:
            return "quiet"
        if member.new_hire and own.people_met < self.priority.new_hire_connections:
            return "new_hire_few_connections"
        if not self._met_outside(member.member_id):
            return "only_own_team"
        return None

    def _met_outside(self, member_id: str) -> bool:
        for other in self.history.partners(member_id):
            record = self.history.pair(member_id, other)
            elsewhere = other in self.team_of and self.team_of[other] != self.team
            if elsewhere and record is not None and not record.missed:
                return True
        return False


def _partners_this_round(plan: RoundPlan) -> dict[str, list[str]]:
    partners: dict[str, list[str]] = {}
    for group in plan.groups:
        ids = [p.member_id for p in group.participants]
        for member in ids:
            partners[member] = [other for other in ids if other != member]
    return partners


def _suggestions(
    team: _Team, partners: dict[str, list[str]], team_of: dict[str, str]
) -> tuple[PairingSuggestion, ...]:
    found = []
    for member in team.members:
        why = team.why(member)
        outside = [p for p in partners.get(member.member_id, []) if team_of[p] != team.team]
        if why is not None and outside:
            found.append(
                PairingSuggestion(
                    member_id=member.member_id,
                    partner_id=outside[0],
                    partner_team=team_of[outside[0]],
                    why=why,
                )
            )
    found.sort(key=lambda s: (WHY_ORDER.index(s.why), s.member_id))
    return tuple(found[:MAX_SUGGESTIONS])
