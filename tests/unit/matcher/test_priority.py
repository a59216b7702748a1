"""Priority: the quiet, the new hires with few connections and the team pairs with few links are
matched first, decided from the matcher's own history, never against a hard constraint."""

from __future__ import annotations

from datetime import date, time, timedelta
from itertools import combinations

import networkx as nx
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from services.common.domain.working_hours import WeeklyHours
from services.matcher.domain.history import OrganisationHistory
from services.matcher.domain.policy import CoffeePolicy, Priority
from services.matcher.domain.pool import Candidate
from services.matcher.domain.priority import round_priority, standing, team_links
from services.matcher.domain.rounds import RoundRequest, plan_round
from tests.unit.matcher.support import WEEK, Matcher, members_of
from tests.unit.matcher.test_properties import SETTINGS, Person, can_talk, people

DAYS = ("mon", "tue", "wed", "thu", "fri")


def candidate(member_id: str, team: str, zone: str, languages: tuple[str, ...]) -> Candidate:
    return Candidate(
        member_id=member_id,
        team=team,
        department="Engineering",
        manager_id=None,
        hours=WeeklyHours(zone, time(9), time(17, 30), DAYS),
        languages=languages,
        interests=(),
        office=None,
        office_days=(),
        new_hire=False,
    )


def history_of(rounds: list[list[tuple[str, str]]]) -> OrganisationHistory:
    history = OrganisationHistory()
    for number, pairs in enumerate(rounds, start=1):
        for k, pair in enumerate(pairs):
            history.record_group(f"r{number}", f"r{number}-g{k}", pair)
    return history


def test_rounds_without_coffee_count_from_the_latest_coffee_that_happened() -> None:
    history = history_of([[("q", "f1")], [("r", "f2")], [("q", "f3")]])
    history.record_feedback("r3", "r3-g0", "q", met=False)

    assert standing(history, "q", ordinal=6) == standing(history, "q", 6)
    assert standing(history, "q", 6).rounds_without_coffee == 4  # rounds 2 to 5
    assert standing(history, "q", 6).people_met == 1  # the missed coffee is no connection
    assert standing(history, "r", 6).rounds_without_coffee == 3
    assert standing(history, "nobody", 1).rounds_without_coffee == 0


def test_team_links_count_coffees_that_happened_between_the_people_of_the_round() -> None:
    history = history_of([[("a", "b"), ("c", "d")], [("a", "c")]])
    history.record_feedback("r2", "r2-g0", "a", met=False)
    team_of = {"a": 0, "b": 1, "c": 0, "d": 1}

    links = team_links(history, team_of, teams=2)

    assert links.tolist() == [[0, 2], [2, 0]]
    assert team_links(history, {"a": 0, "b": 1}, teams=2).tolist() == [[0, 1], [1, 0]]


def test_points_go_to_the_quiet_the_new_hires_with_few_connections_and_unlinked_teams() -> None:
    history = history_of([[("q", "n")], [("a", "b")], [("a", "b")], [("a", "b")]])
    rules = Priority(quiet_rounds=3, new_hire_connections=2, team_pair_links=2)
    members = ["q", "n", "a", "b"]
    new_hire = np.array([False, True, False, False])
    teams = np.array([0, 1, 1, 2])

    priority = round_priority(members, new_hire, teams, history, ordinal=5, priority=rules)

    assert priority.quiet.tolist() == [True, True, False, False]
    assert priority.new_hire_few.tolist() == [False, True, False, False]
    assert priority.person_points.tolist() == [rules.quiet, rules.quiet + 40.0, 0.0, 0.0]
    assert priority.team_points[0, 1] == rules.few_team_links / 2  # one link of two
    assert priority.team_points[1, 2] == rules.few_team_links / 2  # a and b, met once as a pair
    assert priority.team_points[0, 2] == rules.few_team_links
    assert priority.team_points[1, 1] == 0.0


def contended(quiet: str) -> tuple[set[str], ...]:
    """x is the only partner both q and r can meet (they share no working hours): the one who
    has gone without a coffee for four rounds gets x; the other is left out."""
    other = "r" if quiet == "q" else "q"
    history = history_of(
        [[(quiet, "gone1"), (other, "gone2")]]
        + [[(other, f"gone{n}"), ("x", f"left{n}")] for n in range(3, 7)]
    )
    people = [
        candidate("q", "Sales", "Asia/Kolkata", ("en",)),
        candidate("r", "Sales", "America/New_York", ("en",)),
        candidate("x", "Platform", "Europe/London", ("en",)),
    ]
    request = RoundRequest("acme", "r6", WEEK, group_size=2, ordinal=6)
    plan = plan_round(people, request, history, CoffeePolicy())
    (group,) = plan.groups
    assert "matched first: one of you has had no coffee for 4 rounds" in group.reasons
    assert [u.member_id for u in plan.unplaced] == [other]
    return tuple({p.member_id for p in g.participants} for g in plan.groups)


def test_a_member_without_a_coffee_for_n_rounds_is_matched_first() -> None:
    assert contended("q") == ({"q", "x"},)
    assert contended("r") == ({"r", "x"},)


def test_reasons_name_the_team_pair_and_its_links() -> None:
    matcher = Matcher()
    matcher.join("ada", team="Sales")
    matcher.join("bob", team="Platform")
    (outputs,) = [o.data for o in matcher.round() if hasattr(o.data, "reasons")]
    assert "Sales and Platform have had 0 coffees together: a new link" in outputs.reasons


STRONG = CoffeePolicy(
    priority=Priority(
        quiet_rounds=1,
        quiet=500.0,
        new_hire_connections=50,
        new_hire_few_connections=500.0,
        team_pair_links=50,
        few_team_links=500.0,
    )
)


def organisation(persons: list[Person], new_hires: set[int]) -> Matcher:
    matcher = Matcher(STRONG)
    for n, person in enumerate(persons):
        if person.status != "active":
            continue
        manager = f"m{person.manager:02d}" if person.manager is not None else None
        matcher.join(
            person.member_id,
            team=person.team,
            timezone=person.zone,
            languages=person.languages,
            manager_id=manager,
            new_hire=n in new_hires,
            start_date=WEEK - timedelta(days=10) if n in new_hires else date(2024, 1, 15),
        )
    return matcher


@SETTINGS
@given(people, st.sets(st.integers(0, 13)))
def test_priority_never_breaks_a_hard_constraint(persons: list[Person], hires: set[int]) -> None:
    by_id = {p.member_id: p for p in persons}
    matcher = organisation(persons, hires)
    rounds = [members_of(matcher.round(f"r{n}", WEEK + timedelta(weeks=n))) for n in range(3)]
    met: set[frozenset[str]] = set()
    active = sorted(p.member_id for p in persons if p.status == "active")
    for groups in rounds:
        placed = [m for group in groups for m in group]
        assert len(placed) == len(set(placed))  # nobody twice
        for group in groups:
            for a, b in combinations(sorted(group), 2):
                assert can_talk(by_id[a], by_id[b]), (a, b)  # language, hours, reporting line
        repeats = [g for g in groups if any(frozenset(p) in met for p in combinations(g, 2))]
        if repeats:
            # Never the same pair too soon while a grouping of fresh pairs placed as many.
            fresh = [
                (a, b)
                for a, b in combinations(active, 2)
                if can_talk(by_id[a], by_id[b]) and frozenset((a, b)) not in met
            ]
            assert 2 * _max_matching(active, fresh) < len(active), (repeats, groups)
        met |= {frozenset(p) for group in groups for p in combinations(group, 2)}


def _max_matching(nodes: list[str], edges: list[tuple[str, str]]) -> int:
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    return len(nx.max_weight_matching(graph, maxcardinality=True))
