"""The measured outcome: the acting run leaves nobody quiet and links every team pair that can
meet, where the same organisation without priority does not."""

from __future__ import annotations

from datetime import timedelta

from benchmarks.outcome import (
    ACTING,
    FIRST_MONDAY,
    NOT_ACTING,
    Outcome,
    _pulse,
    figures,
    organisation,
    simulate,
)


def test_acting_leaves_nobody_quiet_and_links_every_team_pair_that_can_meet() -> None:
    org = organisation()
    acting = figures(org, simulate(org, ACTING))
    passive = figures(org, simulate(org, NOT_ACTING))

    assert acting.quiet == 0
    assert acting.new_hires_measured > 0
    assert acting.new_hires_below_5 == 0
    assert acting.team_pairs_without_link == 1  # Tokyo and New York share no working hour
    assert passive.team_pairs_without_link > acting.team_pairs_without_link
    assert passive.quiet >= acting.quiet


def test_the_pulse_follows_how_connected_people_were() -> None:
    org = organisation()
    monday = FIRST_MONDAY
    people = org.people[:200]
    lonely, connected = Outcome(), Outcome()
    teams = {p.member_id: p.team for p in org.people}
    for person in people:
        other = next(p for p in org.people if p.team != person.team)
        connected.met((person.member_id, other.member_id), monday, teams)
        connected.met((person.member_id,), monday + timedelta(days=2))
    _pulse(org, lonely, people, 0, monday)
    _pulse(org, connected, people, 0, monday)

    # The same people answer in both (drawn from their ids), with higher scores when connected.
    assert len(lonely.pulse[0]) == len(connected.pulse[0]) > 0
    assert all(score <= 2 for _, score in lonely.pulse[0])
    assert all(score >= 4 for _, score in connected.pulse[0])


def test_the_pulse_figures_are_means_on_the_scale() -> None:
    org = organisation()
    acting = figures(org, simulate(org, ACTING))
    for value in (acting.pulse_first_week, acting.pulse_last_week, acting.pulse_last_4_weeks):
        assert value is not None
        assert 1 <= value <= 5
