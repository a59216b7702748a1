"""From a pool to groups: blocks, matching, the last people placed, trios and larger groups.

Small rounds of pairs are solved exactly (``exact``); what follows is for the others.

Up to ``DENSE_LIMIT`` people are matched on one matrix (best quality). Larger pools are cut into
blocks of people with similar working hours (a block is a random draw inside such a band, seeded
by the round), matched block by block; whoever is left over is matched again across blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.optimize import linear_sum_assignment

from services.matcher.domain.exact import SMALL_POOL, exact_groups
from services.matcher.domain.matching import match
from services.matcher.domain.pool import Indexes, Pool

DENSE_LIMIT = 2_500
BLOCK_SIZE = 256
UNASSIGNABLE = -1e12
MAX_SWAP_ROUNDS = 50
EXACT_LIMIT = 120
"""Small pools with people left over get an exact maximum-cardinality matching (Edmonds)."""
BLOCK_SWAP_ROUNDS = 3
SWAP_CANDIDATES = 32
"""Partners tried for a person no group can take (each try is one scan of the groups)."""


@dataclass(frozen=True)
class FormedGroup:
    members: tuple[int, ...]
    pair_scores: tuple[float, ...]

    @property
    def score(self) -> float:
        return sum(self.pair_scores) / len(self.pair_scores)


@dataclass
class Grouping:
    groups: list[FormedGroup]
    left_over: list[int]


def form_groups(pool: Pool, seed: int, group_size: int = 2) -> Grouping:
    """Everybody in a group if the constraints allow it; the rest left over."""
    if group_size == 2 and pool.size <= SMALL_POOL:
        exact, left_over = exact_groups(pool)
        return Grouping([FormedGroup(members, scores) for members, scores in exact], left_over)
    groups: list[FormedGroup] = []
    left: list[int] = []
    cut = blocks(pool, seed)
    # Swaps polish what the greedy step leaves; in blocks a few passes give most of the gain.
    swap_rounds = MAX_SWAP_ROUNDS if len(cut) == 1 else BLOCK_SWAP_ROUNDS
    for block in cut:
        found, rest = _pairs(pool, block, swap_rounds=swap_rounds)
        groups += found
        left += rest
    found, left = _pairs(pool, np.array(left, dtype=np.int64))
    groups += found
    if len(left) >= 2 and pool.size <= EXACT_LIMIT:
        groups, left = _exact_if_it_places_more(pool, groups, left)
    found, left = _pairs(pool, np.array(left, dtype=np.int64), relax_recent=True)
    groups += found
    if group_size > 2:
        groups, dissolved = _grow(pool, groups, group_size)
        left += dissolved
    left = _attach(pool, groups, left)
    return Grouping(groups, left)


def blocks(pool: Pool, seed: int) -> list[Indexes]:
    order = np.random.default_rng(seed).permutation(pool.size)
    if pool.size <= DENSE_LIMIT:
        return [order]
    band = _working_band(pool)[order]
    order = order[np.argsort(band, kind="stable")]
    count = max(1, round(pool.size / BLOCK_SIZE))
    return list(np.array_split(order, count))


def _working_band(pool: Pool) -> Indexes:
    """Middle of each person's first working day, in UTC hours: neighbours can meet."""
    middles = [
        (intervals[0][0] + intervals[0][1]) // 2 % (24 * 60) // 60 if intervals else 0
        for intervals in (
            pool.intervals(int(np.flatnonzero(pool.schedule == c)[0]))
            for c in range(len(pool.schedules))
        )
    ]
    return np.array(middles, dtype=np.int64)[pool.schedule]


def _pairs(
    pool: Pool,
    members: Indexes,
    *,
    relax_recent: bool = False,
    swap_rounds: int = MAX_SWAP_ROUNDS,
) -> tuple[list[FormedGroup], list[int]]:
    if members.size < 2:
        return [], [int(m) for m in members]
    scores = pool.scores(members, members, relax_recent=relax_recent)
    pairs = match(scores, max_swap_rounds=swap_rounds)
    groups = [
        FormedGroup(
            members=(int(members[i]), int(members[j])),
            pair_scores=(float(scores[i, j]),),
        )
        for i, j in pairs
    ]
    placed = {m for group in groups for m in group.members}
    return groups, [int(m) for m in members if int(m) not in placed]


def _exact_if_it_places_more(
    pool: Pool, groups: list[FormedGroup], left: list[int]
) -> tuple[list[FormedGroup], list[int]]:
    """The heuristic's augmenting paths are short; an exact matching finds the long ones."""
    everyone = np.arange(pool.size, dtype=np.int64)
    scores = pool.scores(everyone, everyone)
    graph = nx.Graph()
    for i, j in np.argwhere(np.triu(np.isfinite(scores), 1)):
        graph.add_edge(int(i), int(j), weight=float(scores[i, j]))
    exact = nx.max_weight_matching(graph, maxcardinality=True)
    if 2 * len(exact) <= pool.size - len(left):
        return groups, left
    pairs = sorted(tuple(sorted((int(a), int(b)))) for a, b in exact)
    placed = {m for pair in pairs for m in pair}
    return (
        [FormedGroup(members=(a, b), pair_scores=(float(scores[a, b]),)) for a, b in pairs],
        [m for m in range(pool.size) if m not in placed],
    )


def _attach(pool: Pool, groups: list[FormedGroup], left: Sequence[int]) -> list[int]:
    """Each person still left joins the group where they fit best (a trio, for an odd count);
    one no group can take swaps places with a partner of theirs who can join another group."""
    still_left = []
    for person in left:
        best = _best_group_for(pool, groups, person)
        if best is not None:
            _join(groups, person, *best)
        elif not _swap_in(pool, groups, person):
            still_left.append(person)
    return still_left


def _join(groups: list[FormedGroup], person: int, index: int, scores: tuple[float, ...]) -> None:
    group = groups[index]
    groups[index] = FormedGroup((*group.members, person), group.pair_scores + scores)


def _swap_in(pool: Pool, groups: list[FormedGroup], person: int) -> bool:
    """Place the harder to place: ``person`` takes the place of someone in a pair they could
    meet, who joins another group instead."""
    grouped = np.array([m for g in groups for m in g.members], dtype=np.int64)
    if grouped.size == 0:
        return False
    row = pool.scores(np.array([person], dtype=np.int64), grouped, relax_recent=True)[0]
    where = {int(m): k for k, g in enumerate(groups) for m in g.members}
    for stay in grouped[np.isfinite(row)][:SWAP_CANDIDATES]:
        index = where[int(stay)]
        if len(groups[index].members) != 2:
            continue
        out = next(m for m in groups[index].members if m != stay)
        others = [g for k, g in enumerate(groups) if k != index]
        best = _best_group_for(pool, others, out)
        if best is None:
            continue
        other_index, scores = best
        target = groups.index(others[other_index])
        _join(groups, out, target, scores)
        pair_score = float(row[np.flatnonzero(grouped == stay)[0]])
        groups[index] = FormedGroup((int(stay), person), (pair_score,))
        return True
    return False


def _best_group_for(
    pool: Pool, groups: list[FormedGroup], person: int
) -> tuple[int, tuple[float, ...]] | None:
    smallest = min((len(g.members) for g in groups), default=0)
    open_groups = [i for i, g in enumerate(groups) if len(g.members) == smallest]
    if not open_groups:
        return None
    for relax in (False, True):
        members = np.array([m for i in open_groups for m in groups[i].members], dtype=np.int64)
        row = pool.scores(np.array([person], dtype=np.int64), members, relax_recent=relax)[0]
        per_group = row.reshape(len(open_groups), smallest)
        usable = np.isfinite(per_group).all(axis=1)
        if usable.any():
            totals = np.where(usable, per_group.sum(axis=1), -np.inf)
            best = int(np.argmax(totals))
            return open_groups[best], tuple(float(s) for s in per_group[best])
    return None


def _grow(
    pool: Pool, pairs: list[FormedGroup], group_size: int
) -> tuple[list[FormedGroup], list[int]]:
    """Groups of three or four from pairs: four = two pairs matched together; three = the best
    pairs, each joined by one person from the weaker pairs (an optimal assignment)."""
    ranked = sorted(pairs, key=lambda g: g.score, reverse=True)
    grown: list[FormedGroup] = []
    left: list[int] = []
    for start in range(0, len(ranked), BLOCK_SIZE // 2):
        chunk = ranked[start : start + BLOCK_SIZE // 2]
        groups, rest = _fours(pool, chunk) if group_size == 4 else _threes(pool, chunk)
        grown += groups
        left += rest
    return grown, left


def _fours(pool: Pool, pairs: list[FormedGroup]) -> tuple[list[FormedGroup], list[int]]:
    members = np.array([m for g in pairs for m in g.members], dtype=np.int64)
    scores = pool.scores(members, members)
    count = len(pairs)
    blockwise = scores.reshape(count, 2, count, 2)
    pair_scores = blockwise.mean(axis=(1, 3))
    np.fill_diagonal(pair_scores, -np.inf)
    joined = match(pair_scores)
    used = {k for pair in joined for k in pair}
    fours = [
        FormedGroup(
            members=pairs[a].members + pairs[b].members,
            pair_scores=pairs[a].pair_scores
            + pairs[b].pair_scores
            + tuple(float(s) for s in blockwise[a, :, b, :].ravel()),
        )
        for a, b in joined
    ]
    return fours + [pairs[k] for k in range(count) if k not in used], []


def _threes(pool: Pool, pairs: list[FormedGroup]) -> tuple[list[FormedGroup], list[int]]:
    keep = (2 * len(pairs) + 2) // 3
    kept, dissolved = pairs[:keep], pairs[keep:]
    singles = np.array([m for g in dissolved for m in g.members], dtype=np.int64)
    if singles.size == 0:
        return kept, []
    anchors = np.array([m for g in kept for m in g.members], dtype=np.int64)
    to_anchor = pool.scores(singles, anchors).reshape(singles.size, len(kept), 2)
    fit = to_anchor.sum(axis=2)
    cost = np.where(np.isfinite(fit), -fit, -UNASSIGNABLE)
    single_rows, group_cols = linear_sum_assignment(cost)
    threes = list(kept)
    placed = set()
    for s, k in zip(single_rows, group_cols, strict=True):
        if not np.isfinite(fit[s, k]):
            continue
        threes[k] = FormedGroup(
            members=(*kept[k].members, int(singles[s])),
            pair_scores=kept[k].pair_scores + tuple(float(v) for v in to_anchor[s, k]),
        )
        placed.add(int(singles[s]))
    unplaced = np.array([m for m in singles if int(m) not in placed], dtype=np.int64)
    again, left = _pairs(pool, unplaced)
    return threes + again, left
