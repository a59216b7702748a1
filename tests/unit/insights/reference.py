"""The insights figures computed again from nothing but the definitions in docs/insights.md:
no code of the platform (no directory, no fold, no graph library) is used here, so a test can
compare the report with an independent reading of the same history."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from itertools import combinations
from typing import Any

from schemas import CloudEvent
from schemas.clock import ClockTicked
from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched
from schemas.members import (
    MemberJoined,
    MemberLeft,
    MemberOptedOut,
    MemberPaused,
    MemberProfileUpdated,
    MemberResumed,
)
from schemas.onboarding import BuddyAssigned, BuddyReassigned
from schemas.rituals import RitualHeld

Pair = frozenset[str]


class Reference:
    """One organisation's history read by the docs' definitions (events in time order)."""

    def __init__(self, events: Iterable[CloudEvent[Any]]) -> None:
        self.events = sorted({e.id: e for e in events}.values(), key=lambda e: e.time)
        ticks = [e.data.now for e in self.events if isinstance(e.data, ClockTicked)]
        self.now: datetime = max(ticks) if ticks else max(e.time for e in self.events)
        self.team: dict[str, str] = {}
        self.start: dict[str, datetime] = {}
        self.new_hire: dict[str, date | None] = {}
        self.status: dict[str, str] = {}
        for event in self.events:
            data = event.data
            if isinstance(data, MemberJoined | MemberProfileUpdated):
                self.team[data.member_id] = data.team
                if data.new_hire:
                    self.new_hire[data.member_id] = data.start_date
            if event.time > self.now:
                continue  # the status now: what happened up to now
            if isinstance(data, MemberJoined):
                self.status[data.member_id] = "active"
                first_day = datetime.combine(data.start_date, time(0), UTC)
                self.start[data.member_id] = max(event.time, first_day)
            elif isinstance(data, MemberPaused):
                over = data.until is not None and data.until <= self.now.date()
                self.status[data.member_id] = "active" if over else "paused"
            elif isinstance(data, MemberResumed):
                self.status[data.member_id] = "active"
            elif isinstance(data, MemberOptedOut):
                self.status[data.member_id] = "opted_out"
            elif isinstance(data, MemberLeft):
                self.status[data.member_id] = "left"
        self.present = {m for m, s in self.status.items() if s != "left"}
        self.active = {m for m, s in self.status.items() if s == "active"}

    def of(self, kind: type[Any]) -> list[Any]:
        return [e.data for e in self.events if isinstance(e.data, kind)]

    def answers(self) -> dict[tuple[str, str], dict[str, bool]]:
        """Per matched group, each participant's latest answer (nobody else's)."""
        groups = {(g.round_id, g.group_id): g for g in self.of(CoffeeMatched)}
        said: dict[tuple[str, str], dict[str, bool]] = {}
        for feedback in self.of(CoffeeFeedbackGiven):
            key = (feedback.round_id, feedback.group_id)
            group = groups.get(key)
            if group and feedback.member_id in {p.member_id for p in group.participants}:
                said.setdefault(key, {})[feedback.member_id] = feedback.met
        return said

    def happened_share(self) -> float | None:
        answered = self.answers().values()
        return sum(any(a.values()) for a in answered) / len(answered) if answered else None

    def meetings(self) -> list[tuple[set[str], datetime]]:
        """Who met, and when, up to now: counted coffees at their slot, buddies, rituals."""
        answers = self.answers()
        found: list[tuple[set[str], datetime]] = []
        for group in self.of(CoffeeMatched):
            said = answers.get((group.round_id, group.group_id), {})
            if not said or any(said.values()):
                found.append(({p.member_id for p in group.participants}, group.slot_start))
        for event in self.events:
            if isinstance(event.data, BuddyAssigned | BuddyReassigned):
                found.append(({event.data.new_hire_id, event.data.buddy_id}, event.time))
        for held in self.of(RitualHeld):
            found.append((set(held.attendee_ids), held.occurrence_start))
        return [(people, at) for people, at in found if at <= self.now]

    def edges(self) -> set[Pair]:
        return {
            frozenset(pair)
            for people, _ in self.meetings()
            for pair in combinations(sorted(people & self.present), 2)
        }

    def degree(self, member: str) -> int:
        return sum(member in edge for edge in self.edges())

    def components(self) -> list[set[str]]:
        left, parts = set(self.present), []
        while left:
            seen, todo = set(), [left.pop()]
            while todo:
                node = todo.pop()
                seen.add(node)
                todo += [m for e in self.edges() if node in e for m in e if m not in seen]
            left -= seen
            parts.append(seen)
        return parts

    def last_touchpoint(self, member: str) -> datetime | None:
        times = [at for people, at in self.meetings() if member in people]
        return max(times) if times else None

    def quiet(self, weeks: int = 4) -> set[str]:
        found = set()
        for member in self.active:
            touch = self.last_touchpoint(member)
            since = self.start[member] if touch is None else max(self.start[member], touch)
            if self.now - since >= timedelta(weeks=weeks):
                found.add(member)
        return found

    def teams(self) -> list[str]:
        return sorted({self.team[m] for m in self.present})

    def directly_connected_team_pairs(self) -> set[tuple[str, str]]:
        return {
            (a, b)
            for a, b in combinations(self.teams(), 2)
            if any({self.team[m] for m in edge} == {a, b} for edge in self.edges())
        }

    def path_linked_team_pairs(self) -> set[tuple[str, str]]:
        linked: set[tuple[str, str]] = set()
        for part in self.components():
            linked.update(combinations(sorted({self.team[m] for m in part}), 2))
        return linked
