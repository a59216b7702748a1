"""Who met whom, and in which round: the memory that makes every round count."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import combinations


def pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


@dataclass
class PairRecord:
    last_round: int
    """Ordinal of the latest round that grouped the two."""
    times: int = 1
    missed: bool = False
    """Feedback said the latest meeting did not happen."""


@dataclass
class RoundRecord:
    round_id: str
    ordinal: int
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    completed: bool = False


class OrganisationHistory:
    """Rounds of one organisation in the order they were requested, and every pair they made."""

    def __init__(self) -> None:
        self.rounds: dict[str, RoundRecord] = {}
        self._pairs: dict[tuple[str, str], PairRecord] = {}
        self._partners: dict[str, set[str]] = {}
        self.feedback: dict[str, int] = {"met": 0, "did_not_meet": 0}

    def open_round(self, round_id: str) -> RoundRecord:
        """The round's record; a new round gets the next ordinal."""
        if round_id not in self.rounds:
            self.rounds[round_id] = RoundRecord(round_id, ordinal=len(self.rounds) + 1)
        return self.rounds[round_id]

    def record_group(self, round_id: str, group_id: str, members: Iterable[str]) -> None:
        record = self.open_round(round_id)
        people = tuple(members)
        if group_id in record.groups:
            return
        record.groups[group_id] = people
        for a, b in combinations(people, 2):
            self._meet(a, b, record.ordinal)

    def _meet(self, a: str, b: str, ordinal: int) -> None:
        key = pair_key(a, b)
        previous = self._pairs.get(key)
        if previous is None:
            self._pairs[key] = PairRecord(last_round=ordinal)
            self._partners.setdefault(a, set()).add(b)
            self._partners.setdefault(b, set()).add(a)
        elif ordinal > previous.last_round:
            self._pairs[key] = PairRecord(last_round=ordinal, times=previous.times + 1)

    def record_feedback(self, round_id: str, group_id: str, member_id: str, met: bool) -> None:
        """Feedback of one member about their group; a missed meeting frees their pairs sooner."""
        self.feedback["met" if met else "did_not_meet"] += 1
        record = self.rounds.get(round_id)
        members = record.groups.get(group_id, ()) if record else ()
        if met or member_id not in members or record is None:
            return
        for other in members:
            pair = self._pairs.get(pair_key(member_id, other)) if other != member_id else None
            if pair is not None and pair.last_round == record.ordinal:
                pair.missed = True

    def pair(self, a: str, b: str) -> PairRecord | None:
        return self._pairs.get(pair_key(a, b))

    def partners(self, member_id: str) -> set[str]:
        return self._partners.get(member_id, set())

    def next_ordinal(self, round_id: str) -> int:
        record = self.rounds.get(round_id)
        return record.ordinal if record else len(self.rounds) + 1

    def pairs(self) -> Iterator[tuple[tuple[str, str], PairRecord]]:
        return iter(self._pairs.items())
