"""Runtime benchmark: events per second through a service, against raw aiokafka side by side.

Both sides read the same N member.joined records from the embedded broker (or
KAFKA_BOOTSTRAP_SERVERS) and publish one answer per record, committing offsets as they go:

- baseline: a bare aiokafka consumer (group, manual commit per record) and producer;
- platform: the ServiceRuntime (FastStream, decoding and validation, deduplication ledger,
  commit after the handler, metrics) with a processor that answers every join.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from infra.broker import EmbeddedBroker
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings, provision_topics
from schemas import CloudEvent, new_event
from schemas.members import MemberJoined
from schemas.onboarding import BuddyUnavailable
from services.common.domain.projection import DirectoryProcessor
from services.common.logging import configure_logging
from services.common.processing import Emit
from services.common.records import event_record
from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.common.settings import ServiceSettings
from services.common.simulation import OrganisationShape, generate_members

RECORDS = 5_000


class Answering(DirectoryProcessor):
    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        if isinstance(event.data, MemberJoined):
            return (Emit(BuddyUnavailable(new_hire_id=event.data.member_id, reason="bench")),)
        return ()


async def fill(kafka: KafkaSettings, topics: TopicSettings, count: int) -> None:
    members = generate_members(5, OrganisationShape(members=count))
    producer = AIOKafkaProducer(**kafka.aiokafka_params(), linger_ms=5)
    await producer.start()
    try:
        moment = datetime(2026, 3, 1, tzinfo=UTC)
        for number, member in enumerate(members):
            event = new_event(member, source="/bench", orgid=f"org{number % 24}", time=moment)
            record = event_record(event, topics)
            await producer.send(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
        await producer.flush()
    finally:
        await producer.stop()


async def count_answers(kafka: KafkaSettings, topic: str, expected: int) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.aiokafka_params(),
        auto_offset_reset="earliest",
        group_id=f"count-{uuid.uuid4().hex}",
    )
    await consumer.start()
    try:
        seen = 0
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=200)
            seen += sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()


async def baseline(kafka: KafkaSettings, topics: TopicSettings, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topics.name(Topic.MEMBERS),
        **kafka.aiokafka_params(),
        group_id=f"{topics.prefix}baseline",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    producer = AIOKafkaProducer(**kafka.aiokafka_params())
    await consumer.start()
    await producer.start()
    try:
        await consumer.getmany(timeout_ms=100)  # joins the group
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        started = time.perf_counter()
        filling = asyncio.create_task(fill(kafka, topics, count))
        handled = 0
        async for record in consumer:
            await producer.send_and_wait(
                topics.name(Topic.ONBOARDING), record.value, key=record.key
            )
            await consumer.commit()
            handled += 1
            if handled == count:
                break
        await filling
        return time.perf_counter() - started
    finally:
        await consumer.stop()
        await producer.stop()


async def platform(kafka: KafkaSettings, topics: TopicSettings, count: int) -> float:
    definition = ServiceDefinition("bench", (Topic.MEMBERS, Topic.ONBOARDING), Answering)
    settings = ServiceSettings(session_timeout_ms=6000, heartbeat_interval_ms=500)
    runtime = ServiceRuntime(definition, settings=settings, kafka=kafka, topics=topics)
    await runtime.start()
    try:
        await runtime.rebuilt.wait()
        started = time.perf_counter()
        filling = asyncio.create_task(fill(kafka, topics, count))
        await count_answers(kafka, topics.name(Topic.ONBOARDING), count)
        await filling
        return time.perf_counter() - started
    finally:
        await runtime.stop()


async def measure(kafka: KafkaSettings, count: int) -> dict[str, float]:
    figures = {}
    for name, run in (("raw aiokafka", baseline), ("platform runtime", platform)):
        topics = TopicSettings(prefix=f"bench{uuid.uuid4().hex[:6]}.", partitions=6)
        provision_topics(kafka, topics)
        seconds = await run(kafka, topics, count)
        figures[name] = count / seconds
    return figures


def main(count: int = RECORDS) -> None:
    configure_logging("bench", level="WARNING")
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker: AbstractContextManager[Any] = nullcontext() if configured else EmbeddedBroker()
    with broker as embedded:
        servers = configured or embedded.bootstrap_servers
        figures = asyncio.run(measure(KafkaSettings(bootstrap_servers=servers), count))
    print(f"== runtime: {count} events produced, consumed, answered and committed ==")
    print("(the platform also reads its own answers back: its topics include its outputs)")
    for name, rate in figures.items():
        print(f"  {name:<18} {rate:8,.0f} events/s")


if __name__ == "__main__":
    main()
