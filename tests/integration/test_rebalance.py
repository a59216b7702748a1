"""Rebalances while events flow: instances join and leave one by one, as in a rolling deploy, and
every event is still decided exactly once (none skipped, none decided by two instances).
Runs on both brokers: the embedded broker's re-joins are slower, the test waits for each."""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AsyncExitStack

import pytest
from aiokafka import AIOKafkaProducer

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from services.common.records import event_record
from services.common.runtime import ServiceRuntime
from tests.integration.support import running
from tests.integration.test_runtime import DEFINITION, joined
from tests.kafka_io import read_all

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        os.environ.get("RITUALS_TEST_ENGINE") != "kafka"
        and not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        reason="rebalances are Apache Kafka's to prove (they pass on the embedded broker too, "
        "in 42 s): this runs in the Apache Kafka pass of make test",
    ),
]

ORGANISATIONS = [f"org{n}" for n in range(24)]
"""Keys of the published events: enough organisations to land on every partition."""
EVENTS_PER_SECOND = 20
PHASE_SECONDS = 4
"""How long each membership of the group handles events once its rebalance has settled."""
REBALANCE_WITHIN_SECONDS = 90
ANSWERS_WITHIN_SECONDS = 90
JOINED = "rituals.member.joined"


class Publisher:
    """Publishes member joins for the organisations in turn, at a steady pace, until stopped;
    keeps the id of every event the broker acknowledged."""

    def __init__(self, kafka: KafkaSettings, topics: TopicSettings) -> None:
        self.kafka = kafka
        self.topics = topics
        self.published: list[str] = []
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka.addresses, acks="all")
        await producer.start()
        try:
            while not self._stopping.is_set():
                await self._publish_next(producer)
                await asyncio.sleep(1 / EVENTS_PER_SECOND)
        finally:
            await producer.stop()

    async def _publish_next(self, producer: AIOKafkaProducer) -> None:
        number = len(self.published)
        event = joined(f"m{number}", org=ORGANISATIONS[number % len(ORGANISATIONS)])
        record = event_record(event, self.topics)
        await producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=list(record.headers)
        )
        self.published.append(str(event.id))

    def stop(self) -> None:
        self._stopping.set()


class Instance:
    """One service instance that joins the group and later leaves it (``runtime.stop()``), in
    any order relative to the others."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.runtime: ServiceRuntime | None = None
        self._lifetime = AsyncExitStack()

    async def join(self, kafka: KafkaSettings, topics: TopicSettings) -> None:
        self.runtime = await self._lifetime.enter_async_context(running(DEFINITION, kafka, topics))

    async def leave(self) -> None:
        await self._lifetime.aclose()  # a second call does nothing

    @property
    def consumed(self) -> float:
        """Events this instance decided while consuming live."""
        if self.runtime is None:
            return 0.0
        value: float = self.runtime.metrics.consumed.labels(DEFINITION.name, JOINED)._value.get()
        return value

    def owned(self, topic: str) -> list[int]:
        if self.runtime is None or not self.runtime.ready:
            return []
        return sorted(p.partition for p in self.runtime.assignment if p.topic == topic)


async def settle(group: Sequence[Instance], topics: TopicSettings) -> None:
    """Wait until exactly these instances are ready and share every partition between them,
    then let them handle events for a while."""
    members = topics.name(Topic.MEMBERS)

    def owners() -> dict[str, list[int]]:
        return {instance.name: instance.owned(members) for instance in group}

    for _ in range(REBALANCE_WITHIN_SECONDS * 5):
        owned = sorted(p for partitions in owners().values() for p in partitions)
        if owned == list(range(topics.partitions)):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"the group never settled: {owners()}")
    await asyncio.sleep(PHASE_SECONDS)


def answers_by_cause(kafka: KafkaSettings, topics: TopicSettings) -> dict[str, list[str]]:
    """Where each cause was answered (``partition@offset``), as every service reads the log:
    read_committed, so an aborted transaction's outputs do not count."""
    topic = topics.name(Topic.ONBOARDING)
    found: dict[str, list[str]] = defaultdict(list)
    for record in read_all(kafka.bootstrap_servers, topic, committed_only=True):
        cause = json.loads(record.value or b"{}")["causationid"]
        found[cause].append(f"{record.partition}@{record.offset}")
    return found


async def wait_until_answered(
    kafka: KafkaSettings, topics: TopicSettings, causes: Sequence[str]
) -> dict[str, list[str]]:
    expected = set(causes)
    found: dict[str, list[str]] = {}
    for _ in range(ANSWERS_WITHIN_SECONDS):
        found = await asyncio.to_thread(answers_by_cause, kafka, topics)
        if expected <= found.keys():
            break
        await asyncio.sleep(1)
    await asyncio.sleep(1)  # an answer made twice would show up meanwhile
    return await asyncio.to_thread(answers_by_cause, kafka, topics)


async def test_instances_join_and_leave_while_events_flow_and_each_event_is_decided_once(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    first, second, third = Instance("first"), Instance("second"), Instance("third")
    publisher = Publisher(kafka, topics)
    async with AsyncExitStack() as cleanup:
        for instance in (first, second, third):
            cleanup.push_async_callback(instance.leave)
        publishing = asyncio.create_task(publisher.run())
        cleanup.callback(publishing.cancel)

        await first.join(kafka, topics)
        await settle([first], topics)
        await second.join(kafka, topics)
        await settle([first, second], topics)
        await third.join(kafka, topics)
        await settle([first, second, third], topics)
        await first.leave()
        await settle([second, third], topics)
        await second.leave()
        await settle([third], topics)

        publisher.stop()
        await publishing
        found = await wait_until_answered(kafka, topics, publisher.published)

    skipped = [cause for cause in publisher.published if cause not in found]
    twice = {cause: places for cause, places in found.items() if len(places) > 1}
    unknown = found.keys() - set(publisher.published)
    assert not skipped, f"{len(skipped)} of {len(publisher.published)} never answered: {skipped}"
    assert not twice, f"answered more than once: {twice}"
    assert not unknown
    shares = {instance.name: instance.consumed for instance in (first, second, third)}
    assert all(share > 0 for share in shares.values()), shares
