"""Small rounds of pairs, solved exactly: the best grouping, not a good one.

A team's round or a small organisation's has few people and much shared history, where a greedy
choice shows: someone left out whom a repeat would have placed, or two recent pairs where one
older one would do. Up to ``SMALL_POOL`` people, every allowed pair and trio is a variable of an
integer programme (HiGHS, through scipy) and the goals are met in order, each kept while the
next is optimised:

1. place as many people as possible (a pair or, where a count or the constraints need it, a trio);
2. with as few recent pairs (met within the forbidden window) as possible;
3. and those as long ago as possible (the rounds each is still held back, summed);
4. with as few trios as possible (pairs where pairs are possible);
5. and the highest score, per person.

The hardest to place are therefore placed first: a grouping that leaves out someone with one
possible partner places fewer people than one that leaves out someone with many.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from services.matcher.domain.pool import Pool

SMALL_POOL = 30
INTEGER_SLACK = 0.5
"""The first four goals count whole things: a kept optimum may not drop by one."""
SCORE_SLACK = 1e-6


@dataclass(frozen=True)
class Candidates:
    """Every group the round may form: the allowed pairs, then the allowed trios."""

    groups: list[tuple[int, ...]]
    pair_scores: list[tuple[float, ...]]
    recent: npt.NDArray[np.float64]
    held_back: npt.NDArray[np.float64]


def exact_groups(pool: Pool) -> tuple[list[tuple[tuple[int, ...], tuple[float, ...]]], list[int]]:
    """Groups (members, pair scores) and the people left over, by the goals above."""
    if pool.size < 2:
        return [], list(range(pool.size))
    candidates = _candidates(pool)
    if not candidates.groups:
        return [], list(range(pool.size))
    chosen = _solve(pool.size, candidates)
    groups = [(candidates.groups[k], candidates.pair_scores[k]) for k in chosen]
    placed = {m for members, _ in groups for m in members}
    return groups, [m for m in range(pool.size) if m not in placed]


def _candidates(pool: Pool) -> Candidates:
    everyone = np.arange(pool.size, dtype=np.int64)
    scores = pool.scores(everyone, everyone, relax_recent=True)
    allowed = np.isfinite(scores)
    held = np.zeros((pool.size, pool.size), dtype=np.int64)
    for a, b in np.argwhere(np.triu(allowed, 1)):
        held[a, b] = held[b, a] = pool.held_back_between(int(a), int(b))
    groups: list[tuple[int, ...]] = [(int(a), int(b)) for a, b in np.argwhere(np.triu(allowed, 1))]
    groups += [
        (a, b, c)
        for a, b, c in combinations(range(pool.size), 3)
        if allowed[a, b] and allowed[a, c] and allowed[b, c]
    ]
    pair_scores = [tuple(float(scores[a, b]) for a, b in combinations(g, 2)) for g in groups]
    recent = [sum(held[a, b] > 0 for a, b in combinations(g, 2)) for g in groups]
    held_back = [sum(held[a, b] for a, b in combinations(g, 2)) for g in groups]
    return Candidates(
        groups,
        pair_scores,
        np.array(recent, dtype=np.float64),
        np.array(held_back, dtype=np.float64),
    )


def _solve(people: int, candidates: Candidates) -> list[int]:
    sizes = np.array([len(g) for g in candidates.groups], dtype=np.float64)
    per_person = np.array(
        [
            sum(s) / len(s) * len(g)
            for g, s in zip(candidates.groups, candidates.pair_scores, strict=True)
        ]
    )
    goals = [  # each maximised in turn
        (sizes, INTEGER_SLACK),
        (-candidates.recent, INTEGER_SLACK),
        (-candidates.held_back, INTEGER_SLACK),
        (-(sizes > 2).astype(np.float64), INTEGER_SLACK),
        (per_person, SCORE_SLACK),
    ]
    rows = [m for g in candidates.groups for m in g]
    cols = [k for k, g in enumerate(candidates.groups) for _ in g]
    membership = csr_array(
        (np.ones(len(rows)), (rows, cols)), shape=(people, len(candidates.groups))
    )
    constraints = [LinearConstraint(membership, ub=np.ones(people))]
    chosen: npt.NDArray[np.float64] | None = None
    for objective, slack in goals:
        result = milp(
            -objective,
            constraints=constraints,
            integrality=np.ones(len(candidates.groups)),
            bounds=Bounds(0, 1),
            options={"mip_rel_gap": 0.0},
        )
        if result.x is None:  # cannot happen: choosing nothing is always feasible
            raise RuntimeError(f"grouping programme failed: {result.message}")
        chosen = result.x
        best = float(objective @ chosen)
        constraints.append(LinearConstraint(objective[None, :], lb=best - slack))
    assert chosen is not None
    return [int(k) for k in np.flatnonzero(chosen > 0.5)]
