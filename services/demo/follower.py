"""Follows topics in a background thread and keeps what it read, for the demo's console."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kafka import TopicPartition

from infra.kafka import KafkaSettings
from schemas import CloudEvent
from services.common.adapters.history import read_records


class Follower:
    def __init__(self, kafka: KafkaSettings, topic_names: Iterable[str]) -> None:
        self._events: list[CloudEvent[Any]] = []
        self._ids: set[Any] = set()
        self._next: dict[TopicPartition, int] = {}
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
            kafka, topic_names, follow=True, idle_ms=200, stopped=self._stop.is_set
        ):
            event = record.event()
            with self._lock:
                self._next[TopicPartition(record.topic, record.partition)] = record.offset + 1
                if event is not None and event.id not in self._ids:
                    self._ids.add(event.id)
                    self._events.append(event)

    def events(
        self, where: Callable[[CloudEvent[Any]], bool] = lambda _: True
    ) -> list[CloudEvent[Any]]:
        with self._lock:
            return [e for e in self._events if where(e)]

    def seen(self) -> dict[TopicPartition, int]:
        """The next offset of every partition read so far."""
        with self._lock:
            return dict(self._next)

    def has_read(self, written: Mapping[TopicPartition, int]) -> bool:
        """Whether every record before these next offsets was read."""
        seen = self.seen()
        return all(seen.get(partition, 0) >= end for partition, end in written.items())

    def count(self) -> int:
        with self._lock:
            return len(self._events)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
