"""Reading partitions from the beginning to a fixed end, and ordering what was read: how a
service rebuilds its state.

A plain aiokafka consumer in ``assign`` mode (no group, nothing committed) reads the partitions an
instance owns up to a bound fixed when the read starts, so the read ends however fast records keep
arriving (they are read live afterwards). A partition's bound is the larger of the end offset asked
at the start (right on Apache Kafka) and the high watermark of its first fetch (right on the
embedded broker, whose end-offset answers are too small).

``replay_plan`` then decides what the rebuild folds in, in which order (see docs/runtime.md):
admitted events only, the first copy of an id in log order, and no output of a decision that a
crash cut short.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, TopicPartition

from infra.kafka import KafkaSettings
from infra.topics import TopicSettings
from schemas import CloudEvent, RejectedEvent
from schemas.sealing import PersonalDataCipher
from services.common.admission import admit
from services.common.records import decision_mark


class StoredRecord(NamedTuple):
    """A record as read (a tuple: a long history makes millions, and a frozen dataclass cost
    several times as much to make)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class History:
    """What a rebuild read: the records, and the partition count of every topic read."""

    records: list[StoredRecord]
    partition_counts: Mapping[str, int] = field(default_factory=dict)
    ends: Mapping[TopicPartition, int] = field(default_factory=dict)
    """Where each partition was read to (the next offset): live consumption starts there."""


async def read_to_end(
    kafka: KafkaSettings,
    partitions: Collection[TopicPartition],
    *,
    idle_ms: int = 500,
    committed_only: bool = False,
    starts: Mapping[TopicPartition, int] | None = None,
) -> History:
    """Every record of the partitions from the beginning up to their bounds (see above).
    ``committed_only``: records of committed transactions only (read_committed), up to the last
    stable offset; what an open transaction wrote comes live once it commits, or never.
    ``starts``: partitions read from an offset rather than from the beginning."""
    if not partitions:
        return History([])
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed" if committed_only else "read_uncommitted",
        **kafka.aiokafka_params(),
    )
    await consumer.start()
    try:
        consumer.assign(list(partitions))
        await consumer.seek_to_beginning(*partitions)
        for partition, offset in (starts or {}).items():  # a bounded read of the clock
            if partition in partitions and offset > 0:
                consumer.seek(partition, offset)
        asked: dict[TopicPartition, int] = await consumer.end_offsets(list(partitions))
        bounds: dict[TopicPartition, int] = {}
        records: list[StoredRecord] = []
        shared: dict[Any, Any] = {}
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            records.extend(_stored(batch.values(), shared))
            for partition in partitions:
                fetched = (
                    consumer.last_stable_offset(partition)
                    if committed_only
                    else consumer.highwater(partition)
                )
                if partition not in bounds and fetched is not None:
                    bounds[partition] = max(asked[partition], fetched)
            all_bounded = len(bounds) == len(partitions)
            if (all_bounded or not batch) and await _past(consumer, bounds, asked):
                counts = {
                    tp.topic: len(consumer.partitions_for_topic(tp.topic) or ())
                    for tp in partitions
                }
                ends = {tp: await consumer.position(tp) for tp in partitions}
                return History(records, counts, ends)
    finally:
        await consumer.stop()


async def _past(
    consumer: AIOKafkaConsumer,
    bounds: Mapping[TopicPartition, int],
    asked: Mapping[TopicPartition, int],
) -> bool:
    for partition, end in asked.items():
        if await consumer.position(partition) < bounds.get(partition, end):
            return False
    return True


def partition_end(asked: int, fetched: int | None) -> int:
    """Where a partition's history ends for a reader that follows it to the end as it is now:
    the high watermark of the last fetch, or before any fetch (none is kept for an empty
    partition) the end offset asked at the start. The embedded broker answers end-offset
    requests wrongly; fetches are right. The history readers of tools (export, insights) stop
    there."""
    return asked if fetched is None else fetched


def _stored(batches: Iterable[list[Any]], shared: dict[Any, Any]) -> Iterable[StoredRecord]:
    """The records as kept, their keys and headers shared with the records before them that
    have the same ones (``shared``): few organisations, the same content type on every record,
    and a third of a kept record's memory was its own copies of them."""
    for batch in batches:
        for record in batch:
            headers = tuple(record.headers) if record.headers else ()
            key = record.key
            yield StoredRecord(
                record.topic,
                record.partition,
                record.offset,
                _shared(key, shared),
                record.value,
                _shared(headers, shared),
            )


SHARED_VALUES = 4_096
"""At most this many keys and header sets are shared: a decision's header is its own, and
sharing never costs memory of its own."""


def _shared(value: Any, shared: dict[Any, Any]) -> Any:
    found = shared.get(value)
    if found is None:
        if len(shared) < SHARED_VALUES:
            shared[value] = value
        return value
    return found


@dataclass(frozen=True)
class ReplayPlan:
    events: list[CloudEvent[Any]]
    """What the rebuild folds in, in replay order."""
    records: list[StoredRecord]
    """The record each event was read from, in the same order as ``events``."""
    refused: list[tuple[StoredRecord, RejectedEvent]]
    """Records left out because admission refuses them, with the refusal."""
    later_copies: int
    """Records left out because an earlier record in the log has the same event id."""
    unfinished: int
    """Decisions of this service that a crash cut short: their outputs are left out and their
    causes decided again."""


def replay_plan(
    history: History,
    topics: TopicSettings,
    topic_order: list[str],
    source: str,
    cipher: PersonalDataCipher | None = None,
) -> ReplayPlan:
    """The events a rebuild folds in, in a deterministic order close to how they happened: by
    domain time, then causes before the outputs they caused (ours share their cause's time),
    then log position."""
    rank = {name: index for index, name in enumerate(topic_order)}
    in_log_order = sorted(history.records, key=lambda r: (rank[r.topic], r.partition, r.offset))
    counts = history.partition_counts
    seen: set[int] = set()
    admitted: list[tuple[StoredRecord, CloudEvent[Any]]] = []
    refused: list[tuple[StoredRecord, RejectedEvent]] = []
    later_copies = 0
    for record in in_log_order:
        try:
            event = admit(record, topics, counts.get(record.topic), cipher)
        except RejectedEvent as refusal:
            refused.append((record, refusal))
            continue
        identity = event.id.int
        if identity in seen:
            later_copies += 1
            continue
        seen.add(identity)
        admitted.append((record, event))
    del in_log_order, seen
    unfinished = _unfinished_decisions(admitted, source)
    if unfinished:
        admitted = [
            (record, event)
            for record, event in admitted
            if not (event.source == source and _decision_of(record) in unfinished)
        ]
    # Admitted is in log order: the position breaks ties as (rank, partition, offset) did.
    order = sorted(
        range(len(admitted)),
        key=lambda index: (admitted[index][1].time, admitted[index][1].source == source, index),
    )
    events = [admitted[index][1] for index in order]
    records = [admitted[index][0] for index in order]
    return ReplayPlan(events, records, refused, later_copies, len(unfinished))


def _decision_of(record: StoredRecord) -> str | None:
    mark = decision_mark(record.headers)
    return mark[0] if mark else None


def _unfinished_decisions(
    admitted: Iterable[tuple[StoredRecord, CloudEvent[Any]]], source: str
) -> set[str]:
    sizes: dict[str, int] = {}
    found: Counter[str] = Counter()
    for record, event in admitted:
        mark = decision_mark(record.headers) if event.source == source else None
        if mark is not None:
            sizes[mark[0]] = mark[1]
            found[mark[0]] += 1
    return {decision for decision, size in sizes.items() if found[decision] < size}
