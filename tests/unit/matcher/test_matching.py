"""The matching heuristic against the exact optimum, on random score matrices."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from services.matcher.domain.matching import match, total


def random_scores(size: int, seed: int, forbidden_share: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = rng.uniform(50, 180, (size, size))
    scores = (scores + scores.T) / 2
    forbidden = rng.uniform(size=(size, size)) < forbidden_share
    scores[forbidden | forbidden.T] = -np.inf
    np.fill_diagonal(scores, -np.inf)
    return scores


def exact(scores: np.ndarray) -> tuple[float, int]:
    graph = nx.Graph()
    for i, j in np.argwhere(np.triu(np.isfinite(scores), 1)):
        graph.add_edge(int(i), int(j), weight=float(scores[i, j]))
    pairs = nx.max_weight_matching(graph, maxcardinality=True)
    return total(scores, [(int(a), int(b)) for a, b in pairs]), len(pairs)


@pytest.mark.parametrize("seed", range(5))
def test_close_to_the_optimum_and_as_many_pairs(seed: int) -> None:
    scores = random_scores(60, seed)
    pairs = match(scores)
    best, best_pairs = exact(scores)
    assert len(pairs) == best_pairs
    assert total(scores, pairs) >= 0.97 * best


def test_pairs_are_disjoint_and_allowed() -> None:
    scores = random_scores(41, seed=9, forbidden_share=0.5)
    pairs = match(scores)
    people = [p for pair in pairs for p in pair]
    assert len(people) == len(set(people))
    assert all(np.isfinite(scores[i, j]) for i, j in pairs)


def test_nobody_is_paired_when_every_pair_is_forbidden() -> None:
    scores = np.full((4, 4), -np.inf)
    assert match(scores) == []
