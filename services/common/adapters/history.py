"""Reading the platform's history with kafka-python: every partition from the beginning, in
``assign()`` mode (no consumer group: nothing is committed, any number of readers)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, RejectedEvent, decode_event
from services.common.admission import partition_of
from services.common.replay import partition_end


@dataclass(frozen=True)
class HistoryRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes | None

    def event(self) -> CloudEvent[Any] | None:
        """The decoded event, None for a record that is not one (it is in a dead-letter topic)."""
        try:
            return decode_event(self.value or b"")
        except RejectedEvent:
            return None


def read_records(
    kafka: KafkaSettings,
    topic_names: Iterable[str],
    *,
    follow: bool = False,
    idle_ms: int = 500,
    on_progress: Callable[[int, int], None] | None = None,
    stopped: Callable[[], bool] = lambda: False,
    key: bytes | None = None,
) -> Iterator[HistoryRecord]:
    """Every record of the topics as it is now (or, with ``follow``, until ``stopped()``). The
    end is reached when a poll stays empty and every position has reached its partition's end
    (see ``_past``). With ``key``, only the partition of each topic that key's records are on
    (an organisation's: what other organisations wrote is not read at all)."""
    consumer = KafkaConsumer(enable_auto_commit=False, **kafka.kafka_python_client_params())
    try:
        partitions = [
            TopicPartition(name, number)
            for name in topic_names
            for number in _partitions(sorted(consumer.partitions_for_topic(name) or ()), key)
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] = consumer.end_offsets(partitions) if partitions else {}
        total = sum(ends.values())
        read = 0
        while True:
            batch = consumer.poll(timeout_ms=idle_ms)
            for records in batch.values():
                for record in records:
                    read += 1
                    yield HistoryRecord(
                        record.topic,
                        record.partition,
                        record.offset,
                        record.timestamp,
                        record.value,
                    )
            if on_progress is not None:
                on_progress(read, max(total, read))
            if stopped() or (not batch and not follow and _past(consumer, ends)):
                return
    finally:
        consumer.close()


def _partitions(numbers: list[int], key: bytes | None) -> list[int]:
    if key is None or not numbers:
        return numbers
    return [partition_of(key, len(numbers))]


def _past(consumer: KafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """Whether every position reached its partition's end (``partition_end``)."""
    for partition, asked in ends.items():
        if consumer.position(partition) < partition_end(asked, consumer.highwater(partition)):
            return False
    return True


def domain_topics(topics: TopicSettings) -> list[str]:
    return [topics.name(topic) for topic in Topic]


def read_events(
    kafka: KafkaSettings,
    topics: TopicSettings,
    *,
    organisation: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    only: Iterable[Topic] | None = None,
) -> list[CloudEvent[Any]]:
    """The history of every domain topic, or ``only`` some (of one organisation: its partition
    of each), in domain-time order, each event once (a redelivered copy shares its id). What a
    command reads thus follows what it needs, not the age of every organisation."""
    seen: set[Any] = set()
    events: list[CloudEvent[Any]] = []
    names = domain_topics(topics) if only is None else [topics.name(topic) for topic in only]
    key = organisation.encode() if organisation is not None else None
    for record in read_records(kafka, names, on_progress=on_progress, key=key):
        event = record.event()
        if event is None or event.id in seen:
            continue
        if organisation is None or event.orgid == organisation:
            seen.add(event.id)
            events.append(event)
    events.sort(key=lambda e: e.time)
    return events


def consumer_lag(admin: KafkaAdminClient, group_id: str, ends: Mapping[TopicPartition, int]) -> int:
    """Records before ``ends`` (the next offset of each partition, e.g. as far as a reader has
    seen: the embedded broker's own end offsets are unreliable) that the group has not committed
    yet. Zero means the group processed everything up to there."""
    if not ends:
        return 0
    committed = admin.list_group_offsets({group_id: list(ends)}).get(group_id, {})
    return sum(
        max(0, end - max(0, committed[tp].offset if tp in committed else 0))
        for tp, end in ends.items()
    )


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False
