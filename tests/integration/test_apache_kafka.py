"""Apache Kafka started by the project: provisioning, idempotent and transactional producers, and
end offsets that count what was written (none of which the embedded broker does right).

Needs Java 17+ and Maven (the jars come from Maven Central once), as ``make test`` does: without
them the test fails, saying so, rather than passing unchecked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition

from infra.apache_kafka import ApacheKafka
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings, provision_topics
from services.common.adapters.history import wait_until

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def apache_kafka() -> Iterator[ApacheKafka]:
    with ApacheKafka() as kafka:
        yield kafka


@pytest.fixture
def provisioned(apache_kafka: ApacheKafka) -> tuple[KafkaSettings, TopicSettings]:
    kafka = KafkaSettings(bootstrap_servers=apache_kafka.bootstrap_servers)
    topics = TopicSettings(prefix=f"k{uuid.uuid4().hex[:8]}.", partitions=3)
    report = provision_topics(kafka, topics)
    assert set(report.created) == set(topics.all_names())
    assert report.mismatches == ()
    assert report.unverified == ()
    return kafka, topics


def _end_offsets(servers: str, topic: str) -> int:
    """The sum of the topic's high watermarks (kafka-python's consumer, in ``assign()`` mode)."""
    consumer = KafkaConsumer(bootstrap_servers=servers)
    try:
        partitions = [KafkaTopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


async def _read_values(servers: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers,
        group_id=f"g{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        while len(values) < count:
            batches = await consumer.getmany(timeout_ms=10_000)
            if not batches:
                break
            values.extend(r.value or b"" for records in batches.values() for r in records)
    finally:
        await consumer.stop()
    return values


def test_provisioning_creates_every_topic(
    apache_kafka: ApacheKafka, provisioned: tuple[KafkaSettings, TopicSettings]
) -> None:
    from kafka.admin import KafkaAdminClient

    _, topics = provisioned
    admin = KafkaAdminClient(bootstrap_servers=apache_kafka.bootstrap_servers)
    wanted = set(topics.all_names())
    try:
        # The broker asked may not have the latest metadata yet: it spreads within moments.
        assert wait_until(lambda: wanted <= set(admin.list_topics()), 30.0, interval=0.2), sorted(
            wanted - set(admin.list_topics())
        )
    finally:
        admin.close()


async def test_idempotent_producer_round_trip_and_end_offsets(
    apache_kafka: ApacheKafka, provisioned: tuple[KafkaSettings, TopicSettings]
) -> None:
    _, topics = provisioned
    topic = topics.name(Topic.MEMBERS)
    servers = apache_kafka.bootstrap_servers
    producer = AIOKafkaProducer(bootstrap_servers=servers, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for i in range(200):
            await producer.send(topic, f"r{i}".encode(), key=f"k{i % 7}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    assert _end_offsets(servers, topic) == 200
    values = await _read_values(servers, topic, 200)
    assert sorted(values) == sorted(f"r{i}".encode() for i in range(200))


async def test_transactional_producer_commits(
    apache_kafka: ApacheKafka, provisioned: tuple[KafkaSettings, TopicSettings]
) -> None:
    _, topics = provisioned
    topic = topics.name(Topic.MEMBERS)
    servers = apache_kafka.bootstrap_servers
    producer = AIOKafkaProducer(
        bootstrap_servers=servers, transactional_id=f"tx-{uuid.uuid4().hex[:8]}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            for i in range(50):
                await producer.send(topic, f"t{i}".encode(), partition=i % 3)
    finally:
        await producer.stop()

    # A committed transaction leaves one commit marker per partition it wrote to.
    assert _end_offsets(servers, topic) == 50 + 3
    values = await _read_values(servers, topic, 50)
    assert sorted(values) == sorted(f"t{i}".encode() for i in range(50))
