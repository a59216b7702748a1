"""A small organisation driven through the onboarding processor and its ledger, as the runtime
would (outputs folded back in at once), with helpers to read what was decided."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from schemas import CloudEvent
from schemas.base import EventPayload
from schemas.clock import ClockTicked
from schemas.members import (
    MemberJoined,
    MemberLeft,
    MemberOptedOut,
    MemberPaused,
    MemberProfileUpdated,
    MemberResumed,
)
from services.common.processing import Ledger
from services.onboarding.domain.book import OrgOnboardings
from services.onboarding.domain.policy import BuddyPolicy, PolicyBook
from services.onboarding.handlers import OnboardingProcessor
from tests.factories import ORG, event, member_profile

SOURCE = "/rituals/onboarding"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
"""A Monday morning; the new hires start a week later."""
START = date(2025, 3, 10)
LONG_AGO = date(2023, 1, 9)

PayloadT = TypeVar("PayloadT", bound=EventPayload)


def colleague(member_id: str, **overrides: Any) -> dict[str, Any]:
    """An established member (two years in), not a volunteer unless told."""
    return member_profile(member_id, **{"start_date": LONG_AGO, **overrides})


def new_hire(member_id: str, **overrides: Any) -> dict[str, Any]:
    """Someone starting on ``START``, flagged as a new hire, in Engineering's Data team."""
    fields: dict[str, Any] = {"start_date": START, "new_hire": True, "team": "Data"}
    return member_profile(member_id, **{**fields, **overrides})


class World:
    def __init__(
        self,
        policy: BuddyPolicy | None = None,
        *,
        org: str = ORG,
        use_index: bool = True,
        policies: PolicyBook | None = None,
    ) -> None:
        self.org = org
        self.processor = OnboardingProcessor(
            policies or PolicyBook(default=policy or BuddyPolicy()), use_index=use_index
        )
        self.ledger = Ledger(self.processor, SOURCE)
        self.now = T0
        self.log: list[CloudEvent[Any]] = []
        """Every event in the order handled: inputs and outputs."""
        self._ticks = 0

    # Inputs ------------------------------------------------------------------------------------

    def handle(self, cloud_event: CloudEvent[Any]) -> list[CloudEvent[Any]]:
        self.log.append(cloud_event)
        outputs = self.ledger.handle(cloud_event)
        self.log.extend(outputs)
        self.ledger.record_published(outputs)
        return outputs

    def send(self, payload: EventPayload, *, at: datetime | None = None) -> list[EventPayload]:
        cloud_event = event(payload, org=self.org, time=at or self.now)
        return [output.data for output in self.handle(cloud_event)]

    def join(self, profile: dict[str, Any], *, at: datetime | None = None) -> list[EventPayload]:
        return self.send(MemberJoined.model_validate(profile), at=at)

    def join_all(self, *profiles: dict[str, Any]) -> None:
        for profile in profiles:
            self.join(profile)

    def update(self, profile: dict[str, Any]) -> list[EventPayload]:
        return self.send(MemberProfileUpdated.model_validate(profile))

    def pause(self, member_id: str, until: date | None = None) -> list[EventPayload]:
        return self.send(MemberPaused(member_id=member_id, until=until))

    def resume(self, member_id: str) -> list[EventPayload]:
        return self.send(MemberResumed(member_id=member_id))

    def opt_out(self, member_id: str) -> list[EventPayload]:
        return self.send(MemberOptedOut(member_id=member_id))

    def leave(self, member_id: str) -> list[EventPayload]:
        return self.send(MemberLeft(member_id=member_id))

    def tick(self, now: datetime) -> list[EventPayload]:
        self.now = now
        self._ticks += 1
        return self.send(ClockTicked(now=now, sequence=self._ticks), at=now)

    def advance(self, by: timedelta) -> list[EventPayload]:
        return self.tick(self.now + by)

    # Reading -----------------------------------------------------------------------------------

    @property
    def state(self) -> OrgOnboardings:
        return self.processor.book.of(self.org)

    def buddy_of(self, new_hire_id: str) -> str | None:
        onboarding = self.state.onboardings.get(new_hire_id)
        return onboarding.buddy_id if onboarding is not None else None

    def outputs(self, kind: type[PayloadT]) -> list[PayloadT]:
        return [e.data for e in self.log if e.source == SOURCE and isinstance(e.data, kind)]


def only(payloads: Sequence[EventPayload], kind: type[PayloadT]) -> list[PayloadT]:
    return [payload for payload in payloads if isinstance(payload, kind)]
