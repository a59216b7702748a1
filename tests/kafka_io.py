"""Reading and writing topics in tests with plain clients, independent of the platform's code:
records are produced with aiokafka and read back with kafka-python in ``assign()`` mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from kafka import KafkaConsumer, TopicPartition

from infra.topics import TopicSettings
from schemas import CloudEvent
from services.common.records import event_record

Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class ReadRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


async def produce(
    servers: str, topic: str, value: bytes, *, key: bytes | None = None, headers: Headers = ()
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=list(headers))
    finally:
        await producer.stop()


def read_all(
    servers: str,
    topic: str,
    *,
    idle_seconds: float = 0.5,
    committed_only: bool = False,
    settle_seconds: float = 10.0,
) -> list[ReadRecord]:
    """Every record of a topic now (all partitions, from the beginning); with
    ``committed_only``, those of committed transactions only (read_committed).

    The read ends at a poll that brings nothing once every partition is read to the high
    watermark its last fetch reported. An empty poll alone is no end: on a busy machine the
    next fetch of a partition can take longer than a poll waits, and a read that stopped there
    returned the first fetch's 3,718 records of a 4,000-record partition. A partition held
    back by an open transaction (read_committed stops before it) ends the read once nothing
    has come for ``settle_seconds``."""
    consumer = KafkaConsumer(
        bootstrap_servers=servers.split(","),
        enable_auto_commit=False,
        isolation_level="read_committed" if committed_only else "read_uncommitted",
    )
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[ReadRecord] = []
        last_records = time.monotonic()
        while True:
            batch = consumer.poll(timeout_ms=int(idle_seconds * 1000))
            for items in batch.values():
                records.extend(
                    ReadRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
                    for r in items
                )
            if batch:
                last_records = time.monotonic()
            elif _read_to_highwater(consumer, partitions) or (
                time.monotonic() - last_records >= settle_seconds
            ):
                return records
    finally:
        consumer.close()


def _read_to_highwater(consumer: KafkaConsumer, partitions: list[TopicPartition]) -> bool:
    for partition in partitions:
        highwater = consumer.highwater(partition)
        if highwater is None or consumer.position(partition) < highwater:
            return False
    return True


async def wait_for_records(
    servers: str,
    topic: str,
    predicate: Callable[[list[ReadRecord]], bool],
    *,
    within: float = 60.0,
) -> list[ReadRecord]:
    """Poll a topic until its records satisfy ``predicate``; fail with what was there."""
    deadline = time.monotonic() + within
    records: list[ReadRecord] = []
    while time.monotonic() < deadline:
        records = await asyncio.to_thread(read_all, servers, topic)
        if predicate(records):
            return records
        await asyncio.sleep(0.3)
    raise AssertionError(f"{topic}: condition not met in {within}s; {len(records)} records")


async def produce_events(
    servers: str, topics: TopicSettings, events: Sequence[CloudEvent[Any]]
) -> None:
    """Events written as a platform service writes them (topic, key, headers), pipelined."""
    producer = AIOKafkaProducer(bootstrap_servers=servers.split(","))
    await producer.start()
    try:
        for event in events:
            record = event_record(event, topics)
            await producer.send(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
        await producer.flush()
    finally:
        await producer.stop()
