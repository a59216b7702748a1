"""The state of every onboarding, folded from events.

Two kinds of events change it. Member events open an onboarding (a qualifying join) and end it
early (the new hire leaves or opts out): those facts come from the input, so a replay that orders
same-time events differently still knows who is being onboarded. Everything the service decided
(buddies, loads, check-ins, completion) comes from folding its own outputs back in: the service's
decisions are the record, never recomputed.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from schemas.base import EventPayload
from schemas.members import MemberProfile
from schemas.onboarding import (
    BuddyAssigned,
    BuddyReassigned,
    BuddyUnavailable,
    CheckinDue,
    CheckinScheduled,
    OnboardingCompleted,
)
from services.onboarding.domain.policy import BuddyPolicy

PendingCheckin = tuple[datetime, str, str]
"""(comes due at, new hire id, check-in id): sorts by when it comes due."""


def needs_onboarding(profile: MemberProfile, today: date, policy: BuddyPolicy) -> bool:
    """A join starts an onboarding when the start date is still ahead, or when the member is
    flagged as a new hire and started recently enough for the flag to be current."""
    if profile.start_date > today:
        return True
    return profile.new_hire and profile.start_date >= today - timedelta(
        days=policy.new_hire_window_days
    )


@dataclass(frozen=True)
class PlannedCheckin:
    checkin_id: str
    label: str
    due_at: datetime
    buddy_id: str
    planned_at: datetime
    """Domain time of the plan. A tick dated earlier, read late because clock and members are
    separate topics, must not decide about it: the check-in comes due from then on."""

    @property
    def comes_due_at(self) -> datetime:
        return max(self.due_at, self.planned_at)


@dataclass(frozen=True)
class Onboarding:
    """One onboarding of one new hire (someone who leaves and comes back gets a new one)."""

    new_hire_id: str
    number: int
    """1 for the person's first onboarding, 2 for the next, ..."""
    started_by: str
    """Id of the join that started it: only that join's decision looks for the first buddy."""
    buddy_id: str | None = None
    checkins: tuple[PlannedCheckin, ...] = ()
    due: frozenset[str] = frozenset()
    ended_by: str | None = None
    """Id of the member event (left, opted out) that ended it early."""
    completed: bool = False

    @property
    def is_open(self) -> bool:
        return self.ended_by is None and not self.completed

    def checkin(self, checkin_id: str) -> PlannedCheckin | None:
        return next((c for c in self.checkins if c.checkin_id == checkin_id), None)

    def checkin_id(self, base_id: str) -> str:
        """The id of a rhythm point in this onboarding: unique for the person across
        onboardings ('week-4' in the first, 'week-4.2' in the second)."""
        return base_id if self.number == 1 else f"{base_id}.{self.number}"


@dataclass
class OrgOnboardings:
    """One organisation's onboardings, buddy loads, waiting list, pending check-ins and clock."""

    onboardings: dict[str, Onboarding] = field(default_factory=dict)
    """The latest onboarding of each person who ever had one."""
    open_ids: set[str] = field(default_factory=set)
    """New hires whose onboarding is open."""
    looked_after: dict[str, set[str]] = field(default_factory=dict)
    """New hires each buddy looks after now."""
    looking_after_more_than: list[set[str]] = field(default_factory=list)
    """``[n]``: the buddies who look after more than ``n`` new hires now (``looked_after`` by
    load). Every search asks who is full: reading it here is a set, where counting everyone's
    load made each search slower as a wave of new hires went on."""
    ever_given: Counter[str] = field(default_factory=Counter)
    waiting: dict[str, datetime] = field(default_factory=dict)
    """New hires without a buddy since ``buddy_unavailable`` was published, and since when."""
    pending: list[PendingCheckin] = field(default_factory=list)
    """Check-ins planned and not yet due, sorted."""
    last_tick: datetime | None = None
    previous_tick: datetime | None = None

    # Reading (decide) --------------------------------------------------------------------------

    def active(self, buddy_id: str) -> int:
        return len(self.looked_after.get(buddy_id, ()))

    def lifetime(self, buddy_id: str) -> int:
        return self.ever_given[buddy_id]

    def looking_after_at_least(self, count: int) -> AbstractSet[str]:
        """The buddies who look after ``count`` new hires or more now (``count`` at least 1)."""
        more_than = self.looking_after_more_than
        return more_than[count - 1] if count <= len(more_than) else frozenset()

    def is_onboarding(self, member_id: str) -> bool:
        return member_id in self.open_ids

    def open_onboarding(self, member_id: str) -> Onboarding | None:
        onboarding = self.onboardings.get(member_id)
        return onboarding if onboarding is not None and onboarding.is_open else None

    def looked_after_by(self, buddy_id: str) -> list[Onboarding]:
        return [self.onboardings[n] for n in sorted(self.looked_after.get(buddy_id, ()))]

    def with_buddy(self) -> list[Onboarding]:
        """Open onboardings that have a buddy, by new hire id."""
        return sorted(
            (o for o in self.onboardings.values() if o.is_open and o.buddy_id is not None),
            key=lambda o: o.new_hire_id,
        )

    def waiting_in_order(self) -> list[Onboarding]:
        """Open onboardings without a buddy, longest waiting first."""
        order = sorted(self.waiting.items(), key=lambda item: (item[1], item[0]))
        return [self.onboardings[new_hire_id] for new_hire_id, _ in order]

    def pending_until(self, now: datetime) -> Iterator[PendingCheckin]:
        """Planned check-ins due at or before ``now``, earliest first."""
        for item in self.pending:
            if item[0] > now:
                return
            yield item

    def has_work_at(self, now: datetime) -> bool:
        """Whether a tick at ``now`` may decide anything: a check-in has come due, or a new day
        began with new hires waiting for a buddy. Most ticks do not, and a long history is
        mostly ticks: they need no decision built."""
        due = bool(self.pending) and self.pending[0][0] <= now
        return due or (bool(self.waiting) and self.is_new_day())

    def is_new_day(self) -> bool:
        """Whether the latest tick is the first of its (UTC) day."""
        return self.last_tick is not None and (
            self.previous_tick is None or self.previous_tick.date() < self.last_tick.date()
        )

    # Folding member events -------------------------------------------------------------------

    def start(self, new_hire_id: str, cause_id: str) -> None:
        previous = self.onboardings.get(new_hire_id)
        if previous is not None and previous.is_open:
            return  # a repeated join never starts a second onboarding
        number = 1 if previous is None else previous.number + 1
        self.onboardings[new_hire_id] = Onboarding(new_hire_id, number, started_by=cause_id)
        self.open_ids.add(new_hire_id)

    def end_early(self, new_hire_id: str, cause_id: str) -> None:
        onboarding = self.onboardings.get(new_hire_id)
        if onboarding is not None and onboarding.is_open:
            self.onboardings[new_hire_id] = replace(onboarding, ended_by=cause_id)
            self.open_ids.discard(new_hire_id)
            self.waiting.pop(new_hire_id, None)

    def tick(self, now: datetime) -> None:
        if self.last_tick is None or now > self.last_tick:
            self.previous_tick, self.last_tick = self.last_tick, now

    # Folding the service's own outputs ----------------------------------------------------------

    def fold(self, payload: EventPayload, time: datetime) -> None:
        new_hire_id = getattr(payload, "new_hire_id", "")
        onboarding = self.onboardings.get(new_hire_id)
        if onboarding is None or onboarding.completed:
            return  # not ours to fold (an unknown new hire) or already over
        match payload:
            case BuddyAssigned(buddy_id=buddy_id) | BuddyReassigned(buddy_id=buddy_id):
                self._give(new_hire_id, buddy_id)
            case BuddyUnavailable():
                self._take_buddy(new_hire_id)
                self._wait(new_hire_id, time)
            case CheckinScheduled():
                self._plan(new_hire_id, payload, time)
            case CheckinDue(checkin_id=checkin_id):
                self._mark_due(new_hire_id, checkin_id)
            case OnboardingCompleted():
                self._complete(new_hire_id)

    def _give(self, new_hire_id: str, buddy_id: str) -> None:
        self._take_buddy(new_hire_id)
        looked_after = self.looked_after.setdefault(buddy_id, set())
        if new_hire_id not in looked_after:
            looked_after.add(new_hire_id)
            self._loaded(buddy_id, len(looked_after))
        self.ever_given[buddy_id] += 1
        self.waiting.pop(new_hire_id, None)
        current = self.onboardings[new_hire_id]
        self.onboardings[new_hire_id] = replace(current, buddy_id=buddy_id)

    def _take_buddy(self, new_hire_id: str) -> None:
        current = self.onboardings[new_hire_id]
        if current.buddy_id is None:
            return
        buddy_of = self.looked_after.get(current.buddy_id, set())
        if new_hire_id in buddy_of:
            self.looking_after_more_than[len(buddy_of) - 1].discard(current.buddy_id)
            buddy_of.discard(new_hire_id)
        if not buddy_of:
            self.looked_after.pop(current.buddy_id, None)
        self.onboardings[new_hire_id] = replace(current, buddy_id=None)

    def _loaded(self, buddy_id: str, load: int) -> None:
        """Note that the buddy now looks after ``load`` new hires, one more than before."""
        if len(self.looking_after_more_than) < load:
            self.looking_after_more_than.append(set())
        self.looking_after_more_than[load - 1].add(buddy_id)

    def _wait(self, new_hire_id: str, since: datetime) -> None:
        if self.onboardings[new_hire_id].is_open:
            self.waiting[new_hire_id] = since

    def _plan(self, new_hire_id: str, payload: CheckinScheduled, time: datetime) -> None:
        current = self.onboardings[new_hire_id]
        if payload.checkin_id in current.due:
            return
        planned = PlannedCheckin(
            payload.checkin_id, payload.label, payload.due_at, payload.buddy_id, planned_at=time
        )
        previous = current.checkin(payload.checkin_id)
        if previous is None:
            checkins = (*current.checkins, planned)
        else:  # planned again (a new buddy): the latest plan wins
            self._unpend(new_hire_id, previous)
            checkins = tuple(planned if c is previous else c for c in current.checkins)
        self.onboardings[new_hire_id] = replace(current, checkins=checkins)
        bisect.insort(self.pending, (planned.comes_due_at, new_hire_id, planned.checkin_id))

    def _mark_due(self, new_hire_id: str, checkin_id: str) -> None:
        current = self.onboardings[new_hire_id]
        planned = current.checkin(checkin_id)
        if planned is None or checkin_id in current.due:
            return
        self._unpend(new_hire_id, planned)
        self.onboardings[new_hire_id] = replace(current, due=current.due | {checkin_id})

    def _complete(self, new_hire_id: str) -> None:
        self._take_buddy(new_hire_id)
        current = self.onboardings[new_hire_id]
        for planned in current.checkins:
            if planned.checkin_id not in current.due:
                self._unpend(new_hire_id, planned)
        self.waiting.pop(new_hire_id, None)
        self.open_ids.discard(new_hire_id)
        self.onboardings[new_hire_id] = replace(current, completed=True)

    def _unpend(self, new_hire_id: str, planned: PlannedCheckin) -> None:
        item = (planned.comes_due_at, new_hire_id, planned.checkin_id)
        position = bisect.bisect_left(self.pending, item)
        if position < len(self.pending) and self.pending[position] == item:
            del self.pending[position]


class OnboardingBook:
    """Every organisation's onboardings."""

    def __init__(self) -> None:
        self._organisations: dict[str, OrgOnboardings] = {}

    def of(self, org_id: str) -> OrgOnboardings:
        """The organisation's onboardings (an empty, unstored one for an unknown organisation:
        reading never changes the state)."""
        return self._organisations.get(org_id) or OrgOnboardings()

    def for_update(self, org_id: str) -> OrgOnboardings:
        found = self._organisations.get(org_id)
        if found is None:  # not setdefault: it would build an empty one at every event
            found = self._organisations[org_id] = OrgOnboardings()
        return found

    def organisations(self) -> Iterator[OrgOnboardings]:
        return iter(self._organisations.values())
