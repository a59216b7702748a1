"""How a broker's fetch cost grows with what a partition holds: a diagnostic, not a platform
benchmark (docs/kafka.md, "Why the floor rises on the embedded broker").

One partition is filled with one record per batch (as a producer answering each event at once
writes), and at each size the last record is fetched again and again: the time from the seek
to the record in hand, p50 and p90. The embedded broker lists every batch a partition has
stored on each fetch that returns records; Apache Kafka finds the offset through an index.

Run: ``python -m benchmarks.fetch_growth [--engine embedded|kafka|both] [--sizes 100,1000,...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from benchmarks.engines import Engine, add_engine_option, comma_numbers, plan, running
from infra.kafka import KafkaSettings

SIZES = (100, 1_000, 3_000, 10_000, 30_000)
FETCHES = 50
RECORD = b"x" * 300


async def fetch_times(kafka: KafkaSettings, sizes: Sequence[int]) -> list[tuple[int, float, float]]:
    """(batches stored, p50 ms, p90 ms) of fetching the partition's last record, per size."""
    topic = f"fetch-growth-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**kafka.kafka_python_params())
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    partition = TopicPartition(topic, 0)
    producer = AIOKafkaProducer(**kafka.aiokafka_params(), linger_ms=0)
    consumer = AIOKafkaConsumer(
        **kafka.aiokafka_params(), enable_auto_commit=False, fetch_max_wait_ms=20
    )
    await producer.start()
    await consumer.start()
    rows: list[tuple[int, float, float]] = []
    try:
        consumer.assign([partition])
        stored = 0
        for size in sizes:
            while stored < size:
                await producer.send_and_wait(topic, RECORD)  # a batch of its own
                stored += 1
            times = [await _fetch_last(consumer, partition, stored) for _ in range(FETCHES)]
            deciles = statistics.quantiles(times, n=10)
            rows.append((stored, statistics.median(times), deciles[8]))
    finally:
        await producer.stop()
        await consumer.stop()
    return rows


async def _fetch_last(consumer: AIOKafkaConsumer, partition: TopicPartition, stored: int) -> float:
    consumer.seek(partition, stored - 1)
    started = time.perf_counter()
    while not await consumer.getmany(partition, timeout_ms=1_000):
        pass  # a fetch in flight before the seek comes back empty
    return (time.perf_counter() - started) * 1_000


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_engine_option(parser)
    parser.add_argument(
        "--sizes",
        type=comma_numbers,
        default=SIZES,
        help="Batches stored at each measurement, ascending.",
    )
    options = parser.parse_args(argv)
    results: list[tuple[Engine, list[tuple[int, float, float]]]] = []
    for engine in plan(options.engine, options.second_engine_scale):
        with running(engine) as started:
            if started is not None:
                results.append((started, asyncio.run(fetch_times(started.kafka(), options.sizes))))
    print(f"{'engine':<28}{'batches stored':>16}{'fetch p50 ms':>14}{'p90 ms':>10}")
    for engine, rows in results:
        for stored, p50, p90 in rows:
            print(f"{engine.label:<28}{stored:>16,}{p50:>14.2f}{p90:>10.2f}")


if __name__ == "__main__":
    main()
