"""The people of one round as arrays, and the score of every pair between two sets of them.

Features that decide a pair's score (team, department, languages, interests, office, office
days, working-hours pattern, new-hire flag) become integer arrays once per round, so that the
scores of thousands of pairs are computed at once. What only a few pairs have (a shared past,
a manager, a do-not-pair entry) is applied afterwards, pair by pair.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from services.common.domain.working_hours import (
    WEEKDAYS,
    Interval,
    WeeklyHours,
    intersect,
    intersect_all,
    total_minutes,
    utc_intervals,
)
from services.matcher.domain.history import OrganisationHistory, PairRecord
from services.matcher.domain.policy import CoffeePolicy
from services.matcher.domain.priority import round_priority

Indexes = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float64]
FORBIDDEN = -np.inf
RELAXED_REPEAT_POINTS = 1.0
"""What a recent pair is worth when nobody else is left: placed, but as a last resort."""
TIE_BREAK = 1e-3
INTEREST_BITS = 63


@dataclass(frozen=True)
class Candidate:
    """A member taking part in a round, as the matcher sees them."""

    member_id: str
    team: str
    department: str
    manager_id: str | None
    hours: WeeklyHours
    languages: tuple[str, ...]
    interests: tuple[str, ...]
    office: str | None
    office_days: tuple[str, ...]
    new_hire: bool


def seed_of(*parts: str) -> int:
    """A seed derived from ids: the same round always draws the same numbers."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


class Pool:
    def __init__(
        self,
        candidates: Sequence[Candidate],
        *,
        week_starting: date,
        ordinal: int,
        seed: int,
        policy: CoffeePolicy,
        history: OrganisationHistory,
    ) -> None:
        self.candidates = list(candidates)
        self.week_starting = week_starting
        self.ordinal = ordinal
        self.policy = policy
        self.history = history
        self.size = len(self.candidates)
        self.index = {c.member_id: i for i, c in enumerate(self.candidates)}
        self.team = _codes([c.team for c in self.candidates])
        self.department = _codes([c.department for c in self.candidates])
        self.languages = _bitmasks([c.languages for c in self.candidates])
        self.multilingual = len({code for c in self.candidates for code in c.languages}) > 1
        self.interests = _bitmasks([c.interests for c in self.candidates], keep=INTEREST_BITS)
        offices = _codes([c.office or "" for c in self.candidates])
        self.office = np.where([c.office is None for c in self.candidates], -1, offices)
        self.office_days = np.array(
            [_day_mask(c.office_days) for c in self.candidates], dtype=np.int64
        )
        self.new_hire = np.array([c.new_hire for c in self.candidates], dtype=bool)
        self.priority = round_priority(
            [c.member_id for c in self.candidates],
            self.new_hire,
            self.team,
            history,
            ordinal,
            policy.priority,
        )
        self.schedules: list[WeeklyHours] = []
        self.schedule = self._schedule_classes()
        self.tie_break = np.random.default_rng(seed).uniform(0, TIE_BREAK, self.size)
        self._overlaps: dict[tuple[int, int], int] = {}
        self._common: dict[tuple[int, ...], tuple[Interval, ...]] = {}
        self._do_not_pair = {frozenset(pair) for pair in policy.do_not_pair}

    def _schedule_classes(self) -> Indexes:
        classes: dict[WeeklyHours, int] = {}
        codes = [classes.setdefault(c.hours, len(classes)) for c in self.candidates]
        self.schedules = list(classes)
        return np.array(codes, dtype=np.int64)

    def intervals(self, member: int) -> tuple[Interval, ...]:
        return utc_intervals(self.schedules[self.schedule[member]], self.week_starting)

    def common_intervals(self, members: Sequence[int]) -> tuple[Interval, ...]:
        """Working time everyone in a group shares (cached: groups repeat schedule classes)."""
        classes = tuple(sorted({int(self.schedule[m]) for m in members}))
        if classes not in self._common:
            self._common[classes] = intersect_all(
                utc_intervals(self.schedules[c], self.week_starting) for c in classes
            )
        return self._common[classes]

    def overlap_minutes(self, first_class: int, second_class: int) -> int:
        key = (
            (first_class, second_class)
            if first_class <= second_class
            else (second_class, first_class)
        )
        if key not in self._overlaps:
            first = utc_intervals(self.schedules[key[0]], self.week_starting)
            second = utc_intervals(self.schedules[key[1]], self.week_starting)
            self._overlaps[key] = total_minutes(intersect(first, second))
        return self._overlaps[key]

    def overlaps(self, rows: Indexes, cols: Indexes) -> npt.NDArray[np.int64]:
        """Shared working minutes in the round's week of every (row, col) pair."""
        row_classes, row_inverse = np.unique(self.schedule[rows], return_inverse=True)
        col_classes, col_inverse = np.unique(self.schedule[cols], return_inverse=True)
        table = np.array(
            [[self.overlap_minutes(a, b) for b in col_classes] for a in row_classes],
            dtype=np.int64,
        )
        return table[np.ix_(row_inverse.ravel(), col_inverse.ravel())]

    def scores(self, rows: Indexes, cols: Indexes, *, relax_recent: bool = False) -> Scores:
        """Score of every (row, col) pair; ``-inf`` where the two may not meet. With
        ``relax_recent`` a pair that met recently is allowed, at the lowest score."""
        weights = self.policy.weights
        cross_team = self.team[rows][:, None] != self.team[cols][None, :]
        cross_department = self.department[rows][:, None] != self.department[cols][None, :]
        overlap = self.overlaps(rows, cols)
        shared_interests = np.bitwise_count(self.interests[rows][:, None] & self.interests[cols])
        new_hire = self.new_hire[rows][:, None] | self.new_hire[cols][None, :]
        scores = (
            weights.first_time
            + weights.cross_team * cross_team
            + weights.cross_department * cross_department
            + weights.overlap
            * np.minimum(overlap, weights.overlap_cap_minutes)
            / weights.overlap_cap_minutes
            + weights.shared_interest * np.minimum(shared_interests, 3)
            + weights.office_day * self.office_day_shared(rows, cols)
            + np.where(
                new_hire,
                np.where(cross_team, weights.new_hire_cross_team, weights.new_hire_same_team),
                0.0,
            )
            + self.priority.pair_points(rows, cols, self.team)
            + self.tie_break[rows][:, None] * self.tie_break[cols][None, :] / TIE_BREAK
        )
        allowed = self.can_talk(rows, cols, overlap) & (rows[:, None] != cols[None, :])
        scores[~allowed] = FORBIDDEN
        self._apply_sparse(scores, rows, cols, relax_recent)
        result: Scores = scores
        return result

    def can_talk(
        self, rows: Indexes, cols: Indexes, overlap: npt.NDArray[np.int64] | None = None
    ) -> npt.NDArray[np.bool_]:
        """A shared language and enough shared working time: the two hard requirements."""
        if overlap is None:
            overlap = self.overlaps(rows, cols)
        languages = (self.languages[rows][:, None] & self.languages[cols][None, :]) != 0
        talk: npt.NDArray[np.bool_] = languages & (overlap >= self.policy.min_overlap_minutes)
        return talk

    def shares_language(self, rows: Indexes, cols: Indexes) -> npt.NDArray[np.bool_]:
        shared: npt.NDArray[np.bool_] = (self.languages[rows][:, None] & self.languages[cols]) != 0
        return shared

    def office_day_shared(self, rows: Indexes, cols: Indexes) -> npt.NDArray[np.bool_]:
        same_office = (self.office[rows][:, None] == self.office[cols][None, :]) & (
            self.office[rows][:, None] >= 0
        )
        shared: npt.NDArray[np.bool_] = same_office & (
            (self.office_days[rows][:, None] & self.office_days[cols]) != 0
        )
        return shared

    def _apply_sparse(
        self, scores: Scores, rows: Indexes, cols: Indexes, relax_recent: bool
    ) -> None:
        """Shared pasts and exclusions: few per person, applied pair by pair."""
        col_position = {int(member): position for position, member in enumerate(cols)}
        col_ids = {self.candidates[int(member)].member_id for member in cols}
        for row_position, member in enumerate(rows):
            candidate = self.candidates[int(member)]
            for other_id in self.history.partners(candidate.member_id) & col_ids:
                position = col_position[self.index[other_id]]
                record = self.history.pair(candidate.member_id, other_id)
                assert record is not None
                adjusted = self._with_history(scores[row_position, position], record, relax_recent)
                scores[row_position, position] = adjusted
            for other_id in self.excluded_for(candidate) & col_ids:
                scores[row_position, col_position[self.index[other_id]]] = FORBIDDEN

    def _with_history(self, score: float, record: PairRecord, relax_recent: bool) -> float:
        if not np.isfinite(score):
            return score
        points = self.history_points(record)
        if points is None:
            first_time = self.policy.weights.first_time
            return score - first_time + RELAXED_REPEAT_POINTS if relax_recent else FORBIDDEN
        return score - self.policy.weights.first_time + points

    def held_back(self, record: PairRecord | None) -> int:
        """Rounds a pair is still held back after meeting (0: free to meet); the larger, the more
        recent the meeting."""
        if record is None:
            return 0
        window = (
            self.policy.missed_window_rounds if record.missed else self.policy.repeat_window_rounds
        )
        return max(0, window + 1 - (self.ordinal - record.last_round))

    def held_back_between(self, a: int, b: int) -> int:
        ids = self.candidates[a].member_id, self.candidates[b].member_id
        return self.held_back(self.history.pair(*ids))

    def history_points(self, record: PairRecord) -> float | None:
        """What a shared past is worth instead of a first meeting; None while it is too recent."""
        weights = self.policy.weights
        age = self.ordinal - record.last_round
        if self.held_back(record):
            return None
        if record.missed:
            return weights.first_time  # they never actually met
        return min(weights.first_time / 2, weights.repeat_base + weights.repeat_per_round * age)

    def excluded_for(self, candidate: Candidate) -> set[str]:
        """Whom the candidate may not meet: do-not-pair entries and, by policy, reporting lines."""
        excluded = {
            next(iter(pair - {candidate.member_id}))
            for pair in self._do_not_pair
            if candidate.member_id in pair and len(pair) == 2
        }
        if self.policy.exclude_manager_pairs:
            if candidate.manager_id:
                excluded.add(candidate.manager_id)
            excluded |= self._reports.get(candidate.member_id, set())
        return excluded

    @property
    def _reports(self) -> dict[str, set[str]]:
        if not hasattr(self, "_reports_cache"):
            reports: dict[str, set[str]] = {}
            for candidate in self.candidates:
                if candidate.manager_id:
                    reports.setdefault(candidate.manager_id, set()).add(candidate.member_id)
            self._reports_cache = reports
        return self._reports_cache


def _codes(values: Sequence[str]) -> Indexes:
    codes: dict[str, int] = {}
    return np.array([codes.setdefault(value, len(codes)) for value in values], dtype=np.int64)


def _bitmasks(values: Sequence[tuple[str, ...]], keep: int | None = None) -> Indexes:
    """One bit per distinct value; with ``keep`` only the most frequent values get a bit (the
    rest still count in the reasons, computed exactly for the chosen groups)."""
    frequency = Counter(value for items in values for value in items)
    ranked = [value for value, _ in frequency.most_common(keep or 63)]
    bit = {value: 1 << position for position, value in enumerate(ranked)}
    return np.array(
        [sum(bit.get(value, 0) for value in set(items)) for items in values], dtype=np.int64
    )


def _day_mask(days: Sequence[str]) -> int:
    return sum(1 << WEEKDAYS.index(day) for day in set(days))
