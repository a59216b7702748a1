"""Events in, domain calls, events out: the onboarding's processor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date
from typing import Any

from schemas import CloudEvent
from schemas.base import EventPayload
from schemas.clock import ClockTicked
from schemas.members import (
    MemberErased,
    MemberJoined,
    MemberLeft,
    MemberOptedOut,
    MemberPaused,
    MemberProfileUpdated,
    MemberResumed,
)
from schemas.onboarding import (
    BuddyAssigned,
    BuddyReassigned,
    BuddyUnavailable,
    CheckinDue,
    CheckinScheduled,
    OnboardingCompleted,
)
from services.common.domain.projection import DirectoryProcessor
from services.common.processing import Emit
from services.onboarding.domain.book import OnboardingBook, needs_onboarding
from services.onboarding.domain.candidates import CandidateIndex, IndexChange
from services.onboarding.domain.planner import Decision, MemberChange, OrgState
from services.onboarding.domain.policy import PolicyBook

MEMBER_CHANGES: Mapping[type[EventPayload], MemberChange] = {
    MemberJoined: MemberChange.JOINED,
    MemberProfileUpdated: MemberChange.UPDATED,
    MemberPaused: MemberChange.PAUSED,
    MemberResumed: MemberChange.RESUMED,
    MemberOptedOut: MemberChange.OPTED_OUT,
    MemberLeft: MemberChange.LEFT,
    MemberErased: MemberChange.LEFT,
}

OWN_OUTPUTS: tuple[type[EventPayload], ...] = (
    BuddyAssigned,
    BuddyReassigned,
    BuddyUnavailable,
    CheckinScheduled,
    CheckinDue,
    OnboardingCompleted,
)


class OnboardingProcessor(DirectoryProcessor):
    """Keeps the member directory, a candidate index and every onboarding; decides buddies,
    check-ins and completions."""

    def __init__(self, policies: PolicyBook | None = None, *, use_index: bool = True) -> None:
        super().__init__()
        self.policies = policies or PolicyBook()
        self.use_index = use_index
        self.candidates = CandidateIndex()
        self.book = OnboardingBook()
        self._last_change: tuple[str, IndexChange] | None = None
        """What the latest member event changed in the index, for its decision (whether a
        manager changed); the ledger decides an event right after applying it."""

    def apply(self, event: CloudEvent[Any]) -> None:
        super().apply(event)
        payload = event.data
        if isinstance(payload, ClockTicked):  # most events by far: told apart first
            self.book.for_update(event.orgid).tick(payload.now.astimezone(UTC))
        elif (change := MEMBER_CHANGES.get(type(payload))) is not None:
            self._apply_member_event(event, change)
        elif isinstance(payload, OWN_OUTPUTS):
            self.book.for_update(event.orgid).fold(payload, event.time)

    def _apply_member_event(self, event: CloudEvent[Any], change: MemberChange) -> None:
        member_id: str = event.data.member_id
        member = self.directory.member(event.orgid, member_id)
        if member is None:
            return  # an event about someone never seen: the directory ignored it too
        self._last_change = (str(event.id), self.candidates.update(event.orgid, member))
        onboardings = self.book.for_update(event.orgid)
        if change is MemberChange.JOINED and needs_onboarding(
            member.profile, _day(event), self.policies.for_org(event.orgid)
        ):
            onboardings.start(member_id, str(event.id))
        elif change in (MemberChange.LEFT, MemberChange.OPTED_OUT):
            onboardings.end_early(member_id, str(event.id))

    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        payload = event.data
        change = MEMBER_CHANGES.get(type(payload))
        if change is not None:
            decision = self._decision(event.orgid, _day(event))
            decision.member_event(change, payload.member_id, str(event.id), self._change_of(event))
        elif isinstance(payload, ClockTicked):
            if not self.book.of(event.orgid).has_work_at(payload.now):
                return ()  # most ticks: decided without a conversion of their time (1.5 us)
            now = payload.now.astimezone(UTC)
            decision = self._decision(event.orgid, now.date())
            decision.tick(now)
        else:
            return ()
        return [
            Emit(output, subject=getattr(output, "new_hire_id", None))
            for output in decision.outputs
        ]

    def _decision(self, org_id: str, today: date) -> Decision:
        state = OrgState(
            org_id=org_id,
            policy=self.policies.for_org(org_id),
            directory=self.directory,
            candidates=self.candidates.of(org_id),
            onboardings=self.book.of(org_id),
            use_index=self.use_index,
        )
        return Decision(state, today)

    def _change_of(self, event: CloudEvent[Any]) -> IndexChange | None:
        if self._last_change is not None and self._last_change[0] == str(event.id):
            return self._last_change[1]
        return None

    def measures(self) -> Mapping[str, float]:
        open_onboardings = waiting = pending = 0
        for onboardings in self.book.organisations():
            open_onboardings += len(onboardings.open_ids)
            waiting += len(onboardings.waiting)
            pending += len(onboardings.pending)
        return {
            **super().measures(),
            "onboardings_open": float(open_onboardings),
            "onboardings_waiting_for_buddy": float(waiting),
            "checkins_pending": float(pending),
        }


def _day(event: CloudEvent[Any]) -> date:
    """The (UTC) day of an event's domain time: eligibility and tenure are judged on it."""
    return event.time.astimezone(UTC).date()
