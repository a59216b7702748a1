"""The matcher through a real broker: members join, a round is requested, groups come out."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, decode_event, new_event
from schemas.coffee import CoffeeRoundRequested
from services.common.records import event_record
from services.matcher.app import DEFINITION
from tests.factories import member_joined
from tests.integration.support import running
from tests.kafka_io import produce, read_all, wait_for_records

pytestmark = pytest.mark.broker

ORG = "acme"
WEEK = date(2026, 3, 2)
T0 = datetime(2026, 2, 1, tzinfo=UTC)


async def publish(kafka: KafkaSettings, topics: TopicSettings, event: CloudEvent[Any]) -> None:
    record = event_record(event, topics)
    await produce(
        kafka.bootstrap_servers, record.topic, record.value, key=record.key, headers=record.headers
    )


def coffee_events(kafka: KafkaSettings, topics: TopicSettings, kind: str) -> list[CloudEvent[Any]]:
    events = [
        decode_event(r.value or b"")
        for r in read_all(kafka.bootstrap_servers, topics.name(Topic.COFFEE))
    ]
    return [e for e in events if e.type == f"rituals.coffee.{kind}"]


async def test_a_requested_round_comes_out_as_groups_and_is_decided_once(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    teams = ["Sales", "Platform", "Data", "Design", "Support"]
    for n, team in enumerate(teams):
        joined = member_joined(f"m{n}", team=team, start_date=date(2024, 1, 15))
        await publish(kafka, topics, new_event(joined, source="/tests", orgid=ORG, time=T0))
    request = new_event(
        CoffeeRoundRequested(round_id="week-10", week_starting=WEEK),
        source="/tests",
        orgid=ORG,
        time=T0 + timedelta(days=20),
    )

    async with running(DEFINITION, kafka, topics):
        await publish(kafka, topics, request)
        await wait_for_records(
            kafka.bootstrap_servers,
            topics.name(Topic.COFFEE),
            lambda found: any(b"round_completed" in (r.value or b"") for r in found),
        )
        await publish(kafka, topics, request)  # redelivered: the same event again
        again = new_event(request.data, source="/tests", orgid=ORG, time=request.time)
        await publish(kafka, topics, again)  # requested again: a new event, the same round
        await publish(
            kafka,
            topics,
            new_event(
                CoffeeRoundRequested(round_id="week-11", week_starting=WEEK + timedelta(weeks=1)),
                source="/tests",
                orgid=ORG,
                time=request.time + timedelta(weeks=1),
            ),
        )
        await wait_for_records(
            kafka.bootstrap_servers,
            topics.name(Topic.COFFEE),
            lambda found: sum(b"round_completed" in (r.value or b"") for r in found) >= 2,
        )

    completed = coffee_events(kafka, topics, "round_completed")
    assert [e.data.round_id for e in completed] == ["week-10", "week-11"]
    first_round = [
        e for e in coffee_events(kafka, topics, "matched") if e.data.round_id == "week-10"
    ]
    assert sorted(len(e.data.participants) for e in first_round) == [2, 3]
    placed = {p.member_id for e in first_round for p in e.data.participants}
    assert placed == {f"m{n}" for n in range(5)}
    for matched in first_round:
        assert matched.causationid == str(request.id)
        assert matched.correlationid == request.correlationid
        assert any(reason.startswith("different teams") for reason in matched.data.reasons)
        assert matched.data.slot_start.weekday() < 5
        assert all(p.local_start.endswith("+01:00") for p in matched.data.participants)
    record = read_all(kafka.bootstrap_servers, topics.name(Topic.COFFEE))[-1]
    assert record.key == ORG.encode()
    assert json.loads(record.value or b"{}")["source"] == "/rituals/matcher"
