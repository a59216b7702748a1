"""A matcher fed with events, as the runtime would (Ledger), for the matcher's unit tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from schemas import CloudEvent, EventPayload, new_event
from schemas.coffee import (
    CoffeeMatched,
    CoffeeRoundCompleted,
    CoffeeRoundRequested,
    CoffeeUnmatched,
)
from services.common.processing import Ledger
from services.matcher.domain.policy import CoffeePolicy
from services.matcher.handlers import MatcherProcessor
from services.matcher.settings import Policies
from tests.factories import member_joined

ORG = "acme"
WEEK = date(2026, 3, 2)
JOINED = datetime(2026, 2, 1, tzinfo=UTC)


class Matcher:
    def __init__(self, policy: CoffeePolicy | None = None) -> None:
        self.processor = MatcherProcessor(Policies(policy or CoffeePolicy()))
        self.ledger = Ledger(self.processor, "/rituals/matcher")
        self.published: list[CloudEvent[Any]] = []

    def send(
        self, payload: EventPayload, at: datetime = JOINED, org: str = ORG
    ) -> list[CloudEvent[Any]]:
        return self.deliver(new_event(payload, source="/tests", orgid=org, time=at))

    def deliver(self, event: CloudEvent[Any]) -> list[CloudEvent[Any]]:
        """Handle an event and, like the runtime, fold the outputs back in."""
        outputs = self.ledger.handle(event)
        pending = outputs
        while pending:
            self.published += pending
            pending = self.ledger.record_published(pending)
        return outputs

    def join(self, member_id: str, **profile: Any) -> None:
        defaults: dict[str, Any] = {"start_date": date(2024, 1, 15)}
        self.send(member_joined(member_id, **(defaults | profile)))

    def round(
        self, round_id: str = "r1", week: date = WEEK, **request: Any
    ) -> list[CloudEvent[Any]]:
        moment = datetime.combine(week, time(0), UTC) - timedelta(days=1)
        payload = CoffeeRoundRequested(round_id=round_id, week_starting=week, **request)
        return self.send(payload, at=moment)


def groups(outputs: list[CloudEvent[Any]]) -> list[CoffeeMatched]:
    return [o.data for o in outputs if isinstance(o.data, CoffeeMatched)]


def members_of(outputs: list[CloudEvent[Any]]) -> list[set[str]]:
    return [{p.member_id for p in g.participants} for g in groups(outputs)]


def unmatched(outputs: list[CloudEvent[Any]]) -> dict[str, str]:
    return {o.data.member_id: o.data.reason for o in outputs if isinstance(o.data, CoffeeUnmatched)}


def completed(outputs: list[CloudEvent[Any]]) -> CoffeeRoundCompleted:
    (done,) = [o.data for o in outputs if isinstance(o.data, CoffeeRoundCompleted)]
    return done
