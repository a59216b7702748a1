"""``project``: the whole history of an organisation → the insights report (see
docs/insights.md for the exact definition of every figure)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from itertools import combinations
from typing import Any

import networkx as nx

from schemas import CloudEvent
from services.common.domain.directory import Member, MemberStatus
from services.common.domain.pulse import MIN_ANSWERS, PulseFigure, pulse_figure
from services.common.domain.working_hours import week_monday
from services.insights.domain.graph import (
    TeamPairKey,
    Touchpoint,
    connection_graph,
    last_touchpoints,
    linked_pairs,
    next_touchpoints,
    separating_edges,
    separating_people,
    team_of,
)
from services.insights.domain.history import Group, History, Occurrence, Round, fold
from services.insights.domain.model import (
    AttendanceWeek,
    CoffeeFigures,
    ConnectionFigures,
    Connector,
    Graph,
    GraphEdge,
    GraphNode,
    Insights,
    MemberRow,
    PulseWeek,
    RitualFigure,
    RoundFigure,
    TeamPair,
    TeamWatchCounts,
    WatchEntry,
    Watchlist,
    WatchReason,
)

NEW_HIRE_DAYS = 30


def project(
    events: Iterable[CloudEvent[Any]],
    organisation: str,
    *,
    team: str | None = None,
    quiet_weeks: int = 4,
    min_new_hire_connections: int = 3,
) -> Insights:
    """The insights of an organisation (``team`` given: of one team, with names, for its lead).
    Deterministic: the same history, in any order and with repeated events, gives the same
    report; "now" is the history's latest clock tick, never the wall clock."""
    history = fold(events, organisation)
    report = _Report(history, team)
    watchlist = report.watchlist(quiet_weeks, min_new_hire_connections)
    rituals = report.rituals()
    rounds = report.rounds()
    attended, expected = sum(r.attended for r in rituals), sum(r.expected for r in rituals)
    return Insights(
        organisation=organisation,
        team=team,
        view="organisation" if team is None else "team",
        now=history.now,
        events=history.events,
        members_by_status=report.members_by_status(),
        teams=report.teams,
        coffee=report.coffee(rounds),
        rounds=rounds,
        rituals=rituals,
        ritual_attendance=_share(attended, expected),
        attendance_weeks=report.attendance_weeks(),
        pulse=report.pulse(),
        connections=report.connections(),
        team_pairs=report.team_pairs(),
        connectors=report.connectors(),
        members=report.member_rows(),
        watchlist=watchlist,
        graph=report.graph_view(),
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class _Report:
    """The figures of one scope (the organisation, or one team) over a folded history."""

    def __init__(self, history: History, team: str | None) -> None:
        self.history = history
        self.team = team
        self.graph = connection_graph(history)
        self.touchpoints = last_touchpoints(history)
        self.next_touchpoints = next_touchpoints(history)
        self.separating_people = separating_people(self.graph)
        self.status = history.statuses()
        """Every member who had joined by now, and their status now: the one rule of every
        view (a pause that has ended is over)."""
        self.everyone = sorted(
            (
                m
                for m in history.directory.members(history.organisation)
                if m.member_id in self.status
            ),
            key=lambda m: m.member_id,
        )
        self.by_id = {m.member_id: m for m in self.everyone}
        present = [m for m in self.everyone if self.status[m.member_id] is not MemberStatus.LEFT]
        self.teams = tuple(sorted({m.profile.team for m in present}))
        self.scope = [m for m in present if self.in_scope(m.profile.team)]
        self.active = [m for m in self.scope if self.status[m.member_id] is MemberStatus.ACTIVE]
        self.counted_groups: dict[str, list[Group]] = {}
        """Each round's groups that count (a round's figures need only its own)."""
        for group in history.groups.values():
            if history.counted(group):
                self.counted_groups.setdefault(group.round_id, []).append(group)

    def in_scope(self, team: str | None) -> bool:
        return self.team is None or team == self.team

    def current_team(self, member_id: str) -> str | None:
        member = self.by_id.get(member_id)
        return None if member is None else member.profile.team

    def name(self, member_id: str) -> str:
        member = self.by_id.get(member_id)
        return member_id if member is None else member.profile.display_name

    def members_by_status(self) -> dict[str, int]:
        counts = Counter(
            self.status[m.member_id].value for m in self.everyone if self.in_scope(m.profile.team)
        )
        return {status.value: counts[status.value] for status in MemberStatus}

    # Coffee

    def _round_team(self, round_: Round, member_id: str) -> str | None:
        return round_.active.get(member_id) or self.current_team(member_id)

    def _round_figure(self, round_: Round) -> RoundFigure:
        active = {m for m, team in round_.active.items() if self.in_scope(team)}
        matched = {p for p in round_.participants if self.in_scope(self._round_team(round_, p))}
        pairs = cross = 0
        for group in self.counted_groups.get(round_.round_id, ()):
            for a, b in combinations(group.members, 2):
                team_a, team_b = self._round_team(round_, a), self._round_team(round_, b)
                if self.in_scope(team_a) or self.in_scope(team_b):
                    pairs += 1
                    cross += team_a != team_b
        everyone = active | matched
        return RoundFigure(
            round_id=round_.round_id,
            week_starting=round_.week_starting,
            active=len(everyone),
            participants=len(matched),
            participation=_share(len(matched), len(everyone)),
            pairs=pairs,
            cross_team_pairs=cross,
            cross_team_share=_share(cross, pairs),
        )

    def rounds(self) -> tuple[RoundFigure, ...]:
        ordered = sorted(self.history.rounds.values(), key=lambda r: (r.week_starting, r.round_id))
        return tuple(self._round_figure(r) for r in ordered)

    def coffee(self, rounds: Sequence[RoundFigure]) -> CoffeeFigures:
        ever_matched = set().union(*(r.participants for r in self.history.rounds.values()))
        groups = [
            group
            for _, group in sorted(self.history.groups.items())
            if any(self.in_scope(self.current_team(m)) for m in group.members)
        ]
        answered = [answers for g in groups if (answers := self.history.answers(g))]
        met = sum(any(answers.values()) for answers in answered)
        return CoffeeFigures(
            rounds=len(rounds),
            participation=_share(
                sum(r.participants for r in rounds), sum(r.active for r in rounds)
            ),
            reach=_share(sum(m.member_id in ever_matched for m in self.active), len(self.active)),
            groups=len(groups),
            groups_with_feedback=len(answered),
            groups_met=met,
            happened_share=_share(met, len(answered)),
        )

    # Rituals

    def rituals(self) -> tuple[RitualFigure, ...]:
        held: dict[str, list[Occurrence]] = {}
        for (ritual_id, _), occurrence in self.history.occurrences.items():
            # The ritual's team was known, and the occurrence has taken place.
            if occurrence.expected is not None and self.history.happened(occurrence.start):
                held.setdefault(ritual_id, []).append(occurrence)
        figures = []
        for ritual_id, ritual in sorted(self.history.rituals.items()):
            if not self.in_scope(ritual.team):
                continue
            occurrences = held.get(ritual_id, [])
            attended = sum(len(set(o.attendees) & set(o.expected or {})) for o in occurrences)
            expected = sum(len(o.expected or {}) for o in occurrences)
            figures.append(
                RitualFigure(
                    ritual_id=ritual_id,
                    title=ritual.title,
                    team=ritual.team,
                    occurrences=len(occurrences),
                    attended=attended,
                    expected=expected,
                    attendance=_share(attended, expected),
                )
            )
        return tuple(figures)

    def _held_in_scope(self) -> list[Occurrence]:
        return [
            o
            for o in self.history.occurrences.values()
            if o.expected is not None
            and self.history.happened(o.start)
            and o.ritual_id in self.history.rituals
            and self.in_scope(self.history.rituals[o.ritual_id].team)
        ]

    def attendance_weeks(self) -> tuple[AttendanceWeek, ...]:
        weeks: dict[Any, list[Occurrence]] = {}
        for occurrence in self._held_in_scope():
            weeks.setdefault(week_monday(occurrence.start.date()), []).append(occurrence)
        figures = []
        for week, occurrences in sorted(weeks.items()):
            attended = sum(len(set(o.attendees) & set(o.expected or {})) for o in occurrences)
            expected = sum(len(o.expected or {}) for o in occurrences)
            figures.append(
                AttendanceWeek(
                    week_starting=week,
                    occurrences=len(occurrences),
                    attended=attended,
                    expected=expected,
                    attendance=_share(attended, expected),
                )
            )
        return tuple(figures)

    # The pulse

    def pulse(self) -> tuple[PulseWeek, ...]:
        """Per week, the scope's pulse and (organisation view) each team's; a mean only from 5
        answers on. The scope's mean is withheld too when the teams without a figure hold 1 to
        4 answers: with the teams' means it would give away theirs."""
        figures = []
        for week, answers in sorted(self.history.pulse.items()):
            in_scope = [(team, score) for team, score in answers.values() if self.in_scope(team)]
            teams: list[tuple[str, PulseFigure]] = []
            if self.team is None:
                names = sorted({team for team, _ in in_scope})
                teams = [(t, pulse_figure(s for team, s in in_scope if team == t)) for t in names]
            whole = pulse_figure(score for _, score in in_scope)
            hidden = sum(figure.answers for _, figure in teams if not figure.shown)
            if 0 < hidden < MIN_ANSWERS:
                whole = PulseFigure(whole.answers, None)
            for team, figure in [(None, whole), *teams]:
                figures.append(
                    PulseWeek(
                        week_starting=week,
                        team=team,
                        answers=figure.answers,
                        mean=figure.mean,
                        shown=figure.shown,
                    )
                )
        return tuple(figures)

    # The graph

    def _scope_edges(self) -> list[tuple[str, str]]:
        nodes = {m.member_id for m in self.scope}
        return sorted(
            (a, b) if a < b else (b, a) for a, b in self.graph.edges() if a in nodes or b in nodes
        )

    def connections(self) -> ConnectionFigures:
        edges = self._scope_edges()
        kinds = Counter(kind for a, b in edges for kind in self.graph.edges[a, b]["kinds"])
        cross = sum(team_of(self.graph, a) != team_of(self.graph, b) for a, b in edges)
        degrees = [self.graph.degree(m.member_id) for m in self.active]
        nodes = [m.member_id for m in self.scope]
        sizes = sorted(
            (len(c) for c in nx.connected_components(self.graph.subgraph(nodes))), reverse=True
        )
        return ConnectionFigures(
            members=len(nodes),
            connections=len(edges),
            by_kind={kind: kinds[kind] for kind in ("coffee", "buddy", "ritual")},
            colleagues_met_mean=statistics.fmean(degrees) if degrees else None,
            colleagues_met_median=float(statistics.median(degrees)) if degrees else None,
            cross_team=cross,
            cross_team_share=_share(cross, len(edges)),
            components=len(sizes),
            component_sizes=tuple(sizes),
            isolated=sum(self.graph.degree(n) == 0 for n in nodes),
        )

    def _in_pair(self, pair: TeamPairKey) -> bool:
        return self.team is None or self.team in pair

    def team_pairs(self) -> tuple[TeamPair, ...]:
        edges: Counter[TeamPairKey] = Counter()
        for a, b in self.graph.edges():
            teams = sorted((team_of(self.graph, a), team_of(self.graph, b)))
            if teams[0] != teams[1]:
                edges[(teams[0], teams[1])] += 1
        linked = linked_pairs(self.graph, nx.connected_components(self.graph))
        bridges = Counter(p for lost in separating_edges(self.graph).values() for p in lost)
        people = Counter(p for lost in self.separating_people.values() for p in lost)
        return tuple(
            TeamPair(
                teams=p,
                connections=edges[p],
                linked=p in linked,
                bridges=bridges[p],
                connectors=people[p],
            )
            for p in combinations(self.teams, 2)
            if self._in_pair(p)
        )

    def connectors(self) -> tuple[Connector, ...]:
        if self.team is None:
            return ()
        return tuple(
            Connector(
                member_id=person,
                name=self.name(person),
                team=team_of(self.graph, person),
                links=tuple(sorted(lost)),
            )
            for person, lost in sorted(self.separating_people.items())
            if team_of(self.graph, person) == self.team or any(map(self._in_pair, lost))
        )

    # People (team view only)

    def member_rows(self) -> tuple[MemberRow, ...]:
        if self.team is None:
            return ()
        rows = []
        for member in sorted(self.scope, key=lambda m: (m.profile.display_name, m.member_id)):
            neighbours = list(self.graph.neighbors(member.member_id))
            touch = self.touchpoints.get(member.member_id)
            upcoming = self.next_touchpoints.get(member.member_id)
            rows.append(
                MemberRow(
                    member_id=member.member_id,
                    name=member.profile.display_name,
                    status=self.status[member.member_id].value,
                    new_hire=member.profile.new_hire,
                    connections=len(neighbours),
                    cross_team=sum(team_of(self.graph, n) != self.team for n in neighbours),
                    last_touchpoint=None if touch is None else touch.at,
                    last_kind=None if touch is None else touch.kind,
                    next_touchpoint=None if upcoming is None else upcoming.at,
                    next_kind=None if upcoming is None else upcoming.kind,
                )
            )
        return tuple(rows)

    def watchlist(self, quiet_weeks: int, min_connections: int) -> Watchlist:
        entries: list[tuple[str, WatchEntry]] = []
        now = self.history.now
        for member in self.active:
            assert now is not None  # members are active at a moment only when there is one
            touch = self.touchpoints.get(member.member_id)
            if _quiet(member, touch, now, quiet_weeks):
                since = "never" if touch is None else f"since {touch.at.date().isoformat()}"
                entries.append((member.profile.team, self._entry(member, "quiet", since)))
            days = (now.date() - member.profile.start_date).days
            degree = self.graph.degree(member.member_id)
            if member.profile.new_hire and days >= NEW_HIRE_DAYS and degree < min_connections:
                detail = f"{degree} connection(s) after {days} days"
                entries.append(
                    (member.profile.team, self._entry(member, "new_hire_few_connections", detail))
                )
        teams = self.teams if self.team is None else (self.team,)
        counts = tuple(
            TeamWatchCounts(
                team=team,
                active=sum(m.profile.team == team for m in self.active),
                quiet=sum(t == team and e.reason == "quiet" for t, e in entries),
                new_hires_few_connections=sum(
                    t == team and e.reason == "new_hire_few_connections" for t, e in entries
                ),
            )
            for team in teams
        )
        people = () if self.team is None else tuple(e for _, e in entries)
        return Watchlist(
            quiet_weeks=quiet_weeks,
            min_new_hire_connections=min_connections,
            new_hire_days=NEW_HIRE_DAYS,
            counts=counts,
            people=tuple(sorted(people, key=lambda e: (e.reason, e.name, e.member_id))),
        )

    def _entry(self, member: Member, reason: WatchReason, detail: str) -> WatchEntry:
        return WatchEntry(
            member_id=member.member_id,
            name=member.profile.display_name,
            reason=reason,
            detail=detail,
        )

    def graph_view(self) -> Graph:
        if self.team is None:
            nodes = sorted(self.graph.nodes)
            keys = {node: f"n{index + 1}" for index, node in enumerate(nodes)}
            edges = sorted(tuple(sorted(e)) for e in self.graph.edges())
        else:
            own = {m.member_id for m in self.scope}
            nodes = sorted(own | {n for m in own for n in self.graph.neighbors(m)})
            keys = {node: node for node in nodes}
            edges = self._scope_edges()
            own_labels = {m.member_id: m.profile.display_name for m in self.scope}
        return Graph(
            nodes=tuple(
                GraphNode(
                    key=keys[node],
                    team=team_of(self.graph, node),
                    label=None if self.team is None else own_labels.get(node),
                )
                for node in nodes
            ),
            edges=tuple(
                GraphEdge(
                    a=keys[a],
                    b=keys[b],
                    kinds=self.graph.edges[a, b]["kinds"],
                    cross_team=team_of(self.graph, a) != team_of(self.graph, b),
                )
                for a, b in edges
            ),
        )


def _quiet(member: Member, touch: Touchpoint | None, now: datetime, weeks: int) -> bool:
    """No social touchpoint for ``weeks`` weeks, counted from the later of the member's start
    (join, first working day) and their last touchpoint."""
    started = max(member.joined_at, datetime.combine(member.profile.start_date, time(0), UTC))
    since = started if touch is None else max(started, touch.at)
    return now - since >= timedelta(weeks=weeks)
