"""Insights figures that outside testing found wrong, each compared with an independent reading
of the same history by the docs' definitions (``reference.Reference``)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from itertools import combinations
from typing import Any

from schemas import CloudEvent
from schemas.members import MemberPaused
from services.insights.domain import project
from services.insights.render import text_report
from tests.factories import ORG, T0
from tests.unit.insights.reference import Reference
from tests.unit.insights.support import (
    WEEK,
    at,
    feedback,
    held,
    joined,
    matched,
    requested,
    scheduled,
    tick,
)

R1 = T0 + WEEK
DAY = timedelta(days=1)


def outsider_says_met() -> list[CloudEvent[Any]]:
    """a1 and b1 both say their coffee did not happen; a2, who was not in it, says it did."""
    return [
        joined("a1", "A"),
        joined("a2", "A"),
        joined("b1", "B"),
        joined("c1", "C"),
        requested("r1", R1),
        matched("r1", "g1", ("a1", "b1"), R1),
        feedback("r1", "g1", "a1", False, R1 + DAY),
        feedback("r1", "g1", "b1", False, R1 + DAY),
        feedback("r1", "g1", "a2", True, R1 + 2 * DAY),
        tick(R1 + WEEK),
    ]


def test_feedback_from_outside_the_group_is_ignored() -> None:
    events = outsider_says_met()
    reference = Reference(events)
    report = project(events, ORG)
    assert reference.happened_share() == 0.0
    assert report.coffee.happened_share == reference.happened_share()
    assert (report.coffee.groups_with_feedback, report.coffee.groups_met) == (1, 0)
    assert report.connections.connections == len(reference.edges()) == 0
    assert report.connections.components == len(reference.components()) == 4
    rows = {m.member_id: m for m in project(events, ORG, team="A").members}
    assert rows["a1"].connections == reference.degree("a1") == 0


def test_an_outsider_cannot_undo_a_coffee_either() -> None:
    # Only c1, who was not in the group, says it did not happen: the group has no feedback.
    events = [
        *outsider_says_met()[:6],
        feedback("r1", "g1", "c1", False, R1 + DAY),
        tick(R1 + WEEK),
    ]
    reference = Reference(events)
    report = project(events, ORG)
    assert report.coffee.groups_with_feedback == len(reference.answers()) == 0
    assert report.coffee.happened_share is reference.happened_share() is None
    assert report.connections.connections == len(reference.edges()) == 1


def ended_pause() -> list[CloudEvent[Any]]:
    """a1's pause ended before now, a2's goes on after now, a3 paused without an end."""
    now = T0 + 3 * WEEK
    return [
        joined("a1", "A"),
        joined("a2", "A"),
        joined("a3", "A"),
        joined("b1", "B"),
        at(MemberPaused(member_id="a1", until=(T0 + WEEK).date()), T0 + DAY),
        at(MemberPaused(member_id="a2", until=(now + WEEK).date()), T0 + DAY),
        at(MemberPaused(member_id="a3"), T0 + DAY),
        requested("r1", T0 + 2 * WEEK),
        matched("r1", "g1", ("a1", "b1"), T0 + 2 * WEEK),
        tick(now),
    ]


def test_a_pause_that_has_ended_counts_as_active_everywhere() -> None:
    events = ended_pause()
    reference = Reference(events)
    assert reference.status["a1"] == "active"
    statuses = Counter(reference.status.values())
    report = project(events, ORG)
    assert report.members_by_status == {
        s: statuses[s] for s in ("active", "paused", "opted_out", "left")
    }
    assert "Members: 2 active, 2 paused" in text_report(report)
    assert {c.team: c.active for c in report.watchlist.counts} == {
        team: sum(reference.team[m] == team for m in reference.active) for team in ("A", "B")
    }
    assert report.coffee.reach == len(reference.active & {"a1", "b1"}) / len(reference.active)
    team = project(events, ORG, team="A")
    assert {m.member_id: m.status for m in team.members} == {
        m: reference.status[m] for m in ("a1", "a2", "a3")
    }
    assert team.members_by_status["paused"] == 2


def future_meetings() -> list[CloudEvent[Any]]:
    """a1 and a2 met six weeks before now; a coffee of a1 and b1 and a ritual of a2 are after
    now (matched and recorded already)."""
    now = T0 + 6 * WEEK
    return [
        joined("a1", "A"),
        joined("a2", "A"),
        joined("b1", "B"),
        matched("r1", "g1", ("a1", "a2"), T0),
        scheduled("drinks", "A"),
        requested("r2", now - DAY),
        matched("r2", "g1", ("a1", "b1"), now + 2 * DAY),
        held("drinks", now + 3 * DAY, ("a2",)),
        tick(now),
    ]


def test_meetings_after_now_are_upcoming_not_touchpoints() -> None:
    events = future_meetings()
    reference = Reference(events)
    assert reference.quiet() == {"a1", "a2", "b1"}
    team = project(events, ORG, team="A")
    assert {e.member_id for e in team.watchlist.people if e.reason == "quiet"} == {
        m for m in reference.quiet() if reference.team[m] == "A"
    }
    organisation = project(events, ORG)
    assert {c.team: c.quiet for c in organisation.watchlist.counts} == {
        t: sum(reference.team[m] == t for m in reference.quiet()) for t in ("A", "B")
    }
    rows = {m.member_id: m for m in team.members}
    for member in ("a1", "a2"):
        assert rows[member].last_touchpoint == reference.last_touchpoint(member) == T0
        assert rows[member].connections == reference.degree(member)
    assert organisation.connections.connections == len(reference.edges()) == 1
    assert (rows["a1"].next_touchpoint, rows["a1"].next_kind) == (T0 + 6 * WEEK + 2 * DAY, "coffee")
    assert (rows["a2"].next_touchpoint, rows["a2"].next_kind) == (T0 + 6 * WEEK + 3 * DAY, "ritual")
    (drinks,) = team.rituals
    assert drinks.occurrences == 0  # recorded, but not held yet
    assert "upcoming" in text_report(team)


def teams_linked_through_others() -> list[CloudEvent[Any]]:
    """A, B, C in a cycle a1-b1-c1-b2-a1 (A and C linked through two people of B); D hangs on
    c1 alone; e1 of E met nobody."""
    people = [("a1", "A"), ("b1", "B"), ("b2", "B"), ("c1", "C"), ("d1", "D"), ("e1", "E")]
    groups = [("a1", "b1"), ("b1", "c1"), ("c1", "b2"), ("b2", "a1"), ("c1", "d1")]
    return [
        *(joined(m, team) for m, team in people),
        *(matched("r1", f"g{n}", g, R1) for n, g in enumerate(groups)),
        tick(R1 + WEEK),
    ]


def fragile_pairs(reference: Reference) -> set[tuple[str, str]]:
    """Team pairs whose members (other than the one removed) lose every path without one edge
    or without one person: by brute force."""
    edges = reference.edges()

    def path(x: str, y: str, through: set[frozenset[str]], ends_but: str = "") -> bool:
        """A path along ``through`` from a member of x to one of y (``ends_but`` not an end)."""
        ends = {m for m in reference.present if m != ends_but}
        seen = {m for m in ends if reference.team[m] == x}
        todo = list(seen)
        while todo:
            node = todo.pop()
            for other in {m for edge in through if node in edge for m in edge} - seen:
                seen.add(other)
                todo.append(other)
        return any(reference.team[m] == y for m in seen & ends)

    fragile = set()
    for x, y in reference.path_linked_team_pairs():
        by_edge = any(not path(x, y, edges - {edge}) for edge in edges)
        by_person = any(
            path(x, y, edges, p) and not path(x, y, {e for e in edges if p not in e}, p)
            for p in reference.present
        )
        if by_edge or by_person:
            fragile.add((x, y))
    return fragile


def test_team_pairs_are_counted_by_direct_links_and_by_paths_each_said() -> None:
    events = teams_linked_through_others()
    reference = Reference(events)
    direct = reference.directly_connected_team_pairs()
    linked = reference.path_linked_team_pairs()
    fragile = fragile_pairs(reference)
    assert (len(direct), len(linked), len(fragile)) == (3, 6, 3)  # the history's shape
    report = project(events, ORG)
    pairs = {p.teams: p for p in report.team_pairs}
    assert set(pairs) == set(combinations(reference.teams(), 2))
    assert {t for t, p in pairs.items() if p.connections} == direct
    assert {t for t, p in pairs.items() if p.linked} == linked
    assert {t for t, p in pairs.items() if p.bridges or p.connectors} == fragile
    assert (
        "10 pair(s) of teams: 3 with a direct connection; 6 linked by a path of connections, "
        "3 of them through a single link or person; 4 not linked"
    ) in text_report(report)
