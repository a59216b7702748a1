"""Does acting help? Twelve weeks of an organisation with the seed's problems, simulated twice
on the matcher's domain (no broker): once with the priority rules (``CoffeePolicy().priority``)
and once with all their points at zero. The same people, rituals, feedback draws and buddies in
both runs; only the matcher's choices differ.

The organisation: 500 people in 20 teams; one team in Tokyo and one in New York (no working hour
in common); 5 % remote members who skip most coffees (30 % happen) and rituals (20 % attended);
a team whose weekly ritual attendance falls from 90 % to 20 %; 24 new hires arriving in the first
eight weeks, each with a buddy from another team (one buddy pauses and is replaced a week later).

Figures, as ``docs/insights.md`` defines them (touchpoints and connections: coffees that
happened, buddies, ritual attendance): members without a touchpoint in the last 4 weeks, new
hires with fewer than 3 (and fewer than 5) connections 30 days after starting, pairs of teams
without a direct connection, connected components; and the weekly pulse ("How connected did you
feel to your colleagues this week?", 1-5). Every present person answers it with a chance drawn
from their id and the week (60 %, the drifting 30 %), with a score that depends on how connected
they were: 1, plus 1 per touchpoint that week (a coffee that happened, the team ritual; at most
2), plus 1 when they met someone of another team in the last 4 weeks, plus 1 on a draw of 50 %
(so 1-5). Figures only from 5 answers (``services.common.domain.pulse``), as insights show them.

Run: ``python -m benchmarks.outcome`` (``make outcome``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import combinations

import networkx as nx

from schemas.members import MemberJoined
from services.common.domain.pulse import PulseFigure, pulse_figure
from services.common.domain.working_hours import WeeklyHours
from services.common.simulation import OrganisationShape, generate_members
from services.matcher.domain.history import OrganisationHistory
from services.matcher.domain.policy import CoffeePolicy, Priority
from services.matcher.domain.pool import Candidate
from services.matcher.domain.rounds import RoundRequest, plan_round

SEED = 11
MEMBERS = 500
TEAMS = 20
WEEKS = 12
NEW_HIRES = 24
FIRST_MONDAY = date(2026, 3, 2)
FAR_TEAM, FAR_ZONE = "Team 1", "Asia/Tokyo"
OTHER_SIDE_TEAM, OTHER_SIDE_ZONE = "Team 2", "America/New_York"
FADING_TEAM = "Team 3"
DRIFTING_SHARE = 0.05
QUIET_WEEKS = 4
NEW_HIRE_DAYS = 30

ACTING = CoffeePolicy()
NOT_ACTING = CoffeePolicy(
    priority=Priority(quiet=0.0, new_hire_few_connections=0.0, few_team_links=0.0)
)


@dataclass
class Organisation:
    people: list[MemberJoined]
    joins: dict[str, date]
    drifting: frozenset[str]
    buddies: dict[str, list[tuple[str, date]]]


@dataclass
class Outcome:
    touch: dict[str, date] = field(default_factory=dict)
    edges: dict[frozenset[str], date] = field(default_factory=dict)
    week_touches: dict[tuple[str, int], int] = field(default_factory=dict)
    """Touchpoints per (member, week index)."""
    met_outside: dict[str, date] = field(default_factory=dict)
    """Each member's latest meeting with someone of another team."""
    pulse: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    """Per week index, the answers: (team, score)."""

    def met(self, people: Iterable[str], day: date, teams: dict[str, str] | None = None) -> None:
        group = list(people)
        week = (day - FIRST_MONDAY).days // 7
        for member in group:
            self.touch[member] = max(self.touch.get(member, day), day)
            key = (member, week)
            self.week_touches[key] = self.week_touches.get(key, 0) + 1
        for a, b in combinations(group, 2):
            self.edges.setdefault(frozenset((a, b)), day)
            if teams is not None and teams[a] != teams[b]:
                for member in (a, b):
                    self.met_outside[member] = max(self.met_outside.get(member, day), day)


def organisation() -> Organisation:
    people = generate_members(
        SEED,
        OrganisationShape(members=MEMBERS, teams=TEAMS, today=FIRST_MONDAY),
    )
    rng = random.Random(f"outcome/{SEED}")
    zones = {FAR_TEAM: FAR_ZONE, OTHER_SIDE_TEAM: OTHER_SIDE_ZONE}
    founders = people[: MEMBERS - NEW_HIRES]
    drifting = frozenset(
        rng.sample(
            sorted(m.member_id for m in founders if m.team not in (*zones, FADING_TEAM)),
            int(MEMBERS * DRIFTING_SHARE),
        )
    )
    joins = {m.member_id: FIRST_MONDAY - timedelta(days=7) for m in founders}
    placed = []
    for number, person in enumerate(people):
        update: dict[str, object] = {}
        if person.team in zones:
            update = {"timezone": zones[person.team], "office": None}
        if person.member_id in drifting:
            update["office"] = None
        if number >= MEMBERS - NEW_HIRES:
            start = FIRST_MONDAY + timedelta(
                days=(number - (MEMBERS - NEW_HIRES)) * 56 // NEW_HIRES
            )
            update |= {"new_hire": True, "start_date": start}
            joins[person.member_id] = start
        placed.append(person.model_copy(update=update) if update else person)
    return Organisation(placed, joins, drifting, _buddies(placed, founders, joins, rng))


def _buddies(
    people: list[MemberJoined],
    founders: list[MemberJoined],
    joins: dict[str, date],
    rng: random.Random,
) -> dict[str, list[tuple[str, date]]]:
    """Each new hire's buddies and when they met: the first buddy of the first new hire pauses,
    and a second takes over a week later."""
    buddies: dict[str, list[tuple[str, date]]] = {}
    for person in people:
        if not person.new_hire:
            continue
        others = sorted(m.member_id for m in founders if m.team != person.team)
        start = joins[person.member_id]
        buddies[person.member_id] = [(rng.choice(others), start)]
    first = min(buddies, key=lambda m: joins[m])
    others = sorted(m.member_id for m in founders if m.member_id != buddies[first][0][0])
    buddies[first].append((rng.choice(others), joins[first] + timedelta(days=7)))
    return buddies


def candidate(person: MemberJoined, week: date) -> Candidate:
    return Candidate(
        member_id=person.member_id,
        team=person.team,
        department=person.department,
        manager_id=person.manager_id,
        hours=WeeklyHours.of(person),
        languages=tuple(person.languages),
        interests=tuple(person.interests),
        office=person.office,
        office_days=tuple(person.office_days),
        new_hire=(week - person.start_date).days < ACTING.new_hire_days,
    )


def _chance(*parts: str) -> float:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def simulate(org: Organisation, policy: CoffeePolicy) -> Outcome:
    history, outcome = OrganisationHistory(), Outcome()
    team_of = {p.member_id: p.team for p in org.people}
    for new_hire, buddies in org.buddies.items():
        for buddy, day in buddies:
            outcome.met((new_hire, buddy), day, team_of)
    for week in range(WEEKS):
        monday = FIRST_MONDAY + timedelta(weeks=week)
        present = [p for p in org.people if org.joins[p.member_id] <= monday + timedelta(days=4)]
        _coffee_round(org, policy, history, outcome, present, week, monday)
        _rituals(org, outcome, present, week, monday)
        _pulse(org, outcome, present, week, monday)
    return outcome


def _pulse(
    org: Organisation, outcome: Outcome, present: list[MemberJoined], week: int, monday: date
) -> None:
    """Friday's pulse: who answers and the draw are the same in both runs; the score follows
    how connected the person was (see the module's docstring)."""
    friday = monday + timedelta(days=4)
    answers = []
    for person in present:
        member = person.member_id
        odds = 0.3 if member in org.drifting else 0.6
        if _chance(member, friday.isoformat(), "pulse") >= odds:
            continue
        outside = outcome.met_outside.get(member)
        score = (
            1
            + min(outcome.week_touches.get((member, week), 0), 2)
            + (outside is not None and (friday - outside).days < 7 * QUIET_WEEKS)
            + (_chance(member, friday.isoformat(), "mood") < 0.5)
        )
        answers.append((person.team, score))
    outcome.pulse[week] = answers


def _coffee_round(
    org: Organisation,
    policy: CoffeePolicy,
    history: OrganisationHistory,
    outcome: Outcome,
    present: list[MemberJoined],
    week: int,
    monday: date,
) -> None:
    round_id = f"coffee-{monday.isoformat()}"
    request = RoundRequest("outcome", round_id, monday, group_size=2, ordinal=week + 1)
    history.open_round(round_id)
    plan = plan_round([candidate(p, monday) for p in present], request, history, policy)
    for group in plan.groups:
        members = [p.member_id for p in group.participants]
        history.record_group(round_id, group.group_id, members)
        # Whether it happens depends on the people, not on the run: drawn from their ids.
        odds = 0.3 if any(m in org.drifting for m in members) else 0.85
        if _chance(*sorted(members), round_id) < odds:
            teams = {p.member_id: p.team for p in present if p.member_id in members}
            outcome.met(members, group.slot_start.date(), teams)
        else:
            history.record_feedback(round_id, group.group_id, members[0], met=False)


def _rituals(
    org: Organisation, outcome: Outcome, present: list[MemberJoined], week: int, monday: date
) -> None:
    """Every team's weekly ritual on Wednesday."""
    day = monday + timedelta(days=2)
    for team in sorted({p.team for p in present}):
        attendees = [
            p.member_id
            for p in present
            if p.team == team
            and org.joins[p.member_id] <= day
            and _chance(p.member_id, day.isoformat(), "ritual") < _attendance(org, p, week)
        ]
        outcome.met(attendees, day)


def _attendance(org: Organisation, person: MemberJoined, week: int) -> float:
    if person.member_id in org.drifting:
        return 0.2
    if person.team == FADING_TEAM:
        return 0.9 - 0.7 * week / (WEEKS - 1)
    return 0.75


@dataclass(frozen=True)
class Figures:
    quiet: int
    new_hires_measured: int
    new_hires_below_3: int
    new_hires_below_5: int
    new_hire_connections_mean: float
    team_pairs_without_link: int
    components: int
    pulse_first_week: float | None
    pulse_last_week: float | None
    pulse_last_4_weeks: float | None
    pulse_lowest_team_last_week: float | None
    pulse_teams_below_5_answers_last_week: int


def figures(org: Organisation, outcome: Outcome) -> Figures:
    end = FIRST_MONDAY + timedelta(weeks=WEEKS) - timedelta(days=1)
    quiet = sum(
        1
        for p in org.people
        if (end - max(outcome.touch.get(p.member_id, date.min), org.joins[p.member_id])).days
        >= 7 * QUIET_WEEKS
    )
    measured, below_3, below_5, partners = 0, 0, 0, []
    for person in org.people:
        if not person.new_hire or (end - person.start_date).days < NEW_HIRE_DAYS:
            continue
        cutoff = person.start_date + timedelta(days=NEW_HIRE_DAYS)
        met = {
            other
            for edge, day in outcome.edges.items()
            if person.member_id in edge and day <= cutoff
            for other in edge - {person.member_id}
        }
        measured += 1
        below_3 += len(met) < 3
        below_5 += len(met) < 5
        partners.append(len(met))
    team_of = {p.member_id: p.team for p in org.people}
    linked = {frozenset(team_of[m] for m in edge) for edge in outcome.edges}
    teams = sorted(set(team_of.values()))
    graph = nx.Graph()
    graph.add_nodes_from(team_of)
    graph.add_edges_from(tuple(edge) for edge in outcome.edges)
    pulse = _pulse_figures(outcome)
    return Figures(
        quiet=quiet,
        new_hires_measured=measured,
        new_hires_below_3=below_3,
        new_hires_below_5=below_5,
        new_hire_connections_mean=round(sum(partners) / len(partners), 1) if partners else 0,
        team_pairs_without_link=sum(
            1 for a, b in combinations(teams, 2) if frozenset((a, b)) not in linked
        ),
        components=nx.number_connected_components(graph),
        pulse_first_week=pulse.first,
        pulse_last_week=pulse.last,
        pulse_last_4_weeks=pulse.last_4,
        pulse_lowest_team_last_week=pulse.lowest_team,
        pulse_teams_below_5_answers_last_week=pulse.teams_below_5,
    )


@dataclass(frozen=True)
class PulseFigures:
    first: float | None
    last: float | None
    last_4: float | None
    lowest_team: float | None
    teams_below_5: int


def _pulse_figures(outcome: Outcome) -> PulseFigures:
    """The pulse as insights show it: a mean only for groups of 5 answers or more."""
    last = WEEKS - 1
    team_figures: dict[str, PulseFigure] = {}
    for team in sorted({team for team, _ in outcome.pulse[last]}):
        team_figures[team] = pulse_figure(s for t, s in outcome.pulse[last] if t == team)
    shown = [f.mean for f in team_figures.values() if f.mean is not None]
    return PulseFigures(
        first=pulse_figure(s for _, s in outcome.pulse[0]).mean,
        last=pulse_figure(s for _, s in outcome.pulse[last]).mean,
        last_4=pulse_figure(
            s for week in range(last - 3, last + 1) for _, s in outcome.pulse[week]
        ).mean,
        lowest_team=min(shown) if shown else None,
        teams_below_5=sum(not f.shown for f in team_figures.values()),
    )


ROWS = (
    ("members without a touchpoint in 4 weeks", "quiet"),
    ("new hires measured (30 days in)", "new_hires_measured"),
    ("... with fewer than 3 connections at 30 days", "new_hires_below_3"),
    ("... with fewer than 5 connections at 30 days", "new_hires_below_5"),
    ("... mean connections at 30 days", "new_hire_connections_mean"),
    ("pairs of teams without a direct connection", "team_pairs_without_link"),
    ("connected components", "components"),
    ("pulse (mean 1-5), week 1", "pulse_first_week"),
    ("pulse (mean 1-5), week 12", "pulse_last_week"),
    ("pulse (mean 1-5), weeks 9-12", "pulse_last_4_weeks"),
    ("... lowest team, week 12", "pulse_lowest_team_last_week"),
    ("... teams with fewer than 5 answers, week 12", "pulse_teams_below_5_answers_last_week"),
)


def main() -> None:
    org = organisation()
    acting = figures(org, simulate(org, ACTING))
    passive = figures(org, simulate(org, NOT_ACTING))
    print(f"{MEMBERS} people, {TEAMS} teams, {WEEKS} weeks, seed {SEED}")
    print(f"{'':48}{'without acting':>16}{'acting':>10}")
    for label, name in ROWS:
        print(f"{label:48}{_cell(getattr(passive, name)):>16}{_cell(getattr(acting, name)):>10}")


def _cell(value: float | int | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if isinstance(value, float) and value < 10 else str(value)


if __name__ == "__main__":
    main()
