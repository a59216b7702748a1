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

from collections import defaultdict, deque
from collections.abc import Callable, Iterable
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
        return self.event.time if self.event is not None else BEFORE_EVERYTHING


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

    def next(self, behind: Callable[[TopicPartition], bool]) -> Fetched | None:
        """The next record to handle, or None when nothing may go now. ``behind(tp)`` says
        whether the broker holds records of ``tp`` that are neither buffered nor our own."""
        partition = self._next_partition(behind)
        return None if partition is None else self._buffers[partition].popleft()

    def holds(self, partition: TopicPartition) -> bool:
        """Whether records of the partition wait in the buffer."""
        return bool(self._buffers.get(partition))

    def has_next(self, behind: Callable[[TopicPartition], bool]) -> bool:
        """Whether ``next`` would give a record now."""
        return self._next_partition(behind) is not None

    def _next_partition(self, behind: Callable[[TopicPartition], bool]) -> TopicPartition | None:
        best: tuple[Any, ...] | None = None
        for partitions in self._numbers.values():
            heads = [(p, self._buffers[p]) for p in partitions]
            if any(not buffer and behind(p) for p, buffer in heads):
                continue  # this partition number waits for the lagging topic
            for partition, buffer in heads:
                if buffer:
                    head = buffer[0]
                    key = (head.time, self._rank.get(partition.topic, 0), partition.partition)
                    if best is None or key < best[0]:
                        best = (key, partition)
        return None if best is None else best[1]
