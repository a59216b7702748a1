"""Follows topics in a background thread and keeps what it read, for the demo's console."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from infra.kafka import KafkaSettings
from schemas import CloudEvent
from services.common.adapters.history import read_records


class Follower:
    def __init__(self, kafka: KafkaSettings, topic_names: Iterable[str]) -> None:
        self._events: list[CloudEvent[Any]] = []
        self._ids: set[Any] = set()
        self._next: dict[TopicPartition, int] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._follow, args=(kafka, list(topic_names)), daemon=True, name="follower"
        )

    def start(self) -> Follower:
        self._thread.start()
        return self

    def _follow(self, kafka: KafkaSettings, topic_names: list[str]) -> None:
        for record in read_records(
            kafka,
            topic_names,
            follow=True,
            idle_ms=200,
            stopped=self._stop.is_set,
            on_positions=self._moved_to,
        ):
            event = record.event()
            with self._lock:
                self._next[TopicPartition(record.topic, record.partition)] = record.offset + 1
                if event is not None and event.id not in self._ids:
                    self._ids.add(event.id)
                    self._events.append(event)

    def _moved_to(self, positions: Mapping[TopicPartition, int]) -> None:
        with self._lock:
            self._positions.update(positions)

    def events(
        self, where: Callable[[CloudEvent[Any]], bool] = lambda _: True, since: int = 0
    ) -> list[CloudEvent[Any]]:
        """What was read (from the ``since``-th event on) that satisfies ``where``."""
        with self._lock:
            return [e for e in self._events[since:] if where(e)]

    def seen(self) -> dict[TopicPartition, int]:
        """The next offset of every partition read so far."""
        with self._lock:
            return dict(self._next)

    def has_read(self, written: Mapping[TopicPartition, int]) -> bool:
        """Whether every record before these next offsets was read. The position counts too:
        on Apache Kafka a transaction ends with a commit marker, an offset no record stands
        for, so a log's end can lie past its last record."""
        with self._lock:
            return all(
                max(self._next.get(partition, 0), self._positions.get(partition, 0)) >= end
                for partition, end in written.items()
            )

    def has_seen(self, event_ids: Iterable[Any]) -> bool:
        with self._lock:
            return all(event_id in self._ids for event_id in event_ids)

    def count(self) -> int:
        with self._lock:
            return len(self._events)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class LogEnds:
    """Where the topics end now (the next offset of every partition): what the services have
    written too, not only the demo."""

    def __init__(self, kafka: KafkaSettings, topic_names: Iterable[str]) -> None:
        self._consumer = KafkaConsumer(
            enable_auto_commit=False, **kafka.kafka_python_client_params()
        )
        self._partitions = [
            TopicPartition(name, number)
            for name in topic_names
            for number in sorted(self._consumer.partitions_for_topic(name) or ())
        ]

    def __call__(self) -> dict[TopicPartition, int]:
        ends: dict[TopicPartition, int] = self._consumer.end_offsets(self._partitions)
        return ends

    def close(self) -> None:
        self._consumer.close()
