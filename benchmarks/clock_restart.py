"""Restart with a long clock: the notifier (which reads every topic, the clock included) with
TICKS minute ticks of 10 organisations in its history, started for the first time (a new group:
everything is read) and then restarted (its group committed: the clock is read from a window
before the commit). Prints the seconds from start to ready of each, the events replayed, and
the size of the state as its snapshots encode it.

    python -m benchmarks.clock_restart [TICKS]      (default 200,000; KAFKA_BOOTSTRAP_SERVERS
                                                     for another broker than the embedded one)
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from benchmarks.runtime import produce
from infra.broker import EmbeddedBroker
from infra.kafka import KafkaSettings
from infra.topics import TopicSettings, ensure_topics
from schemas import new_event
from schemas.clock import ClockTicked
from services.common.logging import configure_logging
from services.common.runtime import ServiceRuntime
from services.common.settings import ServiceSettings
from services.common.snapshots import encode_ledger, shared_configuration
from services.notifier.app import DEFINITION

ORGANISATIONS = [f"org{n}" for n in range(10)]
START = datetime(2026, 1, 1, tzinfo=UTC)


async def write_ticks(kafka: KafkaSettings, topics: TopicSettings, ticks: int) -> None:
    minutes = (START + timedelta(minutes=minute) for minute in range(ticks // len(ORGANISATIONS)))
    await produce(
        kafka,
        topics,
        (
            new_event(ClockTicked(now=now, sequence=sequence), source="/bench", orgid=org, time=now)
            for sequence, now in enumerate(minutes)
            for org in ORGANISATIONS
        ),
    )


async def start_to_ready(kafka: KafkaSettings, topics: TopicSettings) -> tuple[float, float, int]:
    """Seconds from start to ready, the events the rebuild replayed, and the bytes of the
    state ready (encoded as a snapshot, before packing)."""
    settings = ServiceSettings(session_timeout_ms=6000, heartbeat_interval_ms=500)
    runtime = ServiceRuntime(DEFINITION, settings=settings, kafka=kafka, topics=topics)
    started = time.perf_counter()
    await runtime.start()
    try:
        while not runtime.ready:  # noqa: ASYNC110 (readiness is a state, polled as probes do)
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - started
        await asyncio.sleep(2)  # its live consumer commits what the rebuild read
        replayed: float = runtime.metrics.replayed.labels(DEFINITION.name)._value.get()
        configuration = shared_configuration(DEFINITION.new_processor)
        ledgers = runtime.ledgers
        state = sum(
            len(encode_ledger(ledgers.at(number), configuration)) for number in ledgers.partitions()
        )
        return seconds, replayed, state
    finally:
        await runtime.stop()


async def measure(servers: str, ticks: int) -> None:
    kafka = KafkaSettings(bootstrap_servers=servers)
    topics = TopicSettings(prefix=f"clock{uuid.uuid4().hex[:6]}.")
    ensure_topics(kafka, topics)
    written = time.perf_counter()
    await write_ticks(kafka, topics, ticks)
    print(f"{ticks:,} ticks written in {time.perf_counter() - written:.1f} s")
    for label in ("first start (nothing committed)", "restart (group committed)"):
        seconds, replayed, state = await start_to_ready(kafka, topics)
        print(
            f"{label:34} ready in {seconds:6.2f} s, {replayed:9,.0f} events replayed,"
            f" state {state / 1e6:6.2f} MB"
        )


def main() -> None:
    configure_logging("bench", level="WARNING")
    ticks = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        asyncio.run(measure(configured, ticks))
        return
    with EmbeddedBroker() as embedded:
        asyncio.run(measure(embedded.bootstrap_servers, ticks))


if __name__ == "__main__":
    main()
