"""What a command reads follows what it needs: one organisation's partition of the topics it
checks against, not every organisation's clock ticks since the beginning."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, new_event
from schemas.clock import ClockTicked
from services.common.adapters.history import read_events, read_latest
from services.common.admission import partition_of
from tests.factories import T0, member_joined
from tests.kafka_io import produce_events, read_all

pytestmark = pytest.mark.broker

ORGANISATIONS = [f"org{n}" for n in range(12)]


def tick(org: str, minute: int) -> CloudEvent[Any]:
    now = T0 + timedelta(minutes=minute)
    return new_event(ClockTicked(now=now, sequence=minute), source="/tests", orgid=org, time=now)


def joined(org: str, member_id: str) -> CloudEvent[Any]:
    return new_event(member_joined(member_id), source="/tests", orgid=org, time=T0)


async def test_a_directory_read_takes_the_members_partition_of_one_organisation_only(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    members = [joined(org, f"{org}-m{n}") for org in ORGANISATIONS for n in range(5)]
    ticks = [tick(org, minute) for org in ORGANISATIONS for minute in range(100)]
    await produce_events(kafka.bootstrap_servers, topics, [*members, *ticks])
    progress: list[tuple[int, int]] = []

    found = read_events(
        kafka,
        topics,
        organisation="org3",
        only=(Topic.MEMBERS,),
        on_progress=lambda read, total: progress.append((read, total)),
    )

    assert sorted(e.data.member_id for e in found) == [f"org3-m{n}" for n in range(5)]
    partition = partition_of(b"org3", topics.partitions)
    on_that_partition = [
        r
        for r in read_all(kafka.bootstrap_servers, topics.name(Topic.MEMBERS))
        if r.partition == partition
    ]
    read, _total = progress[-1]
    assert read == len(on_that_partition) < len(members)  # no tick, no other partition


async def test_the_latest_events_are_read_back_from_the_end(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    members = [joined(org, f"{org}-m{n}") for org in ORGANISATIONS for n in range(5)]
    ticks = [tick(org, minute) for org in ORGANISATIONS for minute in range(100)]
    await produce_events(kafka.bootstrap_servers, topics, [*members, *ticks])
    names = [topics.name(topic) for topic in Topic]

    def of_org3(event: CloudEvent[Any]) -> bool:
        return event.orgid == "org3"

    latest, ends = read_latest(kafka, names, 3, of_org3, key=b"org3")
    assert [e.data.sequence for e in latest] == [97, 98, 99]
    assert sum(ends.values()) < len(members) + len(ticks)  # one partition of each topic

    def member_of_org3(event: CloudEvent[Any]) -> bool:
        return of_org3(event) and event.type == "rituals.member.joined"

    found, _ = read_latest(kafka, names, 5, member_of_org3, key=b"org3")  # far back: widened
    assert sorted(e.data.member_id for e in found) == [f"org3-m{n}" for n in range(5)]
    everything, _ = read_latest(kafka, names, 10_000, member_of_org3)
    assert len(everything) == 5
