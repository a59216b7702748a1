"""Who is matched first: the matcher's own watchlist and the team pairs with few links.

Everything is read from the organisation's history of rounds (who met whom, in which round,
and whether feedback said it did not happen), never from a clock or a random draw: a replay of
the same events decides the same. The points only raise scores of pairs that are allowed; a pair
the hard constraints forbid stays forbidden whatever its priority.

- **Quiet**: a member whose latest coffee that happened is ``quiet_rounds`` or more rounds
  before this one (rounds in between without one), or who has had none while that many rounds
  have passed.
- **New hire with few connections**: a new hire who has met fewer than ``new_hire_connections``
  people in rounds.
- **Team pairs with few links**: two teams whose members had fewer than ``team_pair_links``
  coffees together (people in this round, their teams now); the fewer, the more points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.matcher.domain.history import OrganisationHistory
from services.matcher.domain.policy import Priority

Points = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Standing:
    """What the matcher knows of one member before a round."""

    rounds_without_coffee: int
    people_met: int


@dataclass(frozen=True)
class RoundPriority:
    """Points per person and per pair of teams (by team code), and why."""

    quiet: npt.NDArray[np.bool_]
    new_hire_few: npt.NDArray[np.bool_]
    person_points: Points
    team_links: npt.NDArray[np.int64]
    team_points: Points
    standings: tuple[Standing, ...]

    def pair_points(
        self, rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64], teams: npt.NDArray[np.int64]
    ) -> Points:
        points: Points = (
            self.person_points[rows][:, None]
            + self.person_points[cols][None, :]
            + self.team_points[teams[rows][:, None], teams[cols][None, :]]
        )
        return points


def standing(history: OrganisationHistory, member_id: str, ordinal: int) -> Standing:
    """Rounds before ``ordinal`` since the member's latest coffee that happened, and how many
    people they met in one."""
    last_met = 0
    met = 0
    for other in history.partners(member_id):
        record = history.pair(member_id, other)
        if record is None or record.missed:
            continue
        met += 1
        last_met = max(last_met, record.last_round)
    return Standing(rounds_without_coffee=max(0, ordinal - last_met - 1), people_met=met)


def team_links(
    history: OrganisationHistory, team_of: dict[str, int], teams: int
) -> npt.NDArray[np.int64]:
    """Coffees that happened between every two teams, among the people of this round."""
    links = np.zeros((teams, teams), dtype=np.int64)
    for (a, b), record in history.pairs():
        if record.missed or a not in team_of or b not in team_of:
            continue
        first, second = team_of[a], team_of[b]
        if first != second:
            links[first, second] += 1
            links[second, first] += 1
    return links


def round_priority(
    member_ids: Sequence[str],
    new_hire: npt.NDArray[np.bool_],
    team_codes: npt.NDArray[np.int64],
    history: OrganisationHistory,
    ordinal: int,
    priority: Priority,
) -> RoundPriority:
    standings = tuple(standing(history, member_id, ordinal) for member_id in member_ids)
    quiet = np.array(
        [s.rounds_without_coffee >= priority.quiet_rounds for s in standings], dtype=bool
    )
    few = new_hire & np.array(
        [s.people_met < priority.new_hire_connections for s in standings], dtype=bool
    )
    teams = int(team_codes.max()) + 1 if team_codes.size else 0
    links = team_links(history, dict(zip(member_ids, team_codes.tolist(), strict=True)), teams)
    missing = np.maximum(0, priority.team_pair_links - links)
    share = missing / priority.team_pair_links if priority.team_pair_links else missing * 0.0
    team_points: Points = priority.few_team_links * share
    np.fill_diagonal(team_points, 0.0)
    return RoundPriority(
        quiet=quiet,
        new_hire_few=few,
        person_points=priority.quiet * quiet + priority.new_hire_few_connections * few,
        team_links=links,
        team_points=team_points,
        standings=standings,
    )
