"""The measured outcome: the acting run leaves nobody quiet and links every team pair that can
meet, where the same organisation without priority does not."""

from __future__ import annotations

from benchmarks.outcome import ACTING, NOT_ACTING, figures, organisation, simulate


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
