"""The connection graph: who met whom through coffees, buddies and rituals, and what holds the
teams together (bridge edges and articulation people whose removal separates two teams)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

import networkx as nx

from services.common.domain.directory import MemberStatus
from services.insights.domain.history import History
from services.insights.domain.model import ConnectionKind

TeamPairKey = tuple[str, str]


@dataclass(frozen=True)
class Touchpoint:
    at: datetime
    kind: ConnectionKind


def _meetings(history: History) -> Iterator[tuple[tuple[str, ...], datetime, ConnectionKind]]:
    """Every social moment, past or planned: the people in it, when, and through what. Coffees
    count at their slot unless all their feedback says they did not happen; rituals at the
    occurrence."""
    for key in sorted(history.groups):
        group = history.groups[key]
        if history.counted(group):
            yield group.members, group.slot_start, "coffee"
    for link in history.buddies:
        yield tuple(sorted((link.new_hire_id, link.buddy_id))), link.at, "buddy"
    for ritual_key in sorted(history.occurrences):
        occurrence = history.occurrences[ritual_key]
        yield occurrence.attendees, occurrence.start, "ritual"


def encounters(history: History) -> Iterator[tuple[tuple[str, ...], datetime, ConnectionKind]]:
    """The social moments that have taken place (at or before now): only they connect people
    and count as touchpoints."""
    return (m for m in _meetings(history) if history.happened(m[1]))


def upcoming(history: History) -> Iterator[tuple[tuple[str, ...], datetime, ConnectionKind]]:
    """The social moments after now (a coffee slot later this week): not met yet."""
    return (m for m in _meetings(history) if not history.happened(m[1]))


def last_touchpoints(history: History) -> dict[str, Touchpoint]:
    """Each member's latest social moment up to now (at equal times, the first kind in
    encounter order)."""
    latest: dict[str, Touchpoint] = {}
    for people, at, kind in encounters(history):
        for person in people:
            known = latest.get(person)
            if known is None or at > known.at:
                latest[person] = Touchpoint(at, kind)
    return latest


def next_touchpoints(history: History) -> dict[str, Touchpoint]:
    """Each member's next social moment after now, if one is planned or recorded."""
    following: dict[str, Touchpoint] = {}
    for people, at, kind in upcoming(history):
        for person in people:
            known = following.get(person)
            if known is None or at < known.at:
                following[person] = Touchpoint(at, kind)
    return following


def connection_graph(history: History) -> nx.Graph:
    """Members who have not left by now (node attribute ``team``); an edge for each pair that
    met up to now, with the sorted ``kinds`` of their encounters."""
    graph = nx.Graph()
    statuses = history.statuses()
    for member in sorted(
        history.directory.members(history.organisation), key=lambda m: m.member_id
    ):
        if statuses.get(member.member_id, MemberStatus.LEFT) is not MemberStatus.LEFT:
            graph.add_node(member.member_id, team=member.profile.team)
    kinds: dict[tuple[str, str], set[ConnectionKind]] = {}
    for people, _, kind in encounters(history):
        present = sorted(p for p in set(people) if p in graph)
        for pair in combinations(present, 2):
            kinds.setdefault(pair, set()).add(kind)
    for (a, b), pair_kinds in sorted(kinds.items()):
        graph.add_edge(a, b, kinds=tuple(sorted(pair_kinds)))
    return graph


def team_of(graph: nx.Graph, node: str) -> str:
    team: str = graph.nodes[node]["team"]
    return team


def linked_pairs(graph: nx.Graph, parts: Iterable[Iterable[str]]) -> set[TeamPairKey]:
    """Pairs of teams with members in one of the parts (a path of connections joins them)."""
    linked: set[TeamPairKey] = set()
    for part in parts:
        teams = sorted({team_of(graph, node) for node in part})
        linked.update(combinations(teams, 2))
    return linked


def _lost_pairs(graph: nx.Graph, before: set[str], view: nx.Graph) -> set[TeamPairKey]:
    """Team pairs linked within ``before`` that no part of ``view`` links any more."""
    after = linked_pairs(graph, nx.connected_components(view))
    return linked_pairs(graph, [before]) - after


def separating_people(graph: nx.Graph) -> dict[str, set[TeamPairKey]]:
    """Articulation people without whom two teams (other members of them) would be apart."""
    found: dict[str, set[TeamPairKey]] = {}
    for person in sorted(nx.articulation_points(graph)):
        component = nx.node_connected_component(graph, person) - {person}
        lost = _lost_pairs(graph, component, graph.subgraph(component))
        if lost:
            found[person] = lost
    return found


def separating_edges(graph: nx.Graph) -> dict[tuple[str, str], set[TeamPairKey]]:
    """Bridge edges without which two teams would be apart."""
    found: dict[tuple[str, str], set[TeamPairKey]] = {}
    for a, b in sorted(tuple(sorted(edge)) for edge in nx.bridges(graph)):
        component = nx.node_connected_component(graph, a)
        view = nx.restricted_view(graph.subgraph(component), [], [(a, b)])  # both ways
        lost = _lost_pairs(graph, component, view)
        if lost:
            found[(a, b)] = lost
    return found
