"""Reading partitions from the beginning to their end: how a service rebuilds its state.

A plain aiokafka consumer in ``assign`` mode (no group, nothing committed) reads the partitions a
service instance owns. The end is reached when a poll stays empty for a while *and* every position
has reached its partition's end: the high watermark the last fetch reported, or before any fetch
the end offset asked at the start. The embedded broker answers end-offset requests wrongly (1
whatever the log holds) but reports the right high watermark with every fetch.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from infra.kafka import KafkaSettings
from schemas import CloudEvent, RejectedEvent, decode_event


@dataclass(frozen=True)
class StoredRecord:
    topic: str
    partition: int
    offset: int
    value: bytes | None


async def read_to_end(
    kafka: KafkaSettings, partitions: Collection[TopicPartition], *, idle_ms: int = 500
) -> list[StoredRecord]:
    """Every record of the partitions, from the beginning to the end as it is now."""
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False, auto_offset_reset="earliest", **kafka.aiokafka_params()
    )
    await consumer.start()
    try:
        consumer.assign(list(partitions))
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(list(partitions))
        records: list[StoredRecord] = []
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            records.extend(_stored(batch.values()))
            if not batch and await _past(consumer, ends):
                return records
    finally:
        await consumer.stop()


async def _past(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, asked in ends.items():
        if await consumer.position(partition) < partition_end(asked, consumer.highwater(partition)):
            return False
    return True


def partition_end(asked: int, fetched: int | None) -> int:
    """Where a partition's history ends: the high watermark of the last fetch, or before any
    fetch (none is kept for an empty partition) the end offset asked at the start. The embedded
    broker answers end-offset requests wrongly; fetches are right. Both history readers (this
    one on aiokafka, and kafka-python's in ``adapters.history``) stop there."""
    return asked if fetched is None else fetched


def _stored(batches: Iterable[list[Any]]) -> Iterable[StoredRecord]:
    for batch in batches:
        for record in batch:
            yield StoredRecord(record.topic, record.partition, record.offset, record.value)


def in_replay_order(
    records: Iterable[StoredRecord], topic_order: list[str], source: str
) -> list[CloudEvent[Any]]:
    """Decoded events in a deterministic order close to how they happened: by domain time, then
    causes before the outputs they caused (ours share their cause's time), then log position.
    Records that do not decode are left out: the live consumer dead-letters them."""
    keyed: list[tuple[Any, CloudEvent[Any]]] = []
    for record in records:
        try:
            event = decode_event(record.value or b"")
        except RejectedEvent:
            continue
        position = (topic_order.index(record.topic), record.partition, record.offset)
        keyed.append(((event.time, event.source == source, position), event))
    keyed.sort(key=lambda item: item[0])
    return [event for _, event in keyed]
