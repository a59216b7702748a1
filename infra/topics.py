"""The platform's topics, declared once, and their idempotent provisioning.

Every topic is created explicitly before any producer writes to it: the embedded broker loses
records written to a topic that does not exist yet, and production clusters usually disable
auto-creation too. Domain topics and their dead-letter topics keep records forever: the log is
the system of record that services, integrations and auditors replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.kafka import KafkaSettings

INFINITE_RETENTION = "-1"
BROKER_DEFAULT = -1
"""A replication factor left to the broker (its ``default.replication.factor``)."""


class Topic(StrEnum):
    """Logical topic names; an environment may put a prefix in front (``TopicSettings``)."""

    MEMBERS = "rituals.members"
    COFFEE = "rituals.coffee"
    ONBOARDING = "rituals.onboarding"
    RITUALS = "rituals.rituals"
    NOTIFICATIONS = "rituals.notifications"
    CLOCK = "rituals.clock"
    PULSE = "rituals.pulse"


_TOPIC_OF_FAMILY: dict[str, Topic] = {
    "rituals.member.": Topic.MEMBERS,
    "rituals.coffee.": Topic.COFFEE,
    "rituals.onboarding.": Topic.ONBOARDING,
    "rituals.ritual.": Topic.RITUALS,
    "rituals.notification.": Topic.NOTIFICATIONS,
    "rituals.clock.": Topic.CLOCK,
    "rituals.pulse.": Topic.PULSE,
}


STATEFUL_SERVICES = ("matcher", "onboarding", "notifier", "gateway")
"""Services that keep state, each with a compacted topic of snapshots of it."""
SNAPSHOT_COMPACTION_LAG_MS = "86400000"
"""A replaced snapshot is compacted away within a day (it may hold personal data)."""
SNAPSHOT_SEGMENT_MS = "3600000"
"""Segments roll hourly, so the newest snapshots' segments can be compacted too."""


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
    replication_factor: int | None = Field(
        default=None,
        ge=1,
        description="Replicas of each topic when created; unset: the broker's "
        "default.replication.factor (3 on a typical production cluster).",
    )

    def name(self, topic: Topic) -> str:
        """The physical name of a domain topic."""
        return f"{self.prefix}{topic.value}"

    def dead_letter(self, topic: Topic) -> str:
        """The physical name of a domain topic's dead-letter topic."""
        return f"{self.name(topic)}.dlq"

    def snapshots(self, service: str) -> str:
        """The physical name of a service's snapshot topic."""
        return f"{self.prefix}rituals.{service}.snapshots"

    def all_names(self) -> Iterator[str]:
        for topic in Topic:
            yield self.name(topic)
            yield self.dead_letter(topic)
        for service in STATEFUL_SERVICES:
            yield self.snapshots(service)

    def is_snapshot_topic(self, name: str) -> bool:
        return name in {self.snapshots(service) for service in STATEFUL_SERVICES}


@dataclass(frozen=True)
class ProvisionReport:
    created: tuple[str, ...]
    existing: tuple[str, ...]
    mismatches: tuple[str, ...] = ()
    """Existing topics whose layout or configuration would lose or misplace history, each said
    in words; provisioning changes none of them (an operator decides)."""
    unverified: tuple[str, ...] = ()
    """Existing topics whose configuration the broker does not report (the embedded one)."""


class TopicMismatchError(RuntimeError):
    """Existing topics are not laid out as the platform needs."""

    def __init__(self, mismatches: tuple[str, ...]) -> None:
        super().__init__("; ".join(mismatches))
        self.mismatches = mismatches


def provision_topics(kafka: KafkaSettings, topics: TopicSettings) -> ProvisionReport:
    """Create every missing topic and check the existing ones. Safe to run any time."""
    admin = KafkaAdminClient(client_id="rituals-provisioner", **kafka.kafka_python_params())
    try:
        replicas = topics.replication_factor or _broker_default_replicas(admin)

        def wanted_configs(name: str) -> dict[str, str]:
            configs = topic_configs(replicas)
            return snapshot_configs(configs) if topics.is_snapshot_topic(name) else configs

        present = set(admin.list_topics())
        wanted = list(topics.all_names())
        created: list[str] = []
        for name in (name for name in wanted if name not in present):
            try:
                configs = wanted_configs(name)
                new = NewTopic(name, topics.partitions, replicas, topic_configs=configs)
                admin.create_topics([new])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another provisioner: checked below like the others
        existing = tuple(name for name in wanted if name not in created)
        mismatches, unverified = _check(admin, existing, topics.partitions, wanted_configs)
        return ProvisionReport(tuple(created), existing, mismatches, unverified)
    finally:
        admin.close()


def ensure_topics(kafka: KafkaSettings, topics: TopicSettings) -> ProvisionReport:
    """``provision_topics``, raising ``TopicMismatchError`` when an existing topic is wrong."""
    report = provision_topics(kafka, topics)
    if report.mismatches:
        raise TopicMismatchError(report.mismatches)
    return report


def topic_configs(replicas: int) -> dict[str, str]:
    """Every record kept forever, deleted by nobody; a write acknowledged by two replicas where
    there are two or more (an acknowledged output survives the loss of a leader)."""
    return {
        "retention.ms": INFINITE_RETENTION,
        "retention.bytes": INFINITE_RETENTION,
        "cleanup.policy": "delete",
        "min.insync.replicas": str(min(2, replicas) if replicas > 0 else 1),
    }


def snapshot_configs(history_configs: dict[str, str]) -> dict[str, str]:
    """A snapshot topic keeps the newest record of each key (compaction), for ever; what it
    replaced is removed within a day."""
    return {
        **history_configs,
        "cleanup.policy": "compact",
        "max.compaction.lag.ms": SNAPSHOT_COMPACTION_LAG_MS,
        "segment.ms": SNAPSHOT_SEGMENT_MS,
    }


def _broker_default_replicas(admin: KafkaAdminClient) -> int:
    """The cluster's ``default.replication.factor``, from the first broker that answers: a
    broker the cluster lists may be unknown yet to the node the client asked, or be down."""
    failure: KafkaError | None = None
    for broker in admin.describe_cluster()["brokers"]:
        resource = ConfigResource(ConfigResourceType.BROKER, str(broker["broker_id"]))
        try:
            reported = _configs(admin, resource)
        except KafkaError as error:
            failure = error
            continue
        value = reported.get("default.replication.factor")
        return int(value) if value else BROKER_DEFAULT
    if failure is not None:
        raise failure
    return BROKER_DEFAULT


def _check(
    admin: KafkaAdminClient,
    names: tuple[str, ...],
    partitions: int,
    wanted_configs: Callable[[str], dict[str, str]],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    mismatches: list[str] = []
    unverified: list[str] = []
    described = _described(admin, names)
    reported = _reported_configs(admin, names)
    for name in names:
        found = len(described[name]["partitions"]) if name in described else partitions
        if found != partitions:
            mismatches.append(f"{name}: {found} partitions, {partitions} expected")
        configs = reported[name]
        if not configs:
            unverified.append(name)
            continue
        mismatches += [
            f"{name}: {key}={configs[key]}, {expected} expected"
            for key, expected in wanted_configs(name).items()
            if key in configs and not _satisfies(key, configs[key], expected)
        ]
    return tuple(mismatches), tuple(unverified)


SETTLE_ATTEMPTS = 40
SETTLE_PAUSE_SECONDS = 0.25
"""A topic created a moment ago (by this or another provisioner) may not be described yet:
Apache Kafka reports it without partitions or configuration until its metadata has spread."""


def _described(admin: KafkaAdminClient, names: tuple[str, ...]) -> dict[str, Any]:
    """Each topic's description, asked again while some report no partitions yet."""
    for _ in range(SETTLE_ATTEMPTS):
        described = {topic["name"]: topic for topic in admin.describe_topics(list(names))}
        if all(described[name]["partitions"] for name in names if name in described):
            break
        time.sleep(SETTLE_PAUSE_SECONDS)
    return described


def _reported_configs(admin: KafkaAdminClient, names: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Each topic's configuration. A broker that reports none for any topic (the embedded one)
    is answered at once; one that reports some is asked again for those still missing."""
    reported = {
        name: _configs(admin, ConfigResource(ConfigResourceType.TOPIC, name)) for name in names
    }
    for _ in range(SETTLE_ATTEMPTS):
        missing = [name for name, configs in reported.items() if not configs]
        if not missing or len(missing) == len(names):
            break
        time.sleep(SETTLE_PAUSE_SECONDS)
        for name in missing:
            reported[name] = _configs(admin, ConfigResource(ConfigResourceType.TOPIC, name))
    return reported


def _satisfies(key: str, value: str, expected: str) -> bool:
    if key == "min.insync.replicas":
        return int(value) >= int(expected)  # stricter is the operator's choice
    return value == expected


def _configs(admin: KafkaAdminClient, resource: ConfigResource) -> dict[str, str]:
    """The configuration the broker reports for a resource ({} when it reports none)."""
    response = admin.describe_configs([resource])
    found: dict[str, str] = {}
    for result in response if isinstance(response, list) else [response]:
        found |= _entries(result)
    return found


def _entries(result: object) -> dict[str, str]:
    # kafka-python 3 answers {type: {name: {config: value or {"value": value, ...}}}}.
    if isinstance(result, dict):
        return {
            str(key): str(value["value"] if isinstance(value, dict) else value)
            for by_name in result.values()
            for configs in by_name.values()
            for key, value in configs.items()
        }
    return {}
