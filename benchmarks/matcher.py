"""Matcher benchmark: quality against the exact optimum, scale, and twelve simulated rounds.

- Quality: on generated organisations, the total score of the matcher's pairs against the exact
  maximum-weight matching (networkx, Edmonds' blossoms: cubic, so up to 500 people) and, for
  every size, against an upper bound of the optimum: half the best assignment of the score
  matrix (scipy; a matching used in both directions is an assignment, so the optimum can never
  exceed it). A ratio against the bound is a lower bound of the ratio against the optimum.
- Scale: one round for 1k, 10k and 100k active members: time and peak memory of the decision
  (plan) and of building the events' payloads.
- Twelve weekly rounds of a 500-member organisation (8 teams, 4 time zones): repeated pairs,
  cross-team share, and whether every eligible member was placed every round.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import networkx as nx
import numpy as np
from scipy.optimize import linear_sum_assignment

from schemas import new_event
from schemas.coffee import CoffeeMatched, CoffeeRoundCompleted, CoffeeRoundRequested
from services.common.collector import collector_paused
from services.common.domain.directory import Member, MemberStatus
from services.common.processing import Ledger
from services.common.simulation import OrganisationShape, generate_members
from services.matcher.domain.grouping import form_groups
from services.matcher.domain.history import OrganisationHistory, pair_key
from services.matcher.domain.policy import CoffeePolicy
from services.matcher.domain.pool import Candidate, Pool
from services.matcher.domain.rounds import RoundRequest, plan_round
from services.matcher.handlers import MatcherProcessor, _announce, _candidate

WEEK = date(2026, 3, 2)
POLICY = CoffeePolicy()
EXACT_LIMIT = 500
FOUR_ZONES = ("Europe/Amsterdam", "Europe/London", "America/New_York", "Asia/Kolkata")
T = TypeVar("T")


def candidates(
    size: int, seed: int = 1, timezones: tuple[str, ...] = FOUR_ZONES
) -> list[Candidate]:
    shape = OrganisationShape(members=size, teams=8, timezones=timezones)
    joined = datetime(2020, 1, 1, tzinfo=UTC)
    return [
        _candidate(Member(m, MemberStatus.ACTIVE, joined), set(), WEEK, POLICY)
        for m in generate_members(seed, shape)
    ]


def quality(sizes: tuple[int, ...] = (100, 250, 500, 1000, 2000)) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        pool = Pool(
            candidates(size),
            week_starting=WEEK,
            ordinal=1,
            seed=size,
            policy=POLICY,
            history=OrganisationHistory(),
        )
        everyone = np.arange(pool.size)
        scores = pool.scores(everyone, everyone)
        started = time.perf_counter()
        grouping = form_groups(pool, seed=size)
        ours_seconds = time.perf_counter() - started
        ours = sum(s for g in grouping.groups for s in g.pair_scores)
        bound = assignment_bound(scores)
        row: dict[str, Any] = {
            "members": size,
            "ours": ours,
            "ours_s": ours_seconds,
            "bound": bound,
            "vs_bound": ours / bound,
        }
        if size <= EXACT_LIMIT:
            started = time.perf_counter()
            exact = exact_optimum(scores)
            row |= {
                "exact": exact,
                "exact_s": time.perf_counter() - started,
                "vs_exact": ours / exact,
            }
        rows.append(row)
    return rows


def assignment_bound(scores: np.ndarray) -> float:
    """Half the best assignment, a diagonal of 0 meaning "stays unmatched"."""
    weights = np.where(np.isfinite(scores), scores, -1e9)
    np.fill_diagonal(weights, 0.0)
    rows, cols = linear_sum_assignment(weights, maximize=True)
    return float(weights[rows, cols].sum()) / 2


def exact_optimum(scores: np.ndarray) -> float:
    graph = nx.Graph()
    for i, j in np.argwhere(np.triu(np.isfinite(scores), 1)):
        graph.add_edge(int(i), int(j), weight=float(scores[i, j]))
    matching = nx.max_weight_matching(graph, maxcardinality=True)
    return float(sum(scores[i, j] for i, j in matching))


def measured(action: Callable[[], T]) -> tuple[T, float, float]:
    """Result, seconds and peak traced memory in MiB (tracing slows the run: timed apart).
    Run as the service runtime handles an event: with the cyclic collector paused."""
    gc.collect()
    started = time.perf_counter()
    with collector_paused():
        result = action()
    seconds = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    action()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def scale(sizes: tuple[int, ...] = (1_000, 10_000, 100_000)) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        people = candidates(size, timezones=FOUR_ZONES[:3])
        request = RoundRequest("bench", f"scale-{size}", WEEK, 2, 1)
        plan, plan_s, plan_mib = measured(
            lambda: plan_round(people, request, OrganisationHistory(), POLICY)  # noqa: B023
        )
        started = time.perf_counter()
        with collector_paused():
            _announce(request.round_id, plan)
        payload_s = time.perf_counter() - started
        rows.append(
            {
                "members": size,
                "groups": len(plan.groups),
                "unplaced": len(plan.unplaced),
                "plan_s": plan_s,
                "payloads_s": payload_s,
                "total_s": plan_s + payload_s,
                "peak_mib": plan_mib,
            }
        )
    return rows


def twelve_rounds(members: int = 500, rounds: int = 12) -> list[dict[str, Any]]:
    shape = OrganisationShape(members=members, teams=8, timezones=FOUR_ZONES)
    ledger = Ledger(MatcherProcessor(), "/rituals/matcher")
    joined = datetime(2026, 3, 1, tzinfo=UTC)
    for member in generate_members(42, shape):
        ledger.handle(new_event(member, source="/bench", orgid="bench", time=joined))
    seen: set[tuple[str, str]] = set()
    rows = []
    for week in range(rounds):
        starting = WEEK + timedelta(weeks=week)
        moment = datetime.combine(starting, datetime.min.time(), UTC)
        request = CoffeeRoundRequested(round_id=f"week-{week + 1}", week_starting=starting)
        outputs = ledger.handle(new_event(request, source="/bench", orgid="bench", time=moment))
        ledger.record_published(outputs)
        repeats = 0
        for output in outputs:
            if isinstance(output.data, CoffeeMatched):
                ids = [p.member_id for p in output.data.participants]
                for a in range(len(ids)):
                    for b in range(a + 1, len(ids)):
                        key = pair_key(ids[a], ids[b])
                        repeats += key in seen
                        seen.add(key)
        (done,) = [o.data for o in outputs if isinstance(o.data, CoffeeRoundCompleted)]
        placed = done.participants - done.unmatched
        rows.append(
            {
                "round": week + 1,
                "participants": done.participants,
                "placed": placed,
                "groups": done.groups,
                "trios": done.trios,
                "repeats": repeats,
                "cross_team": done.cross_team_share,
                "first_time": done.first_time_share,
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value < 10 else f"{value:,.1f}"
    return str(value)


def main() -> None:
    print("== matcher: quality against the optimum (score totals) ==")
    print(table(quality()))
    print("\n== matcher: one round at scale (seconds, peak MiB of the plan) ==")
    print(table(scale()))
    print("\n== matcher: twelve weekly rounds, 500 members, 8 teams, 4 time zones ==")
    rows = twelve_rounds()
    print(table(rows))
    print(
        f"repeated pairs: {sum(r['repeats'] for r in rows)}; "
        f"lowest cross-team share: {min(r['cross_team'] for r in rows):.3f}; "
        f"everyone placed every round: {all(r['placed'] == r['participants'] for r in rows)}"
    )


if __name__ == "__main__":
    main()
