"""``python -m services.clock``: tick every organisation with members from the wall clock.

Organisations are learnt from ``rituals.members`` as members join; a tick is published every
``RITUALS_CLOCK_INTERVAL_SECONDS`` (default 60). The sequence number is the count of intervals
since the Unix epoch, so it keeps increasing across restarts.
"""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime

import structlog
from kafka import KafkaConsumer, TopicPartition
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from services.clock.ticks import ticks
from services.common.adapters.publisher import EventPublisher
from services.common.logging import configure_logging
from services.common.settings import ServiceSettings

log = structlog.get_logger("rituals.clock")


class ClockSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RITUALS_CLOCK_", extra="ignore")

    interval_seconds: float = Field(default=60.0, gt=0, description="Seconds between ticks.")


class OrganisationWatcher:
    """Follows rituals.members (assign mode, from the beginning) to learn organisation ids."""

    def __init__(self, kafka: KafkaSettings, topics: TopicSettings) -> None:
        self.organisations: set[str] = set()
        self._consumer = KafkaConsumer(
            enable_auto_commit=False, **kafka.kafka_python_client_params()
        )
        name = topics.name(Topic.MEMBERS)
        partitions = [
            TopicPartition(name, p) for p in sorted(self._consumer.partitions_for_topic(name) or ())
        ]
        self._consumer.assign(partitions)
        self._consumer.seek_to_beginning(*partitions)

    def refresh(self) -> set[str]:
        for records in self._consumer.poll(timeout_ms=200).values():
            self.organisations.update(r.key.decode() for r in records if r.key)
        return self.organisations

    def close(self) -> None:
        self._consumer.close()


def main() -> None:
    settings = ServiceSettings()
    configure_logging("clock", log_format=settings.log_format, level=settings.log_level)
    interval = ClockSettings().interval_seconds
    kafka, topics = KafkaSettings(), TopicSettings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    watcher = OrganisationWatcher(kafka, topics)
    with EventPublisher(kafka, topics) as publisher:
        while not stop.is_set():
            now = datetime.now(UTC)
            organisations = watcher.refresh()
            sent = publisher.publish(ticks(organisations, now, int(now.timestamp() // interval)))
            log.info("ticked", organisations=sent)
            stop.wait(interval)
    watcher.close()
    log.info("clock stopped")


if __name__ == "__main__":
    main()
