"""A team lead's digest: compiled by the matcher from its own state, for whole-organisation
rounds, naming only the lead's own team."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from schemas.coffee import CoffeeTeamDigestCompiled
from services.matcher.domain.digest import lead_of, team_digests
from services.matcher.domain.policy import CoffeePolicy
from services.matcher.domain.rounds import RoundRequest, plan_round
from tests.unit.matcher.support import WEEK, Matcher
from tests.unit.matcher.test_priority import candidate, history_of


def test_the_lead_is_the_manager_of_most_of_the_team() -> None:
    people = [candidate(f"p{n}", "Payments", "Europe/London", ("en",)) for n in range(3)]
    people = [replace(p, manager_id=m) for p, m in zip(people, ("lea", "lea", "max"), strict=True)]
    assert lead_of(people) == "lea"
    assert lead_of([replace(people[0], manager_id=None)]) is None
    assert lead_of([people[0], people[2]]) == "lea"  # a tie: the smallest id


def test_a_digest_names_the_quiet_the_new_hires_and_what_the_round_does() -> None:
    payments = [
        replace(candidate(member_id, "Payments", "Europe/London", ("en",)), manager_id="lea")
        for member_id in ("quiet", "newbie", "homebody")
    ]
    payments[1] = replace(payments[1], new_hire=True)
    others = [candidate(f"s{n}", "Sales", "Europe/London", ("en",)) for n in range(3)]
    # quiet: a coffee in round 1 only; homebody: coffees within Payments only (lea is Payments);
    # newbie: one person met so far.
    history = history_of(
        [
            [("quiet", "s0")],
            [("homebody", "lea")],
            [("homebody", "lea")],
            [("s1", "s2")],
            [("newbie", "s2")],
        ]
    )
    lea = replace(candidate("lea", "Payments", "Europe/London", ("en",)), manager_id="boss")
    people = [*payments, lea, *others]
    request = RoundRequest("acme", "r6", WEEK, group_size=2, ordinal=6)
    policy = CoffeePolicy()
    plan = plan_round(people, request, history, policy)

    digests = team_digests("r6", people, plan, history, 6, policy.priority)

    (digest,) = [d for d in digests if d.team == "Payments"]
    assert digest.lead_id == "lea"
    assert digest.active == 4
    assert digest.participants == 4
    assert digest.quiet == ("quiet",)
    assert [(h.member_id, h.people_met) for h in digest.new_hires] == [("newbie", 1)]
    assert [(s.member_id, s.why) for s in digest.suggestions] == [
        ("quiet", "quiet"),
        ("newbie", "new_hire_few_connections"),
    ]
    assert all(s.partner_team == "Sales" for s in digest.suggestions)
    assert not [d for d in digests if d.team == "Sales"]  # no manager: no lead to tell


def test_the_matcher_compiles_digests_for_whole_organisation_rounds_only() -> None:
    matcher = Matcher()
    matcher.join("lea", team="Payments")
    for member_id in ("p1", "p2"):
        matcher.join(member_id, team="Payments", manager_id="lea")
    matcher.join("s1", team="Sales", manager_id="sam")
    matcher.join("sam", team="Sales")
    matcher.join("new", team="Sales", manager_id="sam", start_date=date(2026, 2, 20))

    outputs = matcher.round("r1")
    digests = [o.data for o in outputs if isinstance(o.data, CoffeeTeamDigestCompiled)]
    assert sorted((d.team, d.lead_id) for d in digests) == [("Payments", "lea"), ("Sales", "sam")]
    (sales,) = [d for d in digests if d.team == "Sales"]
    assert [h.member_id for h in sales.new_hires] == ["new"]
    assert {o.subject for o in outputs if isinstance(o.data, CoffeeTeamDigestCompiled)} == {
        "lea",
        "sam",
    }

    team_round = matcher.round("r2", WEEK + timedelta(weeks=1), team="Payments")
    assert not [o for o in team_round if isinstance(o.data, CoffeeTeamDigestCompiled)]
