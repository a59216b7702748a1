"""Latency benchmark: new hires joining at a steady rate, with all three services running,
against a raw aiokafka loop answering each join on the same broker.

The platform runs as in ``rituals up`` (matcher, onboarding, notifier as processes). Twenty
organisations of 200 members each are in place; new hires then join at 5, 20 and 200 per second
for 30 s each, taking the organisations in turn (a platform's joins come from many tenants; one
organisation of 200 taking 6,000 new hires in 30 s has nobody left to be their buddy). For
each new hire the benchmark measures, from the record timestamps the producers set (one machine,
one clock):

- join -> ``onboarding.buddy_assigned`` or ``buddy_unavailable`` (the onboarding service
  decided; the organisation's volunteers run out of room at the higher rates);
- join -> ``notification.sent`` of the new hire's buddy message (the notifier delivered it to
  its console channel and recorded it), for those who got a buddy.

The baseline, on topics of its own: one raw aiokafka consumer in a group (``getmany``, each
record decoded and validated with the same ``admit``, one ``buddy_unavailable`` sent per join with
``acks=all`` as the platform sends, the batch's sends awaited together, one commit per batch),
the same joins at the same rates; join -> its answer is the figure beside the platform's
join -> buddy decision (which also searches for a buddy: a few milliseconds).

Percentiles p50 / p99 / max per rate, and the decision's p50 (p99) per five seconds of joins;
new hires whose outcomes did not all come within the wait are counted as missing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from benchmarks.engines import Comparison, Engine, comma_numbers, run_alone
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings, ensure_topics
from schemas import decode_event, new_event
from schemas.base import WorkingHours
from schemas.members import MemberJoined
from schemas.notifications import NotificationSent
from schemas.onboarding import BuddyAssigned, BuddyUnavailable
from services.cli.platform import SERVICES, ConsumerProgress
from services.common.adapters.history import wait_until
from services.common.admission import admit
from services.common.logging import configure_logging
from services.common.records import event_record
from services.common.settings import ServiceSettings
from services.common.simulation import OrganisationShape, generate_members
from services.demo.runner import PROCESSES, platform

ORGANISATIONS = tuple(f"latency-org-{number:02}" for number in range(20))
MEMBERS_PER_ORGANISATION = 200
DOMAIN_TIME = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday morning: nobody's quiet hours
ALWAYS = WorkingHours(start="00:00", end="23:59", days=("mon", "tue", "wed", "thu", "fri"))
RATES = (5, 20, 200)
SECONDS = 30
WAIT_FOR_OUTCOMES = 60.0
BENCHMARK = "latency: join -> buddy decision (platform) or answer (raw), p50 (p99) ms"


def organisation(size: int) -> list[MemberJoined]:
    return [
        member.model_copy(update={"working_hours": ALWAYS, "notification_channels": ()})
        for member in generate_members(11, OrganisationShape(members=size))
    ]


Join = tuple[str, MemberJoined]
"""An organisation and a member joining it."""


def organisations() -> list[Join]:
    """The organisations' staff, each organisation the same people under its own name."""
    staff = organisation(MEMBERS_PER_ORGANISATION)
    return [(org, member) for org in ORGANISATIONS for member in staff]


def new_hires(rate: int, seconds: int, name: str = "hire") -> list[Join]:
    """``rate * seconds`` new hires, taking the organisations in turn."""
    template = organisation(1)[0]
    return [
        (
            ORGANISATIONS[n % len(ORGANISATIONS)],
            template.model_copy(
                update={
                    "member_id": f"{name}-{rate}-{n:05d}",
                    "new_hire": True,
                    "start_date": date(2026, 3, 2),
                    "manager_id": None,
                }
            ),
        )
        for n in range(rate * seconds)
    ]


async def produce(
    kafka: KafkaSettings, topics: TopicSettings, joins: Sequence[Join], rate: float
) -> dict[TopicPartition, int]:
    """At ``rate`` per second, each send awaited; 0: as fast as possible, pipelined. Where the
    partitions written to end afterwards."""
    producer = AIOKafkaProducer(**kafka.aiokafka_params())
    await producer.start()
    try:
        started = time.perf_counter()
        sends: list[asyncio.Future[Any]] = []
        for number, (org, member) in enumerate(joins):
            event = new_event(
                member, source="/bench", orgid=org, time=DOMAIN_TIME, subject=member.member_id
            )
            record = event_record(event, topics)
            if not rate:
                sends.append(await producer.send(record.topic, record.value, key=record.key))
                continue
            await asyncio.sleep(max(0.0, started + number / rate - time.perf_counter()))
            sends.append(await producer.send(record.topic, record.value, key=record.key))
            await sends[-1]
        ends: dict[TopicPartition, int] = {}
        for sent in await asyncio.gather(*sends):
            place = TopicPartition(sent.topic, sent.partition)
            ends[place] = max(ends.get(place, 0), sent.offset + 1)
        return ends
    finally:
        await producer.stop()


async def timestamps(
    kafka: KafkaSettings,
    topics: TopicSettings,
    hires: set[str],
    within: float,
    *,
    notifications: bool = True,
) -> dict[str, dict[str, int]]:
    """Record timestamps (ms) per new hire: joined, buddy assigned, buddy message sent (waited
    for with ``notifications``: the notifier runs)."""
    names = [topics.name(t) for t in (Topic.MEMBERS, Topic.ONBOARDING, Topic.NOTIFICATIONS)]
    consumer = AIOKafkaConsumer(**kafka.aiokafka_params(), enable_auto_commit=False)
    await consumer.start()
    found: dict[str, dict[str, int]] = {hire: {} for hire in hires}
    try:
        partitions = [TopicPartition(n, p) for n in names for p in range(topics.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.perf_counter() + within
        complete = partial(_complete, notifications=notifications)
        while time.perf_counter() < deadline and not all(map(complete, found.values())):
            batch = await consumer.getmany(timeout_ms=500)
            for record in (r for records in batch.values() for r in records):
                _note(found, decode_event(record.value or b"").data, record.timestamp)
    finally:
        await consumer.stop()
    return found


def _complete(times: dict[str, int], *, notifications: bool = True) -> bool:
    """Whether every outcome awaited of a new hire came: the decision, and the buddy message
    when the notifier runs and a buddy was found."""
    if not notifications:
        return "decided" in times
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
    return f"{statistics.median(ordered):7.0f} {_p99(ordered):8.0f} {ordered[-1]:8.0f}"


def _header(first: str, second: str | None) -> None:
    heads = [f"{first:^26}"] + ([f"{second:^26}"] if second else [])
    print(f"  {'rate/s':>7} {'joins':>6}  {'  '.join(heads)}  missing")
    columns = [f"{'p50':>7} {'p99':>8} {'max':>8}"] * len(heads)
    print(f"  {'':>7} {'':>6}  {'  '.join(columns)}")


async def at_rates(
    kafka: KafkaSettings,
    topics: TopicSettings,
    run: Run,
    name: str,
    *,
    notifications: bool,
) -> dict[int, list[float]]:
    """New hires joining at each rate; prints a row per rate, returns join -> decision (ms)."""
    decisions: dict[int, list[float]] = {}
    for rate in run.rates:
        hires = new_hires(rate, run.seconds, name)
        await produce(kafka, topics, hires, rate)
        found = await timestamps(
            kafka,
            topics,
            {hire.member_id for _, hire in hires},
            WAIT_FOR_OUTCOMES,
            notifications=notifications,
        )
        decisions[rate] = _latencies(found, "decided")
        sent = _latencies(found, "notification_sent")
        missing = sum(1 for t in found.values() if not _complete(t, notifications=notifications))
        row = percentiles(decisions[rate]) + (f"  {percentiles(sent)}" if notifications else "")
        print(f"  {rate:>7} {len(hires):>6}  {row}  {missing:>7}")
        print(f"  {'':>7} {'':>6}  by {WINDOW_SECONDS} s of joins: {_by_window(found)}")
    return decisions


WINDOW_SECONDS = 5
"""The decision latency is also shown per window of joins: a floor rising through the run (a
broker slowing as its log grows) and a stop in one window (a full garbage collection) give the
same p99 and different causes."""


def _by_window(found: dict[str, dict[str, int]], seconds: int = WINDOW_SECONDS) -> str:
    """p50 (p99) of join -> decision in each window of ``seconds`` of joins, in order."""
    joined = [t for t in found.values() if "joined" in t and "decided" in t]
    if not joined:
        return "-"
    first = min(t["joined"] for t in joined)
    windows: dict[int, list[float]] = {}
    for times in joined:
        window = (times["joined"] - first) // (seconds * 1000)
        windows.setdefault(window, []).append(float(times["decided"] - times["joined"]))
    return " | ".join(
        f"{_median(values):.0f} ({_p99(values):.0f})" for _, values in sorted(windows.items())
    )


async def answering(kafka: KafkaSettings, topics: TopicSettings) -> None:
    """The raw aiokafka baseline: answer every join with buddy_unavailable, until cancelled."""
    consumer = AIOKafkaConsumer(
        topics.name(Topic.MEMBERS),
        **kafka.aiokafka_params(),
        group_id=f"{topics.prefix}raw",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        fetch_max_wait_ms=ServiceSettings().fetch_max_wait_ms,  # as the services' consumers
    )
    producer = AIOKafkaProducer(**kafka.aiokafka_params(), acks="all")
    await consumer.start()
    await producer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            sends = []
            for record in (r for records in batch.values() for r in records):
                event = admit(record, topics, topics.partitions)
                answer = new_event(
                    BuddyUnavailable(new_hire_id=event.data.member_id, reason="raw"),
                    source="/bench",
                    orgid=event.orgid,
                    time=event.time,
                )
                out = event_record(answer, topics)
                sends.append(await producer.send(out.topic, out.value, key=out.key))
            await asyncio.gather(*sends)
            if batch:
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


async def measure_platform(
    kafka: KafkaSettings, topics: TopicSettings, run: Run
) -> dict[int, list[float]]:
    ends = await produce(kafka, topics, organisations(), rate=0)
    # The organisations read by every service before the first new hire: the hires measure
    # the platform answering, not the platform loading 4,000 members.
    running = [service for service in SERVICES if service in run.processes]
    with ConsumerProgress(kafka, topics, running) as progress:
        await asyncio.to_thread(wait_until, lambda: progress.caught_up(ends), WAIT_FOR_OUTCOMES)
    notifications = "notifier" in run.processes
    _header("to the buddy decision (ms)", "to notification.sent (ms)" if notifications else None)
    return await at_rates(kafka, topics, run, "hire", notifications=notifications)


async def measure_raw(
    kafka: KafkaSettings, topics: TopicSettings, run: Run
) -> dict[int, list[float]]:
    loop = asyncio.create_task(answering(kafka, topics))
    try:
        # The organisation answered first: the loop has joined its group and is warm.
        await produce(kafka, topics, organisations(), rate=0)
        staff = {m.member_id for m in organisation(MEMBERS_PER_ORGANISATION)}
        await timestamps(kafka, topics, staff, WAIT_FOR_OUTCOMES)
        _header("to the answer (ms)", None)
        return await at_rates(kafka, topics, run, "raw", notifications=False)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


@dataclass(frozen=True)
class Run:
    """What one benchmark run drives: the rates, the seconds at each, the processes running."""

    rates: tuple[int, ...] = RATES
    seconds: int = SECONDS
    processes: tuple[str, ...] = PROCESSES


def compare(engine: Engine, run: Run = Run()) -> list[Comparison]:
    """Measure on the engine's broker, print the figures, return p50s side by side per rate."""
    run = replace(run, seconds=engine.scaled(run.seconds))
    kafka = engine.kafka()
    with tempfile.TemporaryDirectory() as scratch:
        topics = TopicSettings(prefix=f"lat{uuid.uuid4().hex[:6]}.")
        ensure_topics(kafka, topics)
        print(
            f"== latency on {engine.label}: new hires joining, {run.seconds} s a rate, "
            f"{' + '.join(run.processes)} running =={engine.reduced}"
        )
        with platform(engine.servers, topics, Path(scratch), names=run.processes):
            ours = asyncio.run(measure_platform(kafka, topics, run))
    raw_topics = TopicSettings(prefix=f"latraw{uuid.uuid4().hex[:6]}.")
    ensure_topics(kafka, raw_topics)
    print(f"   raw aiokafka baseline on {engine.label}: each join answered at once")
    raw = asyncio.run(measure_raw(kafka, raw_topics, run))
    return [
        Comparison(
            BENCHMARK,
            engine.label,
            f"{rate}/s x {run.seconds} s",
            "ms p50",
            _median(ours[rate]),
            _median(raw[rate]),
            note=f"p99 {_p99(ours[rate]):,.0f} vs {_p99(raw[rate]):,.0f} ms",
        )
        for rate in run.rates
    ]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main(argv: Sequence[str] | None = None) -> None:
    """``--rates 200`` and ``--processes onboarding,notifier`` narrow a run (onboarding, which
    decides, always runs); the rest picks engines."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--rates", type=comma_numbers, default=RATES)
    parser.add_argument("--processes", type=_processes, default=PROCESSES)
    options, rest = parser.parse_known_args(argv)
    configure_logging("bench", level="WARNING")
    run = Run(rates=options.rates, processes=options.processes)
    run_alone(partial(compare, run=run), rest)


def _processes(text: str) -> tuple[str, ...]:
    """The processes named, in the platform's order; onboarding among them (it decides)."""
    named = set(text.split(","))
    if unknown := named - set(PROCESSES):
        raise argparse.ArgumentTypeError(f"no such process: {', '.join(sorted(unknown))}")
    if "onboarding" not in named:
        raise argparse.ArgumentTypeError("onboarding decides the buddy: it must run")
    return tuple(name for name in PROCESSES if name in named)


if __name__ == "__main__":
    main(sys.argv[1:])
