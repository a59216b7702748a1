"""Restart benchmark: from a service's start to ready (its state rebuilt from the log), against a
raw aiokafka loop reading the same topic to its end.

N member.joined records (50,000 by default, written once before the runs) are one service's whole
history. Each side starts from nothing, as after a restart:

- platform: a ServiceRuntime whose processor keeps the member directory (what every service
  keeps): connect, join its group, read the history to the bound fixed at the start, admit each
  record, order and fold the events in, commit, go live; timed from ``start()`` until ``ready``,
  and the directory must then hold every member;
- baseline: one raw aiokafka consumer assigned every partition (no group), reading from the
  beginning to the end offsets (the larger of the answer to ListOffsets and the first fetch's
  high watermark: the embedded broker answers ListOffsets wrongly) and decoding and validating
  each record with the same ``admit``; timed from creating the consumer until the last record.

Both sides run several times, interleaved, on the same history; medians are compared.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from benchmarks.engines import Comparison, Engine, run_alone
from benchmarks.runtime import fill
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings, ensure_topics
from services.common.admission import admit
from services.common.domain.projection import DirectoryProcessor
from services.common.logging import configure_logging
from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.common.settings import ServiceSettings

EVENTS = 50_000
RUNS = 3
BENCHMARK = "restart: start to ready, the state rebuilt from the log"
READY_POLL_SECONDS = 0.005
RAW = "raw aiokafka read + admit"
PLATFORM = "platform runtime"


async def platform(
    kafka: KafkaSettings, topics: TopicSettings, count: int, run: int
) -> tuple[float, float]:
    """Seconds from ``start()`` until the runtime is ready with every member in its state, and
    of those, the seconds until it had joined its group (the consumer started)."""
    # A new group each run, as a service started for the first time (nothing committed).
    definition = ServiceDefinition(f"rebuild{run}", (Topic.MEMBERS,), DirectoryProcessor)
    settings = ServiceSettings(session_timeout_ms=6000, heartbeat_interval_ms=500)
    runtime = ServiceRuntime(definition, settings=settings, kafka=kafka, topics=topics)
    started = time.perf_counter()
    await runtime.start()
    joined = time.perf_counter() - started
    try:
        while not runtime.ready:  # noqa: ASYNC110 (readiness is a state, polled as probes do)
            await asyncio.sleep(READY_POLL_SECONDS)
        seconds = time.perf_counter() - started
        members = sum(runtime.ledgers.measures().values())
        if members != count:
            raise AssertionError(f"the rebuilt directory holds {members} members, not {count}")
        return seconds, joined
    finally:
        await runtime.stop()


async def baseline(kafka: KafkaSettings, topics: TopicSettings, count: int) -> float:
    """Seconds from creating a raw consumer until every record was read, decoded and admitted."""
    name = topics.name(Topic.MEMBERS)
    started = time.perf_counter()
    consumer = AIOKafkaConsumer(
        **kafka.aiokafka_params(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(name, p) for p in range(topics.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        read = 0
        while read == 0 or not await _at_ends(consumer, ends):
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for partition, records in batch.items():
                high = consumer.highwater(partition)
                ends[partition] = max(ends[partition], high or 0)
                for record in records:
                    admit(record, topics, topics.partitions)
                    read += 1
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    if read != count:
        raise AssertionError(f"the baseline read {read} records, not {count}")
    return seconds


async def _at_ends(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True


async def measure(
    kafka: KafkaSettings, count: int, runs: int
) -> tuple[dict[str, list[float]], list[float]]:
    """Seconds of each side's runs, and of the platform's, the seconds spent joining the group."""
    topics = TopicSettings(prefix=f"rebuild{uuid.uuid4().hex[:6]}.", partitions=6)
    ensure_topics(kafka, topics)
    await fill(kafka, topics, count)
    seconds: dict[str, list[float]] = {RAW: [], PLATFORM: []}
    joins: list[float] = []
    for run in range(runs):  # interleaved: both sides see the same machine load
        seconds[RAW].append(await baseline(kafka, topics, count))
        ready, joined = await platform(kafka, topics, count, run)
        seconds[PLATFORM].append(ready)
        joins.append(joined)
    return seconds, joins


def compare(engine: Engine, count: int = EVENTS, runs: int = RUNS) -> list[Comparison]:
    """Measure on the engine's broker, print the figures, return the medians side by side."""
    count = engine.scaled(count)
    seconds, joins = asyncio.run(measure(engine.kafka(), count, runs))
    print(f"== restart on {engine.label}: {count:,} member.joined, start to ready =="
          f"{engine.reduced}")  # fmt: skip
    print(f"  {'':<26} {'min':>7} {'median':>7} {'max':>7}  seconds ({runs} runs)   events/s")
    for name, values in seconds.items():
        low, middle, high = min(values), statistics.median(values), max(values)
        print(f"  {name:<26} {low:7.2f} {middle:7.2f} {high:7.2f}  {count / middle:>18,.0f}")
    base, ours = statistics.median(seconds[RAW]), statistics.median(seconds[PLATFORM])
    print(f"  platform / raw (median seconds): {ours / base:.2f}; of the platform's, joining "
          f"the group (the raw loop joins none): {statistics.median(joins):.2f} s")  # fmt: skip
    case = f"{count:,} events"
    return [Comparison(BENCHMARK, engine.label, case, "s (median)", ours, base)]


def main(argv: Sequence[str] | None = None) -> None:
    configure_logging("bench", level="WARNING")
    run_alone(compare, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
