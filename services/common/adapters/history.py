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
from schemas.sealing import PersonalDataCipher
from services.common.admission import partition_of
from services.common.fetch_wait import PolledFetchWait
from services.common.privacy import configured_vault
from services.common.replay import partition_end

HISTORY_FETCH_WAIT_MS = 500
"""kafka-python's own default, where a history read starts: it doubles while the broker does
not serve a partition within it (services/common/fetch_wait.py)."""


@dataclass(frozen=True)
class HistoryRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes | None

    def event(self, cipher: PersonalDataCipher | None = None) -> CloudEvent[Any] | None:
        """The decoded event (sealed personal data opened with ``cipher``), None for a record
        that is not one (it is in a dead-letter topic)."""
        try:
            return decode_event(self.value or b"", cipher)
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
    starts: Mapping[TopicPartition, int] | None = None,
    on_positions: Callable[[Mapping[TopicPartition, int]], None] | None = None,
) -> Iterator[HistoryRecord]:
    """Every record of the topics as it is now (or, with ``follow``, until ``stopped()``). The
    end is reached when a poll stays empty and every position has reached its partition's end
    (see ``_past``). With ``key``, only the partition of each topic that key's records are on
    (an organisation's: what other organisations wrote is not read at all); with ``starts``,
    those partitions from those offsets. ``on_positions`` hears every partition's position
    after each poll: past a transaction's commit marker, which no record stands for."""
    consumer = KafkaConsumer(
        enable_auto_commit=False,
        fetch_max_wait_ms=HISTORY_FETCH_WAIT_MS,
        **kafka.kafka_python_client_params(),
    )
    fetch_wait = PolledFetchWait(consumer, reader="history")
    try:
        partitions = _assign(consumer, topic_names, key)
        consumer.seek_to_beginning(*partitions)
        for partition, offset in (starts or {}).items():  # e.g. following from a tail's end
            if partition in partitions:
                consumer.seek(partition, offset)
        ends: dict[TopicPartition, int] = consumer.end_offsets(partitions) if partitions else {}
        total = sum(ends.values())
        read = 0
        while True:
            batch = consumer.poll(timeout_ms=idle_ms)
            fetch_wait.after_poll(batch)
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
            if on_positions is not None:
                on_positions({partition: consumer.position(partition) for partition in partitions})
            if stopped() or (not batch and not follow and _past(consumer, ends)):
                return
    finally:
        consumer.close()


def read_latest(
    kafka: KafkaSettings,
    topic_names: Iterable[str],
    count: int,
    wanted: Callable[[CloudEvent[Any]], bool],
    *,
    key: bytes | None = None,
    idle_ms: int = 500,
) -> tuple[list[CloudEvent[Any]], dict[TopicPartition, int]]:
    """The latest ``count`` wanted events, in domain-time order, and where each partition ended
    (to follow from there). Each partition is read back from its end (found from a fetch's high
    watermark: the embedded broker's end offsets are wrong) by a window that grows until it
    holds ``count`` wanted events or reaches the partition's beginning. Its cost follows
    ``count``, not the age of the history."""
    consumer = KafkaConsumer(enable_auto_commit=False, **kafka.kafka_python_client_params())
    try:
        partitions = _assign(consumer, topic_names, key)
        ends = _high_watermarks(consumer, partitions, idle_ms)
        found: dict[Any, CloudEvent[Any]] = {}
        for partition, end in ends.items():
            if count > 0 and end > 0:
                found.update(_latest_of(consumer, partition, end, count, wanted, idle_ms))
        latest = sorted(found.values(), key=lambda e: e.time)
        return latest[-count:] if count > 0 else [], ends
    finally:
        consumer.close()


def _high_watermarks(
    consumer: KafkaConsumer, partitions: list[TopicPartition], idle_ms: int
) -> dict[TopicPartition, int]:
    """Each partition's end as a fetch reports it (an empty partition may report none: 0)."""
    consumer.seek_to_beginning(*partitions)
    ends: dict[TopicPartition, int] = {}
    deadline = time.monotonic() + max(5.0, idle_ms / 100)
    while len(ends) < len(partitions) and time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=idle_ms, max_records=1)
        for partition in partitions:
            high = consumer.highwater(partition)
            if high is not None:
                ends[partition] = high
        if not batch:
            break
    return {partition: ends.get(partition, 0) for partition in partitions}


def _latest_of(
    consumer: KafkaConsumer,
    partition: TopicPartition,
    end: int,
    count: int,
    wanted: Callable[[CloudEvent[Any]], bool],
    idle_ms: int,
) -> dict[Any, CloudEvent[Any]]:
    """The wanted events among the last records of one partition: a window from its end that
    grows fourfold until it holds ``count`` of them or starts at the beginning."""
    window = count
    while True:
        start = max(0, end - window)
        found = _wanted_between(consumer, partition, start, end, wanted, idle_ms)
        if len(found) >= count or start == 0:
            return found
        window *= 4


def _wanted_between(
    consumer: KafkaConsumer,
    partition: TopicPartition,
    start: int,
    end: int,
    wanted: Callable[[CloudEvent[Any]], bool],
    idle_ms: int,
) -> dict[Any, CloudEvent[Any]]:
    consumer.assign([partition])  # one at a time: nothing fetched for the others meanwhile
    consumer.seek(partition, start)
    found: dict[Any, CloudEvent[Any]] = {}
    quiet = 0
    while consumer.position(partition) < end and quiet < 3:  # a few empty polls: it ended
        batch = consumer.poll(timeout_ms=idle_ms)
        quiet = 0 if batch else quiet + 1
        for record in batch.get(partition, ()):
            if record.offset >= end:
                continue
            event = HistoryRecord(
                record.topic, record.partition, record.offset, record.timestamp, record.value
            ).event()
            if event is not None and wanted(event):
                found.setdefault(event.id, event)
    return found


def _assign(
    consumer: KafkaConsumer, topic_names: Iterable[str], key: bytes | None
) -> list[TopicPartition]:
    """Assign every partition of the topics (with ``key``, only the one that key is on)."""
    partitions = [
        TopicPartition(name, number)
        for name in topic_names
        for number in _partitions(sorted(consumer.partitions_for_topic(name) or ()), key)
    ]
    consumer.assign(partitions)
    return partitions


def partition_count(kafka: KafkaSettings, topic_name: str) -> int:
    """How many partitions a topic has, as the broker says."""
    consumer = KafkaConsumer(enable_auto_commit=False, **kafka.kafka_python_client_params())
    try:
        return len(consumer.partitions_for_topic(topic_name) or ())
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
    command reads thus follows what it needs, not the age of every organisation. Personal data
    is opened with the vault the settings configure."""
    cipher = configured_vault()
    seen: set[Any] = set()
    events: list[CloudEvent[Any]] = []
    names = domain_topics(topics) if only is None else [topics.name(topic) for topic in only]
    key = organisation.encode() if organisation is not None else None
    for record in read_records(kafka, names, on_progress=on_progress, key=key):
        event = record.event(cipher)
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
