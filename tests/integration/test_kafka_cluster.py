"""Faults on a three-node Apache Kafka cluster: a 1,000-person round and a burst of new hires in
flight, the leader of the busiest partitions killed (``kill -9``), restarted, then another node
killed. Every decision must appear exactly once, nothing written may be lost, the services must go
on once new leaders are elected, and their lag (from real end offsets) must come back to zero.

It starts its own cluster (three JVMs), so it runs in the Apache Kafka pass of ``make test``
(``RITUALS_TEST_ENGINE=kafka``) only; the embedded broker is one process and has no leaders to
kill.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from infra.apache_kafka import ApacheKafka
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings, ensure_topics
from schemas import CloudEvent, decode_event, new_event
from schemas.coffee import CoffeeMatched, CoffeeRoundCompleted, CoffeeRoundRequested
from schemas.members import MemberJoined
from schemas.onboarding import BuddyAssigned
from services.common.admission import partition_of
from services.common.records import event_record
from services.common.runtime import ServiceDefinition, consumer_group
from services.matcher.app import DEFINITION as MATCHER
from services.onboarding.app import DEFINITION as ONBOARDING
from tests.factories import member_profile
from tests.integration.support import running
from tests.kafka_io import read_all

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        os.environ.get("RITUALS_TEST_ENGINE") != "kafka",
        reason="starts a three-node Apache Kafka cluster: runs in the Apache Kafka pass of "
        "make test (RITUALS_TEST_ENGINE=kafka)",
    ),
    pytest.mark.timeout(600),
]

PARTITIONS = 6
BIG = "big"
"""The organisation of the 1,000-person round: one key, so one partition of each topic."""
SMALL = [f"o{n:02}" for n in range(12)]
NEW_HIRES_PER_ORG = 8
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TEAMS = [f"team-{n}" for n in range(20)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[ApacheKafka]:
    with ApacheKafka(brokers=3) as kafka:
        yield kafka


def joined(org: str, member_id: str, **overrides: Any) -> CloudEvent[Any]:
    profile = MemberJoined.model_validate(
        member_profile(member_id, **{"start_date": date(2023, 5, 1), **overrides})
    )
    return new_event(profile, source="/tests", orgid=org, time=T0, subject=member_id)


class Writer:
    """Inputs written as a careful client would: idempotent, acknowledged by every in-sync
    replica, so a write that was acknowledged survives the loss of a leader."""

    def __init__(self, servers: str, topics: TopicSettings) -> None:
        self.topics = topics
        self.producer = AIOKafkaProducer(
            bootstrap_servers=servers.split(","), enable_idempotence=True, acks="all"
        )
        self.written: Counter[str] = Counter()

    async def write(self, events: list[CloudEvent[Any]]) -> None:
        sends = []
        for event in events:
            record = event_record(event, self.topics)
            sends.append(
                await self.producer.send(
                    record.topic, record.value, key=record.key, headers=list(record.headers)
                )
            )
            self.written[record.topic] += 1
        await asyncio.gather(*sends)


@asynccontextmanager
async def writing(servers: str, topics: TopicSettings) -> AsyncIterator[Writer]:
    found = Writer(servers, topics)
    await found.producer.start()
    try:
        yield found
    finally:
        await found.producer.stop()


def of_type(events: list[CloudEvent[Any]], kind: type) -> list[CloudEvent[Any]]:
    return [event for event in events if isinstance(event.data, kind)]


def decoded(servers: str, topic: str) -> list[CloudEvent[Any]]:
    """What a consumer of the platform sees: committed transactions only. A transaction that
    failed (its leader or coordinator killed) leaves its records in the log, marked aborted,
    and the batch is decided again: read uncommitted, those look like decisions made twice."""
    records = read_all(servers, topic, committed_only=True)
    return [decode_event(record.value or b"") for record in records]


async def until(
    condition: Any,
    within: float,
    what: str,
    servers_to_show: str = "",
    topics_to_show: tuple[str, ...] = (),
) -> None:
    """Until ``condition()`` holds; a client error while leaders move counts as "not yet". On
    failure, where the services wait and what ``topics_to_show`` hold (stderr)."""
    deadline = time.monotonic() + within
    while True:
        try:
            if await asyncio.to_thread(condition):
                return
        except KafkaError:
            pass
        if time.monotonic() > deadline:
            show_waiting_tasks()
            for topic in topics_to_show:
                show_topic(servers_to_show, topic)
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(1)


def show_topic(servers: str, topic: str) -> None:
    """Each partition's event types, as committed and as written (aborted transactions too)."""
    for committed_only in (True, False):
        kinds: Counter[tuple[int, str]] = Counter()
        for record in read_all(servers, topic, committed_only=committed_only):
            kind = json.loads(record.value or b"{}").get("type", "?")
            kinds[(record.partition, kind)] += 1
        seen = "committed" if committed_only else "written"
        print(f"--- {topic} {seen}: {sorted(kinds.items())}", file=sys.stderr)


def show_waiting_tasks() -> None:
    """Where every task of the services waits, on stderr: a stall shows where it is stuck."""
    for task in asyncio.all_tasks():
        print(f"--- task {task.get_name()}", file=sys.stderr)
        awaiting: Any = task.get_coro()
        while awaiting is not None:
            frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "gi_frame", None)
            if frame is not None:
                print(f"    {frame.f_code.co_filename}:{frame.f_lineno}", file=sys.stderr)
            awaiting = getattr(awaiting, "cr_await", None) or getattr(
                awaiting, "gi_yieldfrom", None
            )


def lag(servers: str, topics: TopicSettings, definition: ServiceDefinition) -> int:
    """Records of the service's topics its group has not committed yet (real end offsets)."""
    admin = KafkaAdminClient(bootstrap_servers=servers.split(","))
    consumer = KafkaConsumer(bootstrap_servers=servers.split(","))
    try:
        group = consumer_group(topics, definition.name)
        committed = admin.list_group_offsets(group)[group]
        partitions = [
            TopicPartition(topics.name(topic), p)
            for topic in definition.topics
            for p in range(PARTITIONS)
        ]
        ends = consumer.end_offsets(partitions)
        return sum(
            end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items()
        )
    finally:
        consumer.close()
        admin.close()


async def test_leaders_killed_mid_round_and_mid_burst_lose_and_repeat_nothing(
    cluster: ApacheKafka,
) -> None:
    servers = cluster.bootstrap_servers
    kafka = KafkaSettings(bootstrap_servers=servers)
    topics = TopicSettings(prefix=f"f{uuid.uuid4().hex[:8]}.", partitions=PARTITIONS)
    ensure_topics(kafka, topics)
    coffee, onboarding = topics.name(Topic.COFFEE), topics.name(Topic.ONBOARDING)
    busiest = partition_of(BIG.encode(), PARTITIONS)

    big_members = [
        joined(BIG, f"m{n:04}", team=TEAMS[n % len(TEAMS)], interests=("chess",))
        for n in range(1_000)
    ]
    buddies = [
        joined(org, f"{org}-buddy{n}", team=f"team-{n}", buddy_volunteer=True)
        for org in SMALL
        for n in range(4)
    ]
    new_hires = [
        joined(org, f"{org}-hire{n}", new_hire=True, start_date=T0.date() + timedelta(days=7))
        for org in SMALL
        for n in range(NEW_HIRES_PER_ORG)
    ]
    request = new_event(
        CoffeeRoundRequested(round_id="week-10", week_starting=date(2026, 3, 9)),
        source="/tests",
        orgid=BIG,
        time=T0 + timedelta(days=1),
    )
    killed: list[int] = []

    def round_done() -> bool:
        found = decoded(cluster.running_servers(), coffee)
        return bool(of_type(found, CoffeeRoundCompleted))

    def buddies_done() -> bool:
        found = of_type(decoded(cluster.running_servers(), onboarding), BuddyAssigned)
        return len({e.data.new_hire_id for e in found}) == len(new_hires)

    async with AsyncExitStack() as stack:
        inputs = await stack.enter_async_context(writing(servers, topics))
        await inputs.write([*big_members, *buddies])
        matcher = await stack.enter_async_context(running(MATCHER, kafka, topics))
        onboarder = await stack.enter_async_context(running(ONBOARDING, kafka, topics))

        await inputs.write([request, *new_hires[: len(new_hires) // 2]])
        first = cluster.leaders(coffee)[busiest]
        cluster.kill(first)  # the leader of the round's partition, mid-round
        killed.append(first)
        try:
            done_before_the_kill = await asyncio.to_thread(round_done)
        except KafkaError:  # cannot tell while leaders move; the round is that young
            done_before_the_kill = False
        await inputs.write(new_hires[len(new_hires) // 2 :])  # written while leaders move
        await asyncio.sleep(5)
        cluster.restart(first)
        leading = cluster.leaders(onboarding)
        second = next(
            node
            for node in (leading[busiest], *leading.values(), 1, 2, 3)
            if node not in (first, -1)
        )
        cluster.kill(second)
        killed.append(second)

        shown = (cluster.running_servers(), (coffee, onboarding))
        await until(round_done, 180, "the round completed", *shown)
        await until(buddies_done, 180, "every new hire had a buddy", *shown)
        cluster.restart(second)
        for definition in (MATCHER, ONBOARDING):
            await until(
                lambda d=definition: lag(cluster.running_servers(), topics, d) == 0,
                120,
                f"{definition.name} lag 0",
            )
        # Ready again, not necessarily at this instant: a restarted node can take the group's
        # coordinator back, and the rebalance that follows rebuilds before deciding again.
        await until(lambda: matcher.ready and onboarder.ready, 120, "both ready again")

    assert first != second
    assert not done_before_the_kill, "the round was decided before its leader died"
    coffee_events = decoded(servers, coffee)
    matched = of_type(coffee_events, CoffeeMatched)
    groups = Counter(e.data.group_id for e in matched)
    assert set(groups.values()) == {1}, "a group decided twice"
    placed = Counter(p.member_id for e in matched for p in e.data.participants)
    (completed,) = of_type(coffee_events, CoffeeRoundCompleted)
    assert set(placed.values()) == {1}, "someone placed twice"
    assert len(placed) + completed.data.unmatched == 1_000
    assert completed.data.groups == len(matched)

    assigned = of_type(decoded(servers, onboarding), BuddyAssigned)
    per_hire = Counter(e.data.new_hire_id for e in assigned)
    assert per_hire == Counter({e.data.member_id: 1 for e in new_hires})

    for topic, count in inputs.written.items():  # every acknowledged input is still there
        assert len(read_all(servers, topic)) >= count, topic
