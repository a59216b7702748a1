"""What the onboarding decides in response to an event: pure, and reading the state only.

A ``Decision`` collects the outputs of one event. Outputs are folded into the state only after
the decision (deciding must not change state), so the decision keeps what they are about to
change itself (loads, who was already dealt with): a later choice in the same decision sees the
earlier ones, and a retry of several waiting new hires never puts one buddy over the cap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from schemas.base import EventPayload
from schemas.onboarding import (
    BuddyAssigned,
    BuddyReassigned,
    BuddyUnavailable,
    CheckinDue,
    CheckinScheduled,
    OnboardingCompleted,
)
from services.common.domain.directory import MemberDirectory
from services.onboarding.domain.book import Onboarding, OrgOnboardings
from services.onboarding.domain.candidates import IndexChange, OrgCandidates
from services.onboarding.domain.policy import BuddyPolicy
from services.onboarding.domain.reasons import REPLACEMENT_REASONS, no_buddy_reason
from services.onboarding.domain.selection import (
    BuddyChoice,
    BuddySearch,
    choose_buddy,
    could_be_buddy,
    eligibility_stages,
    in_reporting_line,
    may_be_a_buddy,
)
from services.onboarding.domain.working_time import checkin_moment


class MemberChange(StrEnum):
    """The member events, as the onboarding cares about them."""

    JOINED = "joined"
    UPDATED = "profile_updated"
    PAUSED = "paused"
    RESUMED = "resumed"
    OPTED_OUT = "opted_out"
    LEFT = "left"


_GONE = frozenset({MemberChange.OPTED_OUT, MemberChange.LEFT})
_UNAVAILABLE = frozenset({MemberChange.PAUSED, *_GONE})
_MAY_MAKE_ELIGIBLE = frozenset({MemberChange.JOINED, MemberChange.UPDATED, MemberChange.RESUMED})
"""Directory changes after which a waiting new hire is tried again."""


@dataclass(frozen=True)
class OrgState:
    """One organisation's state, as a decision reads it."""

    org_id: str
    policy: BuddyPolicy
    directory: MemberDirectory
    candidates: OrgCandidates
    onboardings: OrgOnboardings
    use_index: bool = True


class Decision:
    """The outputs of one event, and the loads they will leave behind."""

    def __init__(self, state: OrgState, today: date) -> None:
        self.state = state
        self.outputs: list[EventPayload] = []
        self._extra_load: Counter[str] = Counter()
        self._extra_given: Counter[str] = Counter()
        self._settled: set[str] = set()
        """New hires this decision already dealt with."""
        self._freed: set[str] = set()
        """Buddies this decision gave room."""
        self._today = today

    @property
    def _search(self) -> BuddySearch:
        """The search over this decision's loads, made when asked and not kept: kept, it and
        the decision referred to each other, and every decision (one per member event on a
        rebuild) waited for the cyclic collector instead of being freed at once."""
        state = self.state
        return BuddySearch(
            org_id=state.org_id,
            policy=state.policy,
            today=self._today,
            directory=state.directory,
            candidates=state.candidates,
            loads=self,
            use_index=state.use_index,
        )

    # The loads the search sees: the state's plus this decision's -------------------------------

    def active(self, buddy_id: str) -> int:
        return self.state.onboardings.active(buddy_id) + self._extra_load[buddy_id]

    def lifetime(self, buddy_id: str) -> int:
        return self.state.onboardings.lifetime(buddy_id) + self._extra_given[buddy_id]

    def is_onboarding(self, member_id: str) -> bool:
        return self.state.onboardings.is_onboarding(member_id)

    def without_room(self, cap: int) -> set[str]:
        """Everyone with no room: the new hires, and the buddies the book counts as full, as
        this decision's gives and takes leave them."""
        book = self.state.onboardings
        full = set(book.looking_after_at_least(cap))
        for buddy in self._extra_load:  # this decision's changes: a few buddies
            if self.active(buddy) >= cap:
                full.add(buddy)
            else:
                full.discard(buddy)
        full.update(book.open_ids)
        return full

    # Events ------------------------------------------------------------------------------------

    def member_event(
        self, change: MemberChange, member_id: str, cause_id: str, index: IndexChange | None
    ) -> None:
        """A member joined, changed, paused, resumed, opted out or left."""
        book = self.state.onboardings
        own = book.onboardings.get(member_id)
        if change is MemberChange.JOINED and own is not None and self._starts(own, cause_id):
            self._first_buddy(own)
        if change in _GONE and own is not None and own.ended_by == cause_id and not own.completed:
            self._end_early(own)
        if change in _UNAVAILABLE and not self._present(member_id):  # a pause ending today: no
            for looked_after in book.looked_after_by(member_id):
                if looked_after.is_open:
                    self._replace_buddy(looked_after, change.value)
        manager_changed = index is not None and index.manager_changed
        if change is MemberChange.UPDATED:
            self._check_reporting_lines(member_id, everyone=manager_changed)
        if change in _MAY_MAKE_ELIGIBLE:
            self.retry_waiting(None if manager_changed else {member_id})
        elif self._freed:
            self.retry_waiting(set())

    def tick(self, now: datetime) -> None:
        """Domain time moved on: check-ins come due, onboardings complete, and on a new day the
        waiting new hires are tried again (pauses end and tenures grow with time alone)."""
        book = self.state.onboardings
        newly_due: dict[str, set[str]] = {}
        for _, new_hire_id, checkin_id in book.pending_until(now):
            onboarding = book.open_onboarding(new_hire_id)
            if onboarding is None or onboarding.buddy_id is None or not self._present(new_hire_id):
                continue  # held until the new hire has a buddy and is back
            planned = onboarding.checkin(checkin_id)
            if planned is None:
                continue
            self.outputs.append(
                CheckinDue(
                    new_hire_id=new_hire_id,
                    buddy_id=onboarding.buddy_id,
                    checkin_id=checkin_id,
                    label=planned.label,
                    due_at=planned.due_at,
                )
            )
            newly_due.setdefault(new_hire_id, set()).add(checkin_id)
        for new_hire_id in sorted(newly_due):
            onboarding = book.onboardings[new_hire_id]
            if len(onboarding.due) + len(newly_due[new_hire_id]) == len(onboarding.checkins):
                self._complete(onboarding)
        if book.is_new_day():
            self.retry_waiting(None)
        elif self._freed:
            self.retry_waiting(set())

    def retry_waiting(self, changed: set[str] | None) -> None:
        """Try the waiting new hires again, longest waiting first. With ``changed`` given, only
        the directory entries of those members (and of buddies this decision freed) changed, so a
        new hire is tried only when one of them has become eligible for them, or is them."""
        if changed is not None:
            changed = changed | self._freed
        # Who changed and may be a buddy at all (a joining new hire is nobody's buddy): with a
        # stream of joins and many waiting, checking each pair was quadratic.
        search = self._search
        hopeful = [c for c in sorted(changed or ()) if may_be_a_buddy(search, c)]
        for onboarding in self.state.onboardings.waiting_in_order():
            new_hire_id = onboarding.new_hire_id
            if new_hire_id in self._settled or not onboarding.is_open:
                continue
            if (
                changed is not None
                and new_hire_id not in changed
                and not (hopeful and could_be_buddy(search, new_hire_id, hopeful))
            ):
                continue  # nobody who changed is eligible for them: the search would fail
            choice = choose_buddy(search, new_hire_id)
            if choice is not None:
                self._settled.add(new_hire_id)
                self._give(onboarding, choice)

    # Steps -------------------------------------------------------------------------------------

    def _starts(self, onboarding: Onboarding, cause_id: str) -> bool:
        """Whether this join started the onboarding, which has no buddy yet."""
        return (
            onboarding.started_by == cause_id
            and onboarding.is_open
            and onboarding.buddy_id is None
            and onboarding.new_hire_id not in self.state.onboardings.waiting
        )

    def _first_buddy(self, onboarding: Onboarding) -> None:
        self._settled.add(onboarding.new_hire_id)
        choice = choose_buddy(self._search, onboarding.new_hire_id)
        if choice is not None:
            self._give(onboarding, choice)
            return
        stages = eligibility_stages(self._search, onboarding.new_hire_id)
        self.outputs.append(
            BuddyUnavailable(new_hire_id=onboarding.new_hire_id, reason=no_buddy_reason(stages))
        )

    def _replace_buddy(self, onboarding: Onboarding, why: str) -> None:
        previous = onboarding.buddy_id
        if previous is None or onboarding.new_hire_id in self._settled:
            return
        self._settled.add(onboarding.new_hire_id)
        self._release(previous)
        choice = choose_buddy(self._search, onboarding.new_hire_id, exclude=(previous,))
        if choice is not None:
            self._give(onboarding, choice, replacing=previous, why=why)
            return
        stages = eligibility_stages(self._search, onboarding.new_hire_id, exclude=(previous,))
        reason = f"{_sentence(REPLACEMENT_REASONS[why])}. {no_buddy_reason(stages)}"
        self.outputs.append(BuddyUnavailable(new_hire_id=onboarding.new_hire_id, reason=reason))

    def _check_reporting_lines(self, member_id: str, *, everyone: bool) -> None:
        """A profile change may put a buddy in their new hire's reporting line (a new manager):
        that buddy is replaced."""
        book = self.state.onboardings
        if everyone:
            concerned = book.with_buddy()
        else:
            own = book.open_onboarding(member_id)
            concerned = [*([own] if own is not None else []), *book.looked_after_by(member_id)]
        for onboarding in concerned:
            buddy_id = onboarding.buddy_id
            if (
                onboarding.is_open
                and buddy_id is not None
                and in_reporting_line(self._search, onboarding.new_hire_id, buddy_id)
            ):
                self._replace_buddy(onboarding, "reporting_line")

    def _end_early(self, onboarding: Onboarding) -> None:
        self._settled.add(onboarding.new_hire_id)
        if onboarding.buddy_id is not None:
            self._release(onboarding.buddy_id)
        self.outputs.append(
            OnboardingCompleted(
                new_hire_id=onboarding.new_hire_id,
                checkins=len(onboarding.due),
                ended_early=True,
            )
        )

    def _complete(self, onboarding: Onboarding) -> None:
        self._settled.add(onboarding.new_hire_id)
        if onboarding.buddy_id is not None:
            self._release(onboarding.buddy_id)
        self.outputs.append(
            OnboardingCompleted(
                new_hire_id=onboarding.new_hire_id, checkins=len(onboarding.checkins)
            )
        )

    def _give(
        self,
        onboarding: Onboarding,
        choice: BuddyChoice,
        *,
        replacing: str | None = None,
        why: str | None = None,
    ) -> None:
        new_hire_id, buddy_id = onboarding.new_hire_id, choice.buddy_id
        if replacing is None or why is None:
            self.outputs.append(
                BuddyAssigned(new_hire_id=new_hire_id, buddy_id=buddy_id, reasons=choice.reasons)
            )
        else:
            self.outputs.append(
                BuddyReassigned(
                    new_hire_id=new_hire_id,
                    previous_buddy_id=replacing,
                    buddy_id=buddy_id,
                    reason=REPLACEMENT_REASONS[why],
                    reasons=choice.reasons,
                )
            )
        self._extra_load[buddy_id] += 1
        self._extra_given[buddy_id] += 1
        self.outputs.extend(self._checkins(onboarding, buddy_id))

    def _checkins(self, onboarding: Onboarding, buddy_id: str) -> Iterable[CheckinScheduled]:
        """The rhythm for a new buddy: planned from the start date the first time, the same
        moments with the new buddy afterwards (check-ins already due stay as they were)."""
        if onboarding.checkins:
            for planned in onboarding.checkins:
                if planned.checkin_id not in onboarding.due:
                    yield CheckinScheduled(
                        new_hire_id=onboarding.new_hire_id,
                        buddy_id=buddy_id,
                        checkin_id=planned.checkin_id,
                        label=planned.label,
                        due_at=planned.due_at,
                    )
            return
        new_hire = self.state.candidates.facts[onboarding.new_hire_id]
        policy = self.state.policy
        for point in policy.checkin_rhythm:
            day = new_hire.start_date + timedelta(days=point.after_days)
            yield CheckinScheduled(
                new_hire_id=onboarding.new_hire_id,
                buddy_id=buddy_id,
                checkin_id=onboarding.checkin_id(point.checkin_id),
                label=point.label,
                due_at=checkin_moment(new_hire.hours, day, policy.checkin_minutes_after_start),
            )

    def _release(self, buddy_id: str) -> None:
        self._extra_load[buddy_id] -= 1
        self._freed.add(buddy_id)

    def _present(self, member_id: str) -> bool:
        member = self.state.directory.member(self.state.org_id, member_id)
        return member is not None and member.takes_part_on(self._today)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
