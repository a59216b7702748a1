"""The platform's topics, declared once, and their idempotent provisioning.

Every topic is created explicitly before any producer writes to it: the embedded broker loses
records written to a topic that does not exist yet, and production clusters usually disable
auto-creation too. Domain topics and their dead-letter topics keep records forever: the log is
the system of record that services, integrations and auditors replay.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.kafka import KafkaSettings

INFINITE_RETENTION = "-1"


class Topic(StrEnum):
    """Logical topic names; an environment may put a prefix in front (``TopicSettings``)."""

    MEMBERS = "rituals.members"
    COFFEE = "rituals.coffee"
    ONBOARDING = "rituals.onboarding"
    RITUALS = "rituals.rituals"
    NOTIFICATIONS = "rituals.notifications"
    CLOCK = "rituals.clock"


_TOPIC_OF_FAMILY: dict[str, Topic] = {
    "rituals.member.": Topic.MEMBERS,
    "rituals.coffee.": Topic.COFFEE,
    "rituals.onboarding.": Topic.ONBOARDING,
    "rituals.ritual.": Topic.RITUALS,
    "rituals.notification.": Topic.NOTIFICATIONS,
    "rituals.clock.": Topic.CLOCK,
}


def topic_for(event_type: str) -> Topic:
    """The topic an event type lives on (ValueError for a type outside the catalogue's families)."""
    for family, topic in _TOPIC_OF_FAMILY.items():
        if event_type.startswith(family):
            return topic
    raise ValueError(f"no topic for event type {event_type!r}")


class TopicSettings(BaseSettings):
    """Names and layout of the topics in one environment."""

    model_config = SettingsConfigDict(env_prefix="RITUALS_TOPIC_", extra="ignore")

    prefix: str = Field(
        default="", description="Put in front of every topic name (separates environments, tests)."
    )
    partitions: int = Field(default=6, ge=1, description="Partitions of each topic when created.")
    replication_factor: int = Field(
        default=1, ge=1, description="Replicas of each topic when created (3 on a real cluster)."
    )

    def name(self, topic: Topic) -> str:
        """The physical name of a domain topic."""
        return f"{self.prefix}{topic.value}"

    def dead_letter(self, topic: Topic) -> str:
        """The physical name of a domain topic's dead-letter topic."""
        return f"{self.name(topic)}.dlq"

    def all_names(self) -> Iterator[str]:
        for topic in Topic:
            yield self.name(topic)
            yield self.dead_letter(topic)


@dataclass(frozen=True)
class ProvisionReport:
    created: tuple[str, ...]
    existing: tuple[str, ...]


def provision_topics(kafka: KafkaSettings, topics: TopicSettings) -> ProvisionReport:
    """Create every missing topic; existing ones are left as they are. Safe to run any time."""
    admin = KafkaAdminClient(client_id="rituals-provisioner", **kafka.kafka_python_params())
    try:
        present = set(admin.list_topics())
        wanted = list(topics.all_names())
        missing = [name for name in wanted if name not in present]
        created: list[str] = []
        for name in missing:
            try:
                admin.create_topics([_new_topic(name, topics)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another provisioner: the goal is reached
        return ProvisionReport(
            created=tuple(created), existing=tuple(n for n in wanted if n not in created)
        )
    finally:
        admin.close()


def _new_topic(name: str, topics: TopicSettings) -> NewTopic:
    return NewTopic(
        name=name,
        num_partitions=topics.partitions,
        replication_factor=topics.replication_factor,
        topic_configs={"retention.ms": INFINITE_RETENTION, "retention.bytes": INFINITE_RETENTION},
    )
