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

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from infra.kafka import KafkaSettings
from infra.topics import TopicSettings
from schemas import CloudEvent, RejectedEvent
from schemas.sealing import PersonalDataCipher
from services.common.admission import KafkaRecord, admit
from services.common.fetch_wait import FetchWait
from services.common.records import decision_mark


class ReadRecord(KafkaRecord, Protocol):
    """What a rebuild reads of a record: aiokafka's records (as a read yields them) and
    ``StoredRecord`` (as a whole history is kept) both have it."""

    @property
    def offset(self) -> int: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


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
    records: list[StoredRecord] = []
    async with BoundedRead(
        kafka, partitions, idle_ms=idle_ms, committed_only=committed_only, starts=starts
    ) as read:
        shared: dict[Any, Any] = {}
        async for batch in read.batches():
            records.extend(_stored(batch, shared))
        return History(records, read.partition_counts, read.ends)


FETCH_WAIT_MS = 20
POLL_MS = 50


class BoundedRead:
    """A read of partitions up to their bounds (see above), batch by batch, for a reader that
    folds as it reads. ``bounds`` fixes some partitions' ends (what an earlier read of them
    ended at): nothing at or past one is yielded. Partitions can be paused and resumed (a
    reader holding enough of one) meanwhile."""

    def __init__(
        self,
        kafka: KafkaSettings,
        partitions: Collection[TopicPartition],
        *,
        idle_ms: int = 500,
        committed_only: bool = False,
        starts: Mapping[TopicPartition, int] | None = None,
        bounds: Mapping[TopicPartition, int] | None = None,
    ) -> None:
        self.partitions = list(partitions)
        self._idle_ms = idle_ms
        self._committed_only = committed_only
        self._starts = dict(starts or {})
        self._fixed = dict(bounds or {})
        self._consumer = AIOKafkaConsumer(
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed" if committed_only else "read_uncommitted",
            # A fetch at a partition's end answers (with its high watermark) at once, not after
            # aiokafka's half second, which the embedded broker waits out whole: every read
            # ends with such a fetch.
            fetch_max_wait_ms=FETCH_WAIT_MS,
            **kafka.aiokafka_params(),
        )
        self._fetch_wait = FetchWait(
            self._consumer, committed_only=committed_only, reader="rebuild"
        )
        self._asked: dict[TopicPartition, int] = {}
        self.bounds: dict[TopicPartition, int] = {}
        """Where each partition's read ends, once known (its first fetch on the embedded
        broker)."""
        self.partition_counts: dict[str, int] = {}
        self.ends: dict[TopicPartition, int] = {}
        """Where each partition was read to (the next offset), once the read has ended."""
        self.fetched: set[TopicPartition] = set()
        """The partitions the last batch yielded brought records of."""

    async def __aenter__(self) -> BoundedRead:
        consumer = self._consumer
        await consumer.start()
        try:
            consumer.assign(self.partitions)
            await consumer.seek_to_beginning(*self.partitions)
            for partition, offset in self._starts.items():  # a bounded read of the clock
                if partition in self.partitions and offset > 0:
                    consumer.seek(partition, offset)
            self._asked = await consumer.end_offsets(self.partitions)
            self.bounds.update(self._fixed)
            self.partition_counts = {
                tp.topic: len(consumer.partitions_for_topic(tp.topic) or ())
                for tp in self.partitions
            }
        except BaseException:
            await consumer.stop()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    async def batches(self) -> AsyncIterator[list[ReadRecord]]:
        """The records read, a poll at a time (none when nothing came), each partition's in log
        order, until every partition is read to its bound. A partition read to its bound is
        paused: nothing past it is fetched. The records are aiokafka's, as it made them: a
        reader that keeps them all (``read_to_end``) makes them smaller itself, one that folds
        as it reads lets most go at once and would pay a copy of each for nothing."""
        consumer = self._consumer
        clock = asyncio.get_running_loop().time
        last_records = clock()
        while True:
            # Short polls: the bounds are known after the first fetch of each partition (tens
            # of milliseconds), and a poll waits its whole timeout when nothing comes.
            batch = await consumer.getmany(timeout_ms=min(POLL_MS, self._idle_ms))
            kept = _before_bounds(batch.items(), self._fixed)
            self.fetched = {partition for partition, records in batch.items() if records}
            self._note_bounds()
            consumer.pause(*[tp for tp in self.partitions if await self.read_to_bound(tp)])
            await self._fetch_wait.after_poll(batch)  # a partition read to its bound waits no more
            yield kept  # empty too: a reader that paused partitions decides again each poll
            if batch:
                last_records = clock()
            all_bounded = len(self.bounds) == len(self.partitions)
            idle = (clock() - last_records) * 1000 >= self._idle_ms
            if (all_bounded or idle) and await self._past():
                for tp in self.partitions:
                    position = await consumer.position(tp)
                    self.ends[tp] = min(position, self._fixed.get(tp, position))
                return

    def _note_bounds(self) -> None:
        consumer = self._consumer
        for partition in self.partitions:
            if partition in self.bounds:
                continue
            fetched = (
                consumer.last_stable_offset(partition)
                if self._committed_only
                else consumer.highwater(partition)
            )
            if fetched is not None:
                self.bounds[partition] = max(self._asked[partition], fetched)

    async def read_to_bound(self, partition: TopicPartition) -> bool:
        """Whether everything of the partition up to its bound has been yielded."""
        bound = self.bounds.get(partition)
        return bound is not None and await self._consumer.position(partition) >= bound

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        self._consumer.pause(*partitions)

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        self._consumer.resume(*partitions)

    async def _past(self) -> bool:
        for partition, end in self._asked.items():
            if await self._consumer.position(partition) < self.bounds.get(partition, end):
                return False
        return True


def partition_end(asked: int, fetched: int | None) -> int:
    """Where a partition's history ends for a reader that follows it to the end as it is now:
    the high watermark of the last fetch, or before any fetch (none is kept for an empty
    partition) the end offset asked at the start. The embedded broker answers end-offset
    requests wrongly; fetches are right. The history readers of tools (export, insights) stop
    there."""
    return asked if fetched is None else fetched


def _before_bounds(
    batches: Iterable[tuple[TopicPartition, list[Any]]], fixed: Mapping[TopicPartition, int]
) -> list[ReadRecord]:
    """The records of each partition before its ``fixed`` bound, if it has one."""
    kept: list[ReadRecord] = []
    for partition, batch in batches:
        bound = fixed.get(partition)
        if bound is None or not batch or batch[-1].offset < bound:
            kept.extend(batch)
        else:
            kept.extend(record for record in batch if record.offset < bound)
    return kept


def _stored(records: Iterable[ReadRecord], shared: dict[Any, Any]) -> Iterable[StoredRecord]:
    """The records as kept, their keys and headers shared with the records before them that
    have the same ones (``shared``): few organisations, the same content type on every record,
    and a third of a kept record's memory was its own copies of them."""
    for record in records:
        headers = tuple(record.headers) if record.headers else ()
        yield StoredRecord(
            record.topic,
            record.partition,
            record.offset,
            _shared(record.key, shared),
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


@dataclass
class Folded:
    """What a rebuild's fold left to do and to tell, every partition number together."""

    decisions: list[list[CloudEvent[Any]]] = field(default_factory=list)
    failures: list[tuple[ReadRecord, Exception]] = field(default_factory=list)
    refused: list[tuple[ReadRecord, RejectedEvent]] = field(default_factory=list)
    folded: Counter[int] = field(default_factory=Counter)
    """Events folded in, by partition number."""
    erasures: set[int] = field(default_factory=set)
    """Partition numbers that folded in an erasure."""
    events: int = 0
    unfinished: int = 0
    later_copies: int = 0


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
    domain time (``replay_time``: when an event entered the history), then causes before the
    outputs they caused (ours share their cause's time), then log position."""
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
        key=lambda index: (
            admitted[index][1].replay_time,
            admitted[index][1].source == source,
            index,
        ),
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
