"""The onboarding service through a real broker: from member.joined to a buddy, check-ins that
come due as the clock ticks, and completion; redelivery and restart change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, decode_event, new_event
from schemas.base import EventPayload
from schemas.clock import ClockTicked
from schemas.members import MemberJoined
from schemas.onboarding import (
    BuddyAssigned,
    CheckinDue,
    CheckinScheduled,
    OnboardingCompleted,
)
from services.common.records import event_record
from services.onboarding.app import DEFINITION
from tests.factories import member_profile
from tests.integration.support import running
from tests.kafka_io import produce, read_all, wait_for_records

pytestmark = pytest.mark.broker

ORG = "acme"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""A Monday; the new hire starts a week later."""


def joined(member_id: str, **overrides: Any) -> CloudEvent[Any]:
    profile = MemberJoined.model_validate(
        member_profile(member_id, **{"start_date": date(2023, 5, 1), **overrides})
    )
    return new_event(profile, source="/tests", orgid=ORG, time=T0, subject=member_id)


def ticked(now: datetime, sequence: int) -> CloudEvent[Any]:
    return new_event(
        ClockTicked(now=now, sequence=sequence), source="/tests/clock", orgid=ORG, time=now
    )


async def publish(kafka: KafkaSettings, topics: TopicSettings, event: CloudEvent[Any]) -> None:
    record = event_record(event, topics)
    await produce(
        kafka.bootstrap_servers, record.topic, record.value, key=record.key, headers=record.headers
    )


def decoded(kafka: KafkaSettings, topics: TopicSettings) -> list[CloudEvent[Any]]:
    records = read_all(kafka.bootstrap_servers, topics.name(Topic.ONBOARDING))
    return [decode_event(r.value or b"") for r in records]


def of_type(events: list[CloudEvent[Any]], kind: type[EventPayload]) -> list[CloudEvent[Any]]:
    return [e for e in events if isinstance(e.data, kind)]


async def wait_until(
    kafka: KafkaSettings,
    topics: TopicSettings,
    condition: Callable[[list[CloudEvent[Any]]], bool],
) -> list[CloudEvent[Any]]:
    def decoded_condition(records: list[Any]) -> bool:
        return condition([decode_event(r.value or b"") for r in records])

    await wait_for_records(
        kafka.bootstrap_servers, topics.name(Topic.ONBOARDING), decoded_condition
    )
    return decoded(kafka, topics)


async def test_a_new_hire_gets_a_buddy_then_checkins_as_the_clock_ticks_then_completes(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    new_hire = joined("nina", new_hire=True, start_date=T0.date() + timedelta(days=7), team="Data")
    async with running(DEFINITION, kafka, topics):
        await publish(kafka, topics, joined("ada", team="Platform", buddy_volunteer=True))
        await publish(kafka, topics, joined("bob", department="Sales", team="EMEA"))
        await publish(kafka, topics, joined("cleo", team="Data"))
        await publish(kafka, topics, new_hire)

        planned = await wait_until(
            kafka, topics, lambda events: len(of_type(events, CheckinScheduled)) >= 6
        )
        (assigned,) = of_type(planned, BuddyAssigned)
        assert (assigned.data.new_hire_id, assigned.data.buddy_id) == ("nina", "ada")
        assert "volunteered to be a buddy" in assigned.data.reasons
        assert assigned.causationid == str(new_hire.id)
        scheduled = [e.data for e in of_type(planned, CheckinScheduled)]
        assert [c.label for c in scheduled] == [
            "day 1",
            "week 1",
            "week 2",
            "week 4",
            "week 8",
            "week 12",
        ]
        assert {c.buddy_id for c in scheduled} == {"ada"}

        await publish(kafka, topics, new_hire)  # redelivered: no second onboarding
        for sequence, checkin in enumerate(scheduled, start=1):
            await publish(
                kafka, topics, ticked(checkin.due_at - timedelta(minutes=5), 2 * sequence)
            )
            await publish(
                kafka, topics, ticked(checkin.due_at + timedelta(minutes=5), 2 * sequence + 1)
            )

        finished = await wait_until(
            kafka, topics, lambda events: bool(of_type(events, OnboardingCompleted))
        )

    due = of_type(finished, CheckinDue)
    assert [e.data.checkin_id for e in due] == [c.checkin_id for c in scheduled]
    assert all(e.data.due_at < e.time <= e.data.due_at + timedelta(minutes=5) for e in due)
    (completed,) = of_type(finished, OnboardingCompleted)
    assert (completed.data.checkins, completed.data.ended_early) == (6, False)
    assert finished[-1].id == completed.id  # after the last check-in
    assert len(of_type(finished, BuddyAssigned)) == 1

    async with running(DEFINITION, kafka, topics) as restarted:  # rebuilt from the topics
        assert restarted.ledgers.measures()["onboardings_open"] == 0
        await asyncio.sleep(1)
    assert len(decoded(kafka, topics)) == len(finished)  # nothing decided twice
