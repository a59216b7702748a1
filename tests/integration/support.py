"""Running service runtimes inside the test process, against the session's broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

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


PHASE_SECONDS = 120
"""Starting or stopping a runtime takes seconds: one that hangs fails here, naming the phase and
where every task awaits, rather than at pytest-timeout, whose dump shows threads, not tasks."""


def _tasks_awaiting() -> str:
    lines = []
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=3)  # the newest: where it awaits
        where = " < ".join(
            f"{f.f_code.co_name} ({f.f_code.co_filename}:{f.f_lineno})" for f in reversed(frames)
        )
        lines.append(f"  {task.get_name()}: {where or '-'}")
    return "\n".join(sorted(lines))


async def _within_bound(phase: str, name: str, work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=PHASE_SECONDS)
    if not done:
        tasks = _tasks_awaiting()  # before cancelling: the phase's own task shows where it hangs
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise AssertionError(
            f"{name}: {phase} did not end within {PHASE_SECONDS} s; tasks:\n{tasks}"
        )
    task.result()


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
        await _within_bound("start", definition.name, runtime.start())
        try:
            await asyncio.wait_for(runtime.rebuilt.wait(), timeout=60)
            await runtime.start_workers()
        finally:
            structlog.contextvars.reset_contextvars(**named)
        yield runtime
    finally:
        await _within_bound("stop", definition.name, runtime.stop())
