"""Running service runtimes inside the test process, against the session's broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from infra.kafka import KafkaSettings
from infra.topics import TopicSettings
from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.common.settings import ServiceSettings

# Short group timeouts (the embedded broker makes a joining member wait in proportion to them),
# yet not under Apache Kafka's group.min.session.timeout.ms (6,000 ms by default).
FAST_GROUPS = ServiceSettings(
    session_timeout_ms=6_000, heartbeat_interval_ms=500, replay_idle_ms=300
)


@asynccontextmanager
async def running(
    definition: ServiceDefinition,
    kafka: KafkaSettings,
    topics: TopicSettings,
    settings: ServiceSettings = FAST_GROUPS,
) -> AsyncIterator[ServiceRuntime]:
    """A service instance consuming live (its state rebuilt) for the duration of the block."""
    runtime = ServiceRuntime(definition, settings=settings, kafka=kafka, topics=topics)
    # Several services share this process: the tasks each one starts log under its own name.
    named = structlog.contextvars.bind_contextvars(service=definition.name)
    try:
        await runtime.start()
        try:
            await asyncio.wait_for(runtime.rebuilt.wait(), timeout=60)
            await runtime.start_workers()
        finally:
            structlog.contextvars.reset_contextvars(**named)
        yield runtime
    finally:
        await runtime.stop()
