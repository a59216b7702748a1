"""Latency benchmark: new hires joining at a steady rate, with all three services running.

The platform runs as in ``rituals up`` (matcher, onboarding, notifier as processes) on the
embedded broker (or KAFKA_BOOTSTRAP_SERVERS). An organisation of 200 members is in place; new
hires then join at 5, 20 and 200 per second. For each new hire the benchmark measures, from the
record timestamps the producers set (one machine, one clock):

- join -> ``onboarding.buddy_assigned`` or ``buddy_unavailable`` (the onboarding service
  decided; the organisation's volunteers run out of room at the higher rates);
- join -> ``notification.sent`` of the new hire's buddy message (the notifier delivered it to
  its console channel and recorded it), for those who got a buddy.

Percentiles p50 / p99 / max per rate; new hires whose outcomes did not all come within the wait
are counted as missing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from infra.broker import EmbeddedBroker
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings, ensure_topics
from schemas import decode_event, new_event
from schemas.base import WorkingHours
from schemas.members import MemberJoined
from schemas.notifications import NotificationSent
from schemas.onboarding import BuddyAssigned, BuddyUnavailable
from services.common.logging import configure_logging
from services.common.records import event_record
from services.common.simulation import OrganisationShape, generate_members
from services.demo.runner import platform

ORG = "latency-org"
DOMAIN_TIME = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday morning: nobody's quiet hours
ALWAYS = WorkingHours(start="00:00", end="23:59", days=("mon", "tue", "wed", "thu", "fri"))
RATES = (5, 20, 200)
SECONDS = 30
WAIT_FOR_OUTCOMES = 60.0


def organisation(size: int) -> list[MemberJoined]:
    return [
        member.model_copy(update={"working_hours": ALWAYS, "notification_channels": ()})
        for member in generate_members(11, OrganisationShape(members=size))
    ]


def new_hires(rate: int, seconds: int) -> list[MemberJoined]:
    template = organisation(1)[0]
    return [
        template.model_copy(
            update={
                "member_id": f"hire-{rate}-{n:05d}",
                "new_hire": True,
                "start_date": date(2026, 3, 2),
                "manager_id": None,
            }
        )
        for n in range(rate * seconds)
    ]


async def produce(
    kafka: KafkaSettings, topics: TopicSettings, members: Sequence[MemberJoined], rate: float
) -> None:
    """At ``rate`` per second (0: as fast as possible), each send awaited."""
    producer = AIOKafkaProducer(**kafka.aiokafka_params())
    await producer.start()
    try:
        started = time.perf_counter()
        for number, member in enumerate(members):
            if rate:
                await asyncio.sleep(max(0.0, started + number / rate - time.perf_counter()))
            event = new_event(
                member, source="/bench", orgid=ORG, time=DOMAIN_TIME, subject=member.member_id
            )
            record = event_record(event, topics)
            await producer.send_and_wait(record.topic, record.value, key=record.key)
    finally:
        await producer.stop()


async def timestamps(
    kafka: KafkaSettings, topics: TopicSettings, hires: set[str], within: float
) -> dict[str, dict[str, int]]:
    """Record timestamps (ms) per new hire: joined, buddy assigned, buddy message sent."""
    names = [topics.name(t) for t in (Topic.MEMBERS, Topic.ONBOARDING, Topic.NOTIFICATIONS)]
    consumer = AIOKafkaConsumer(**kafka.aiokafka_params(), enable_auto_commit=False)
    await consumer.start()
    found: dict[str, dict[str, int]] = {hire: {} for hire in hires}
    try:
        partitions = [TopicPartition(n, p) for n in names for p in range(topics.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.perf_counter() + within
        while time.perf_counter() < deadline and not all(map(_complete, found.values())):
            batch = await consumer.getmany(timeout_ms=500)
            for record in (r for records in batch.values() for r in records):
                _note(found, decode_event(record.value or b"").data, record.timestamp)
    finally:
        await consumer.stop()
    return found


def _complete(times: dict[str, int]) -> bool:
    return "decided" in times and ("unavailable" in times or "notification_sent" in times)


def _note(found: dict[str, dict[str, int]], payload: Any, timestamp: int) -> None:
    if isinstance(payload, MemberJoined) and payload.member_id in found:
        found[payload.member_id]["joined"] = timestamp
    elif isinstance(payload, BuddyAssigned | BuddyUnavailable) and payload.new_hire_id in found:
        found[payload.new_hire_id].setdefault("decided", timestamp)
        if isinstance(payload, BuddyUnavailable):  # no message to wait for
            found[payload.new_hire_id]["unavailable"] = timestamp
    elif (
        isinstance(payload, NotificationSent)
        and payload.recipient_id in found
        and payload.template == "onboarding.buddy_assigned.new_hire"
    ):
        found[payload.recipient_id].setdefault("notification_sent", timestamp)


def _latencies(found: dict[str, dict[str, int]], outcome: str) -> list[float]:
    return [
        float(t[outcome] - t["joined"]) for t in found.values() if outcome in t and "joined" in t
    ]


def percentiles(values: list[float]) -> str:
    if not values:
        return "      -        -        -"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):7.0f} {p99:8.0f} {ordered[-1]:8.0f}"


async def measure(kafka: KafkaSettings, topics: TopicSettings, seconds: int) -> None:
    await produce(kafka, topics, organisation(200), rate=0)
    heads = ("to the buddy decision (ms)", "to notification.sent (ms)")
    print(f"  {'rate/s':>7} {'joins':>6}  {heads[0]:^26}  {heads[1]:^26}  missing")
    columns = f"{'p50':>7} {'p99':>8} {'max':>8}"
    print(f"  {'':>7} {'':>6}  {columns}  {columns}")
    for rate in RATES:
        hires = new_hires(rate, seconds)
        await produce(kafka, topics, hires, rate)
        found = await timestamps(kafka, topics, {h.member_id for h in hires}, WAIT_FOR_OUTCOMES)
        decided = _latencies(found, "decided")
        sent = _latencies(found, "notification_sent")
        missing = sum(1 for t in found.values() if not _complete(t))
        row = f"{percentiles(decided)}  {percentiles(sent)}"
        print(f"  {rate:>7} {len(hires):>6}  {row}  {missing:>7}")


def main(seconds: int = SECONDS) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=seconds, help="Seconds of joins per rate.")
    options = parser.parse_args()
    configure_logging("bench", level="WARNING")
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker: AbstractContextManager[Any] = nullcontext() if configured else EmbeddedBroker()
    with broker as embedded, tempfile.TemporaryDirectory() as scratch:
        servers = configured or embedded.bootstrap_servers
        kafka = KafkaSettings(bootstrap_servers=servers)
        topics = TopicSettings(prefix=f"lat{uuid.uuid4().hex[:6]}.")
        ensure_topics(kafka, topics)
        print(
            f"== latency: new hires joining, matcher + onboarding + notifier running ({servers}) =="
        )
        with platform(servers, topics, Path(scratch)):
            asyncio.run(measure(kafka, topics, options.seconds))


if __name__ == "__main__":
    main()
