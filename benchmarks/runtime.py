"""Runtime benchmark: events per second through a service, against raw aiokafka side by side.

Both sides drain the same backlog of N member.joined records (written before they start, as
after downtime) and answer each with one event, then handle a live stream of N more:

- baseline: raw aiokafka done the fast way: ``getmany`` batches, each record decoded and
  validated as the platform admits it (the same ``admit``), every answer sent without awaiting
  it, the batch's sends awaited together, one commit per batch;
- platform: the ServiceRuntime (admission, deduplication ledger, decisions marked whole, time
  alignment across its topics, metrics) with a processor that answers every join; its backlog
  is first read as history (rebuild), then decided (unfinished causes), then it goes live.

Each side runs several times on fresh topics; min / median / max are printed with the ratio.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from benchmarks.engines import Comparison, Engine, run_alone
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings, ensure_topics
from schemas import CloudEvent, new_event
from schemas.members import MemberJoined
from schemas.onboarding import BuddyUnavailable
from services.common.admission import admit
from services.common.domain.projection import DirectoryProcessor
from services.common.logging import configure_logging
from services.common.processing import Emit
from services.common.records import event_record
from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.common.settings import ServiceSettings
from services.common.simulation import OrganisationShape, generate_members

RECORDS = 5_000
RUNS = 3
BATCH = 500
BENCHMARK = "throughput: a backlog then a live stream, each event answered"


class Answering(DirectoryProcessor):
    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        if isinstance(event.data, MemberJoined):
            return (Emit(BuddyUnavailable(new_hire_id=event.data.member_id, reason="bench")),)
        return ()


async def produce(
    kafka: KafkaSettings, topics: TopicSettings, events: Iterable[CloudEvent[Any]]
) -> None:
    """Write events as a service does (topic, key, headers), pipelined, all acknowledged."""
    producer = AIOKafkaProducer(**kafka.aiokafka_params(), linger_ms=5)
    await producer.start()
    try:
        sends = []
        for event in events:
            record = event_record(event, topics)
            sends.append(
                await producer.send(
                    record.topic, record.value, key=record.key, headers=list(record.headers)
                )
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def fill(kafka: KafkaSettings, topics: TopicSettings, count: int, first: int = 0) -> None:
    members = generate_members(5 + first, OrganisationShape(members=count))
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    await produce(
        kafka,
        topics,
        (
            new_event(
                member.model_copy(update={"member_id": f"{member.member_id}-{first}"}),
                source="/bench",
                orgid=f"org{number % 24}",
                time=moment,
            )
            for number, member in enumerate(members)
        ),
    )


async def count_answers(kafka: KafkaSettings, topic: str, expected: int, partitions: int) -> None:
    """Wait until the topic holds ``expected`` records (assigned, no group: no join to wait for)."""
    consumer = AIOKafkaConsumer(**kafka.aiokafka_params(), enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        seen = 0
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=200)
            seen += sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()


async def baseline(kafka: KafkaSettings, topics: TopicSettings, count: int) -> float:
    """The backlog and the live stream through raw aiokafka; seconds until all is answered."""
    consumer = AIOKafkaConsumer(
        topics.name(Topic.MEMBERS),
        **kafka.aiokafka_params(),
        group_id=f"{topics.prefix}baseline",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    producer = AIOKafkaProducer(**kafka.aiokafka_params(), linger_ms=5)
    partitions = topics.partitions  # as provisioned
    started = time.perf_counter()
    await consumer.start()
    await producer.start()
    try:
        live = asyncio.create_task(fill(kafka, topics, count, first=count))
        handled = 0
        while handled < 2 * count:
            batch = await consumer.getmany(timeout_ms=200, max_records=BATCH)
            sends = []
            for records in batch.values():
                for record in records:
                    event = admit(record, topics, partitions)
                    answer = new_event(
                        BuddyUnavailable(new_hire_id=event.data.member_id, reason="bench"),
                        source="/bench",
                        orgid=event.orgid,
                        time=event.time,
                    )
                    out = event_record(answer, topics)
                    sends.append(await producer.send(out.topic, out.value, key=out.key))
                    handled += 1
            await asyncio.gather(*sends)
            if batch:
                await consumer.commit()
        await live
        return time.perf_counter() - started
    finally:
        await consumer.stop()
        await producer.stop()


async def platform(kafka: KafkaSettings, topics: TopicSettings, count: int) -> float:
    """The backlog and the live stream through the runtime; seconds until all is answered."""
    definition = ServiceDefinition("bench", (Topic.MEMBERS, Topic.ONBOARDING), Answering)
    settings = ServiceSettings(session_timeout_ms=6000, heartbeat_interval_ms=500)
    runtime = ServiceRuntime(definition, settings=settings, kafka=kafka, topics=topics)
    started = time.perf_counter()
    await runtime.start()
    try:
        live = asyncio.create_task(fill(kafka, topics, count, first=count))
        await count_answers(kafka, topics.name(Topic.ONBOARDING), 2 * count, topics.partitions)
        await live
        return time.perf_counter() - started
    finally:
        await runtime.stop()


Side = Callable[[KafkaSettings, TopicSettings, int], Awaitable[float]]


async def measure(kafka: KafkaSettings, count: int, runs: int) -> dict[str, list[float]]:
    sides: dict[str, Side] = {"raw aiokafka (batched)": baseline, "platform runtime": platform}
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, run in sides.items():  # interleaved: both sides see the same machine load
            topics = TopicSettings(prefix=f"bench{uuid.uuid4().hex[:6]}.", partitions=6)
            ensure_topics(kafka, topics)
            await fill(kafka, topics, count)
            seconds = await run(kafka, topics, count)
            rates[name].append(2 * count / seconds)
    return rates


def compare(engine: Engine, count: int = RECORDS, runs: int = RUNS) -> list[Comparison]:
    """Measure on the engine's broker, print the figures, return the medians side by side."""
    count = engine.scaled(count)
    rates = asyncio.run(measure(engine.kafka(), count, runs))
    print(f"== runtime on {engine.label}: a backlog of {count} joins, then {count} live, "
          f"each answered =={engine.reduced}")  # fmt: skip
    print(f"   (from start to the last answer, group join and rebuild included; {runs} runs)")
    print(f"  {'':<24} {'min':>8} {'median':>8} {'max':>8}  events/s")
    for name, values in rates.items():
        low, middle, high = min(values), statistics.median(values), max(values)
        print(f"  {name:<24} {low:8,.0f} {middle:8,.0f} {high:8,.0f}")
    base, ours = (statistics.median(values) for values in rates.values())
    print(f"  platform / raw (medians): {ours / base:.0%}")
    case = f"{count:,} + {count:,} events"
    return [Comparison(BENCHMARK, engine.label, case, "events/s", ours, base)]


def main(argv: Sequence[str] | None = None) -> None:
    configure_logging("bench", level="WARNING")
    run_alone(compare, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
