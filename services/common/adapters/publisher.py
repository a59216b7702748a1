"""Publishing events from a tool (command line, demo, clock, gateway): the same records as the
services write (``records.event_record``), through a kafka-python producer that waits for every
send. Personal data is sealed here, with the vault the settings configure (docs/privacy.md), so
every tool that publishes member events seals them."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any

from kafka import KafkaProducer, TopicPartition

from infra.kafka import KafkaSettings
from infra.topics import TopicSettings
from schemas import CloudEvent
from services.common.privacy import configured_vault
from services.common.records import event_record
from services.common.vault import Vault


class EventPublisher:
    def __init__(
        self, kafka: KafkaSettings, topics: TopicSettings, vault: Vault | None = None
    ) -> None:
        self.topics = topics
        self.vault = vault if vault is not None else configured_vault()
        self._producer = KafkaProducer(
            acks="all", linger_ms=5, **kafka.kafka_python_client_params()
        )
        self.written: dict[TopicPartition, int] = {}
        """The next offset of every partition written to, after what this publisher wrote."""

    def publish(self, events: Iterable[CloudEvent[Any]]) -> int:
        """Send and wait until every event is stored; returns how many."""
        futures = []
        for event in events:
            record = event_record(event, self.topics, cipher=self.vault)
            futures.append(
                self._producer.send(
                    record.topic, value=record.value, key=record.key, headers=list(record.headers)
                )
            )
        self._producer.flush()
        for future in futures:
            stored = future.get(timeout=30)
            partition = TopicPartition(stored.topic, stored.partition)
            self.written[partition] = max(self.written.get(partition, 0), stored.offset + 1)
        return len(futures)

    def close(self) -> None:
        self._producer.close()

    def __enter__(self) -> EventPublisher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
