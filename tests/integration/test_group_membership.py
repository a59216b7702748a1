"""A stopped instance leaves its consumer group, so the next one does not wait for it to expire.

The embedded broker numbers a new group's first generation 0, which aiokafka never leaves by
itself (``services.common.adapters.group_membership``); Apache Kafka numbers from 1. Either way
the group is empty once its only instance has stopped."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from infra.kafka import KafkaSettings
from infra.topics import TopicSettings
from services.common.runtime import consumer_group
from tests.integration.support import running
from tests.integration.test_runtime import DEFINITION

pytestmark = pytest.mark.broker


async def members_of(kafka: KafkaSettings, group: str) -> list[str]:
    admin = AIOKafkaAdminClient(**kafka.aiokafka_params())
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    ((error, _, _, _, _, members),) = response.groups
    assert error == 0
    return [member[0] for member in members]


async def test_a_stopped_instance_leaves_its_group_from_the_first_generation_on(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    group = consumer_group(topics, DEFINITION.name)
    for _ in range(2):  # the group's first generation, then a later one
        async with running(DEFINITION, kafka, topics):
            assert len(await members_of(kafka, group)) == 1

        assert await members_of(kafka, group) == []
