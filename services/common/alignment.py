"""Records fetched and not yet handled, handed out in domain-time order across a service's topics.

An instance owns the same partition number of every topic it reads (range assignment), and each
partition number holds whole organisations. Within one topic-partition records are handled in log
order; across the topics of one partition number the record with the earliest domain time goes
first, and a partition number waits while one of its topic-partitions has nothing buffered but
more on the broker (its position is behind its high watermark, and not only because of this
instance's own outputs). So a cancel on one topic is never overtaken by a later tick on another
that was merely fetched first (the rule Kafka Streams applies with ``max.task.idle.ms``).
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition

from schemas import CloudEvent, RejectedEvent

BEFORE_EVERYTHING = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Fetched:
    """One fetched record with what admission made of it: an event or a refusal."""

    record: Any
    event: CloudEvent[Any] | None
    refusal: RejectedEvent | None

    @property
    def partition(self) -> TopicPartition:
        return TopicPartition(self.record.topic, self.record.partition)

    @property
    def time(self) -> datetime:
        # A refusal has no trustworthy time: it is dead-lettered as soon as it is its turn.
        return self.event.replay_time if self.event is not None else BEFORE_EVERYTHING


class AlignedBuffers:
    def __init__(self, topic_order: Iterable[str]) -> None:
        self._rank = {topic: rank for rank, topic in enumerate(topic_order)}
        self._buffers: dict[TopicPartition, deque[Fetched]] = defaultdict(deque)
        self._numbers: dict[int, set[TopicPartition]] = defaultdict(set)

    def own(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions whose records are handed out (assigned, state rebuilt)."""
        for partition in partitions:
            self._numbers[partition.partition].add(partition)

    def drop(self, partitions: Iterable[TopicPartition]) -> None:
        """Forget partitions and what is buffered of them (revoked, or being rebuilt)."""
        for partition in partitions:
            self._buffers.pop(partition, None)
            self._numbers[partition.partition].discard(partition)

    def owned(self, partition: TopicPartition) -> bool:
        return partition in self._numbers.get(partition.partition, ())

    def add(self, fetched: Iterable[Fetched]) -> None:
        for item in fetched:
            if self.owned(item.partition):
                self._buffers[item.partition].append(item)

    def drain(self, behind: Callable[[TopicPartition], bool]) -> Iterator[Fetched]:
        """Hand out every record that may go now, in order, taking each as it is handed out.
        ``behind(tp)`` says whether the broker holds records of ``tp`` that are neither
        buffered nor our own; a partition number stops once such a partition has nothing
        buffered. The heads wait in a heap: looking at every partition for every record cost
        a service a twentieth of its time."""
        waiting: set[int] = set()
        heads = self._ready_heads(behind)
        while heads:
            _, partition = heapq.heappop(heads)
            buffer = self._buffers.get(partition)
            if partition.partition in waiting or not buffer:
                continue  # its number stopped, or it was dropped meanwhile
            yield buffer.popleft()
            if buffer:
                heapq.heappush(heads, (self._key(partition, buffer[0]), partition))
            elif behind(partition):
                waiting.add(partition.partition)

    def holds(self, partition: TopicPartition) -> bool:
        """Whether records of the partition wait in the buffer."""
        return bool(self._buffers.get(partition))

    def has_next(self, behind: Callable[[TopicPartition], bool]) -> bool:
        """Whether ``drain`` would hand out a record now."""
        return bool(self._ready_heads(behind))

    def _ready_heads(
        self, behind: Callable[[TopicPartition], bool]
    ) -> list[tuple[tuple[datetime, int, int], TopicPartition]]:
        """The first buffered record's key of each partition whose number need not wait."""
        heads: list[tuple[tuple[datetime, int, int], TopicPartition]] = []
        for partitions in self._numbers.values():
            buffered = [(p, self._buffers.get(p)) for p in partitions]
            if any(not buffer and behind(p) for p, buffer in buffered):
                continue  # this partition number waits for the lagging topic
            heads.extend((self._key(p, buffer[0]), p) for p, buffer in buffered if buffer)
        heapq.heapify(heads)
        return heads

    def _key(self, partition: TopicPartition, head: Fetched) -> tuple[datetime, int, int]:
        return (head.time, self._rank.get(partition.topic, 0), partition.partition)
