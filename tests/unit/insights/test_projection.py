"""The insights projection on small hand-built histories: every figure, exactly."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from schemas import CloudEvent
from schemas.members import MemberLeft, MemberPaused
from services.insights.domain import Insights, project
from tests.factories import ORG, OTHER_ORG, T0
from tests.unit.insights.support import (
    WEEK,
    at,
    buddy,
    feedback,
    held,
    joined,
    matched,
    requested,
    scheduled,
    tick,
)

R1, R2 = T0 + WEEK, T0 + 2 * WEEK


def office() -> list[CloudEvent[Any]]:
    """Two teams: a1, a2, a3 in A and b1, b2 in B; two rounds, a ritual of A, a buddy."""
    return [
        joined("a1", "A"),
        joined("a2", "A"),
        joined("a3", "A"),
        joined("b1", "B"),
        joined("b2", "B"),
        requested("r1", R1),
        matched("r1", "g1", ("a1", "b1"), R1),
        matched("r1", "g2", ("a2", "b2"), R1),
        feedback("r1", "g1", "a1", True, R1 + timedelta(days=2)),
        feedback("r1", "g2", "a2", False, R1 + timedelta(days=2)),
        feedback("r1", "g2", "b2", False, R1 + timedelta(days=2)),
        at(MemberPaused(member_id="a3"), R2 - timedelta(days=1)),
        requested("r2", R2),
        matched("r2", "g1", ("a1", "a2"), R2),
        scheduled("drinks", "A"),
        held("drinks", R2 + timedelta(days=4), ("a1", "a2")),
        tick(R2 + timedelta(days=6)),
    ]


def test_participation_per_round_and_overall() -> None:
    report = project(office(), ORG)
    first, second = report.rounds
    assert (first.round_id, first.active, first.participants) == ("r1", 5, 4)
    assert first.participation == 4 / 5
    assert (second.active, second.participants) == (4, 2)  # a3 is paused
    assert report.coffee.participation == 6 / 9
    assert report.coffee.reach == 1.0  # a1, a2, b1, b2 (active now) were all matched once


def test_share_of_coffees_that_happened_counts_groups_with_feedback() -> None:
    coffee = project(office(), ORG).coffee
    assert (coffee.groups, coffee.groups_with_feedback, coffee.groups_met) == (3, 2, 1)
    assert coffee.happened_share == 1 / 2


def test_a_coffee_everyone_says_did_not_happen_is_no_connection() -> None:
    report = project(office(), ORG)
    edges = {(e.a, e.b) for e in project(office(), ORG, team="A").graph.edges}
    assert ("a2", "b2") not in edges
    assert report.rounds[0].pairs == 1
    assert report.rounds[0].cross_team_share == 1.0


def test_colleagues_met_and_cross_team_share() -> None:
    connections = project(office(), ORG).connections
    # a1-b1 (coffee), a1-a2 (coffee and ritual): 2 edges, one across teams.
    assert connections.connections == 2
    assert connections.by_kind == {"coffee": 2, "buddy": 0, "ritual": 1}
    assert connections.cross_team == 1
    assert connections.cross_team_share == 1 / 2
    # active: a1 (2), a2 (1), b1 (1), b2 (0)
    assert connections.colleagues_met_mean == 1.0
    assert connections.colleagues_met_median == 1.0
    assert connections.component_sizes == (3, 1, 1)  # a1-a2-b1, a3, b2
    assert connections.isolated == 2


def test_ritual_attendance_against_the_active_members_of_its_team() -> None:
    report = project(office(), ORG)
    (ritual,) = report.rituals
    assert (ritual.team, ritual.occurrences, ritual.attended, ritual.expected) == ("A", 1, 2, 2)
    assert report.ritual_attendance == 1.0  # a3 was paused: not expected


def test_held_occurrences_of_an_unknown_ritual_only_connect_people() -> None:
    events = [joined("a1", "A"), joined("a2", "A"), held("ghost", R1, ("a1", "a2")), tick(R1)]
    report = project(events, ORG)
    assert report.rituals == ()
    assert report.ritual_attendance is None
    assert report.connections.by_kind["ritual"] == 1


def test_bridges_and_connectors_between_teams() -> None:
    # A: a1-a2, B: b1-b2; only a2-b1 links the teams: a bridge edge, a2 and b1 connectors.
    events = [
        *(joined(m, m[0].upper()) for m in ("a1", "a2", "b1", "b2")),
        matched("r1", "g1", ("a1", "a2"), R1),
        matched("r1", "g2", ("b1", "b2"), R1),
        matched("r2", "g1", ("a2", "b1"), R2),
        tick(R2),
    ]
    (pair,) = project(events, ORG).team_pairs
    assert (pair.teams, pair.connections, pair.bridges, pair.connectors) == (("A", "B"), 1, 1, 2)
    team_view = project(events, ORG, team="A")
    assert [(c.member_id, c.links) for c in team_view.connectors] == [
        ("a2", (("A", "B"),)),
        ("b1", (("A", "B"),)),
    ]
    assert project(events, ORG).connectors == ()  # no names in the organisation view


def test_buddies_connect_and_last_touchpoint_is_the_latest_moment() -> None:
    events = [joined("a1", "A"), joined("n1", "A", new_hire=True), buddy("n1", "a1", R1), tick(R2)]
    rows = {m.member_id: m for m in project(events, ORG, team="A").members}
    assert rows["n1"].connections == 1
    assert (rows["n1"].last_touchpoint, rows["n1"].last_kind) == (R1, "buddy")


def test_now_is_the_latest_clock_tick_not_the_latest_event() -> None:
    events = [joined("a1", "A", time=R2), tick(R1)]
    assert project(events, ORG).now == R1
    assert project([joined("a1", "A", time=R2)], ORG).now == R2
    assert project([], ORG).now is None


def test_quiet_members_are_on_the_watchlist() -> None:
    events = [
        joined("a1", "A"),
        joined("a2", "A"),
        joined("a3", "A", start_date=(T0 + 3 * WEEK).date()),
        matched("r1", "g1", ("a1", "a2"), T0),
        held("x", T0 + 2 * WEEK, ("a1",)),
        tick(T0 + 6 * WEEK),
    ]
    quiet = {e.member_id for e in project(events, ORG, team="A").watchlist.people}
    # a2: last coffee 6 weeks ago; a1: a ritual 4 weeks ago; a3 started 3 weeks ago.
    assert quiet == {"a1", "a2"}
    assert {
        e.member_id for e in project(events, ORG, team="A", quiet_weeks=5).watchlist.people
    } == {"a2"}


def test_paused_and_departed_members_are_not_watched() -> None:
    events = [
        joined("a1", "A"),
        joined("a2", "A"),
        at(MemberPaused(member_id="a1"), T0),
        at(MemberLeft(member_id="a2"), T0),
        tick(T0 + 8 * WEEK),
    ]
    assert project(events, ORG, team="A").watchlist.people == ()


def test_new_hires_with_few_connections_after_thirty_days() -> None:
    start = T0.date()
    events = [
        *(joined(m, "A") for m in ("a1", "a2", "a3")),
        joined("n1", "A", new_hire=True, start_date=start),
        joined("n2", "A", new_hire=True, start_date=start),
        joined("n3", "A", new_hire=True, start_date=start + timedelta(days=20)),
        buddy("n1", "a1", T0),
        buddy("n2", "a1", T0),
        held("x", T0 + 4 * WEEK, ("n2", "a1", "a2", "a3")),
        held("x", T0 + 3 * WEEK, ("n1", "a1")),
        tick(T0 + timedelta(days=30)),
    ]
    watch = project(events, ORG, team="A").watchlist
    flagged = [e.member_id for e in watch.people if e.reason == "new_hire_few_connections"]
    assert flagged == ["n1"]  # n2 has 3 connections; n3 started only 10 days ago
    assert watch.people[0].detail == "1 connection(s) after 30 days"


def test_the_organisation_view_holds_counts_per_team_and_no_names() -> None:
    report = project([*office(), tick(R2 + 10 * WEEK, 2)], ORG)
    assert report.view == "organisation"
    assert report.watchlist.people == ()
    assert [(c.team, c.active, c.quiet) for c in report.watchlist.counts] == [
        ("A", 2, 2),
        ("B", 2, 2),
    ]
    assert report.members == ()
    assert all(n.label is None for n in report.graph.nodes)
    dumped = report.model_dump_json()
    for secret in ("Member a1", "@example.com", '"a1"'):
        assert secret not in dumped


def test_the_team_view_names_its_members_only() -> None:
    report = project(office(), ORG, team="B")
    assert report.view == "team"
    assert [m.name for m in report.members] == ["Member b1", "Member b2"]
    labels = {n.key: n.label for n in report.graph.nodes}
    assert labels == {"a1": None, "b1": "Member b1", "b2": "Member b2"}
    assert "@example.com" not in report.model_dump_json()
    assert [(c.team, c.active) for c in report.watchlist.counts] == [("B", 2)]


def test_team_rounds_count_the_team_only() -> None:
    first, _ = project(office(), ORG, team="B").rounds
    assert (first.active, first.participants) == (2, 2)


def test_round_scope_follows_the_requested_team() -> None:
    events = [
        joined("a1", "A"),
        joined("a2", "A"),
        joined("b1", "B"),
        requested("r1", R1, team="A"),
    ]
    events.append(matched("r1", "g1", ("a1", "a2"), R1))
    (round_,) = project(events, ORG).rounds
    assert (round_.active, round_.participants, round_.week_starting) == (2, 2, date(2025, 3, 10))


def _same(a: Insights, b: Insights) -> bool:
    return a.model_dump_json() == b.model_dump_json()


def test_order_of_equal_time_events_and_copies_do_not_matter() -> None:
    events = office()
    shuffled = events[:]
    random.Random(3).shuffle(shuffled)
    with_copies = shuffled + events[:7]
    for team in (None, "A"):
        reference = project(events, ORG, team=team)
        assert _same(reference, project(shuffled, ORG, team=team))
        assert _same(reference, project(with_copies, ORG, team=team))
    assert project(with_copies, ORG).events == len(events)


def test_equal_times_fold_members_before_what_depends_on_them() -> None:
    events = [matched("r1", "g1", ("a1", "b1"), T0), joined("b1", "B"), joined("a1", "A")]
    for order in (events, events[::-1]):
        assert project(order, ORG).rounds[0].active == 2


def test_other_organisations_are_ignored() -> None:
    other = [e.model_copy(update={"orgid": OTHER_ORG}) for e in office()]
    assert _same(project(office(), ORG), project(office() + other, ORG))
    assert project(other, ORG).events == 0
