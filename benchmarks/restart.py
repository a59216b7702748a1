"""Restart benchmark with snapshots: each service's start-to-ready time as its history grows.

For each history size (10,000, 100,000 and 1,000,000 events by default, scaled down on a second
engine), fresh topics get a history like a real organisation's: members joining (one event in
twenty) and the minute ticks of ten organisations' clocks (the rest). Then, per service:

- **first start**: a new group, no snapshot: the whole log is read (and a snapshot written);
- **restart, snapshots**: the group committed and a snapshot there: the snapshot is restored and
  only the log after it is read;
- **restart, no snapshots** (``RITUALS_SNAPSHOTS=false``): the group committed, no snapshot: the
  members are read whole, the clock from its window before the commit;
- **full replay**: the group's offsets set back to the beginning, no snapshot: the whole log is
  read again, the service's own decisions in it, so nothing is decided anew (a first start
  decides every round and check-in of the history: that is catching up, not replaying);
- **raw read + json.loads**: one aiokafka consumer reading the same topics to their end and
  parsing every record, the floor any replay of the whole log stands on; compared with the full
  replay's rebuild (from the assignment to ready: joining the group is not replaying), per record
  (both read the same records, outputs of the first start included); three turns of the two,
  the median ratio shown with the lowest and highest.

Goals (issue "The history lives"): with snapshots, ready time grows less than 2x from the
smallest history to the largest; a full replay runs at >= 50 % of the raw read + parse rate.

Run: ``python -m benchmarks.restart [--engine embedded|kafka|both] [--sizes 200000,1000000]
[--services matcher,notifier]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import json
import statistics
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from benchmarks.engines import Comparison, Engine, comma_numbers, run_alone
from benchmarks.runtime import produce
from infra.kafka import KafkaSettings
from infra.topics import TopicSettings, ensure_topics
from schemas import CloudEvent, new_event
from schemas.clock import ClockTicked
from schemas.members import MemberJoined
from services.common.logging import configure_logging
from services.common.runtime import ServiceDefinition, ServiceRuntime, consumer_group
from services.common.settings import ServiceSettings
from services.matcher.app import DEFINITION as MATCHER
from services.notifier.app import DEFINITION as NOTIFIER
from services.onboarding.app import DEFINITION as ONBOARDING
from tests.factories import member_profile

SIZES = (10_000, 100_000, 1_000_000)
SERVICES = (ONBOARDING, MATCHER, NOTIFIER)
ORGANISATIONS = [f"org{n}" for n in range(10)]
START = datetime(2026, 1, 5, tzinfo=UTC)
MEMBER_EVERY = 20
"""One event in this many is a member joining; the others are clock ticks."""
BENCHMARK = "restart with snapshots: start to ready"
SETTINGS = ServiceSettings(session_timeout_ms=6_000, heartbeat_interval_ms=500)


def history(size: int) -> Iterator[CloudEvent[Any]]:
    """Members joining among the minute ticks of ten organisations, in time order."""
    for index in range(size):
        organisation = ORGANISATIONS[index % len(ORGANISATIONS)]
        now = START + timedelta(minutes=index // len(ORGANISATIONS))
        if index % MEMBER_EVERY == 0:
            # Every organisation in turn (the tick's, ``index % 10``, would always be the first).
            organisation = ORGANISATIONS[index // MEMBER_EVERY % len(ORGANISATIONS)]
            profile = member_profile(f"m{index}", start_date=START.date())
            payload: Any = MemberJoined.model_validate(profile)
        else:
            payload = ClockTicked(now=now, sequence=index // len(ORGANISATIONS))
        yield new_event(payload, source="/bench", orgid=organisation, time=now)


@dataclass(frozen=True)
class Start:
    seconds: float
    """From start to ready (connecting and joining the group included)."""
    rebuild: float
    """From the assignment to ready: the rebuild itself."""
    replayed: float
    restored: float
    held: float
    """The most records the rebuild held at once beyond its state."""
    sorted: float
    """1 when the rebuild could not stream the history and sorted it."""


@dataclass(frozen=True)
class Delivery:
    """A ready notifier kept running with its delivery worker until the backlog went out."""

    seconds: float
    delivered: float
    pending_before: float
    pending_after: float


async def start_to_ready(
    definition: ServiceDefinition,
    kafka: KafkaSettings,
    topics: TopicSettings,
    snapshots: bool,
    delivered: list[Delivery] | None = None,
) -> Start:
    """Start an instance, time it to ready, stop it (a clean stop writes its snapshots). Only
    the consumer runs, not the workers (``ServiceRuntime.start``); with ``delivered``, a
    notifier's delivery worker then runs until no notice is ready, and what it did is added."""
    settings = SETTINGS.model_copy(update={"snapshots": snapshots})
    runtime = ServiceRuntime(definition, settings=settings, kafka=kafka, topics=topics)
    # A start begins as in a new process: without the instance before it, which this process
    # ran and stopped. Its state is cyclic garbage (the runtime and its parts refer to each
    # other), freed by a full collection whenever one comes: it came during the next start,
    # 5-6 s with a notifier's 1,000,000-event state, and was counted as that start's.
    gc.collect()
    started = time.perf_counter()
    await runtime.start()
    try:
        while not runtime.ready:  # noqa: ASYNC110 (readiness is a state, polled as probes do)
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - started
        if delivered is not None and (delivery := await deliver_backlog(runtime)) is not None:
            delivered.append(delivery)
        metrics = runtime.metrics
        return Start(
            seconds,
            metrics.rebuild_seconds.labels(definition.name)._value.get(),
            metrics.replayed.labels(definition.name)._value.get(),
            metrics.snapshots.labels(definition.name, "restored")._value.get(),
            metrics.rebuild_records_held.labels(definition.name)._value.get(),
            metrics.rebuilds_sorted.labels(definition.name)._value.get(),
        )
    finally:
        await runtime.stop()


DELIVERY_SECONDS = 1_800.0
"""At most this long for a backlog's delivery (a notifier delivers a few thousand a second)."""


class _Discarded(io.TextIOBase):
    """Where the console channel's messages go while the backlog is delivered."""

    def write(self, text: str) -> int:
        return len(text)


async def deliver_backlog(runtime: ServiceRuntime) -> Delivery | None:
    """Run a ready notifier's delivery worker until no notice is ready to go (on the console
    channel, its messages thrown away), or None for a service that delivers nothing. A live
    notifier delivers as the history comes; one stopped as soon as it is ready keeps its
    whole backlog in its state, and in the snapshot its restart reads."""
    before = runtime.ledgers.measures()
    if "notices_ready" not in before:
        return None
    started = time.perf_counter()
    with contextlib.redirect_stdout(_Discarded()):
        await runtime.start_workers()
        ready: float | None = before["notices_ready"]
        while ready and time.perf_counter() - started < DELIVERY_SECONDS:
            await asyncio.sleep(0.5)
            # The gauge the runtime keeps, not a measure of our own: measuring 100,000 notices
            # takes a while, and the runtime bounds how often it does.
            ready = runtime.metrics.registry.get_sample_value(
                "rituals_state", {"service": runtime.metrics.service, "measure": "notices_ready"}
            )
        await runtime.stop_workers()
    after = runtime.ledgers.measures()
    return Delivery(
        seconds=time.perf_counter() - started,
        delivered=after["notifications_sent"] - before["notifications_sent"],
        pending_before=before["notices_pending"],
        pending_after=after["notices_pending"],
    )


async def rewind_group(
    kafka: KafkaSettings, topics: TopicSettings, definition: ServiceDefinition
) -> None:
    """Commit offset 0 for every partition the service's group reads: its next start replays all."""
    consumer = AIOKafkaConsumer(
        **kafka.aiokafka_params(),
        group_id=consumer_group(topics, definition.name),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = _partitions(topics, [topics.name(topic) for topic in definition.topics])
        consumer.assign(partitions)
        await consumer.commit({partition: OffsetAndMetadata(0, "") for partition in partitions})
    finally:
        await consumer.stop()


def _partitions(topics: TopicSettings, names: Sequence[str]) -> list[TopicPartition]:
    return [TopicPartition(name, number) for name in names for number in range(topics.partitions)]


@dataclass(frozen=True)
class RawRead:
    seconds: float
    records: int


async def raw_read(kafka: KafkaSettings, topics: TopicSettings, names: Sequence[str]) -> RawRead:
    """Read every record of the topics to their end and parse it as JSON."""
    started = time.perf_counter()
    read = 0
    consumer = AIOKafkaConsumer(
        **kafka.aiokafka_params(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = _partitions(topics, names)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        asked = await consumer.end_offsets(partitions)
        # Each partition's end: the larger of the end offset asked (too small on the embedded
        # broker) and the high watermark of its first fetch, as the rebuild bounds its read. No
        # "three empty polls": on the durable embedded broker fetches come back empty for
        # longer than that, and the read stopped after 18,000 of 100,000 records.
        ends: dict[TopicPartition, int] = {}
        while len(ends) < len(partitions) or not await _at_ends(consumer, ends):
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for partition in partitions:
                highwater = consumer.highwater(partition)
                if partition not in ends and highwater is not None:
                    ends[partition] = max(asked[partition], highwater)
            for records in batch.values():
                read += len(records)
                for record in records:
                    json.loads(record.value)
        return RawRead(time.perf_counter() - started, read)
    finally:
        await consumer.stop()


async def _at_ends(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True


@dataclass(frozen=True)
class Row:
    service: str
    size: int
    first: Start
    snapshot: Start
    no_snapshot: Start
    replays: list[Start]
    raws: list[RawRead]
    """Full replays and raw reads, run in turns: the ratio is their median over the turns."""
    delivered: Start | None = None
    """The notifier's restart with snapshots once its backlog was delivered, as a live
    notifier's state would be."""

    @property
    def ratios(self) -> list[float]:
        """Each turn's full replay rate as a share of its raw read + parse rate, in turn order."""
        return [
            (replay.replayed / replay.rebuild) / (raw.records / raw.seconds)
            for replay, raw in zip(self.replays, self.raws, strict=True)
        ]


REPLAY_TURNS = 3
"""Full replays (each beside a raw read) per service and size: one run's ratio varies by +-5
points on this shared machine."""


async def measure(
    kafka: KafkaSettings, size: int, services: Sequence[ServiceDefinition]
) -> list[Row]:
    topics = TopicSettings(prefix=f"restart{uuid.uuid4().hex[:6]}.", partitions=6)
    ensure_topics(kafka, topics)
    await produce(kafka, topics, history(size))
    rows: list[Row] = []
    for definition in services:
        names = [topics.name(topic) for topic in definition.topics]
        first = await start_to_ready(definition, kafka, topics, snapshots=True)
        deliveries: list[Delivery] = []
        snapshot = await start_to_ready(definition, kafka, topics, True, deliveries)
        delivered = None
        if deliveries:  # that snapshot held the backlog; the next one holds what a live one would
            delivered = await start_to_ready(definition, kafka, topics, snapshots=True)
        no_snapshot = await start_to_ready(definition, kafka, topics, snapshots=False)
        replays, raws = [], []
        for _ in range(REPLAY_TURNS):
            await rewind_group(kafka, topics, definition)
            replays.append(await start_to_ready(definition, kafka, topics, snapshots=False))
            raws.append(await raw_read(kafka, topics, names))
        row = Row(definition.name, size, first, snapshot, no_snapshot, replays, raws, delivered)
        rows.append(row)
        print(_line(row), flush=True)
        if deliveries and delivered is not None:
            print(_delivered(deliveries[0], delivered), flush=True)
    return rows


HEADER = (
    f"  {'service':<11} {'events':>9}  {'first start':>25}  {'restart, snapshots':>25}  "
    f"{'restart, no snapshots':>25}  {'full replay':>25}  {'raw read+json':>21}  "
    f"full replay / raw rate, median (min-max)  records held, first start / full replay\n"
    f"  {'':<11} {'':>9}  {'ready (rebuild) replayed':>25}  {'':>25}  {'':>25}  {'':>25}  "
    f"{'seconds records':>21}"
)


def _line(row: Row) -> str:
    def shown(start: Start) -> str:
        return f"{start.seconds:6.2f} s ({start.rebuild:5.2f}) {start.replayed:>9,.0f}"

    ratios = row.ratios
    turn = ratios.index(statistics.median_low(ratios))
    ordered = sorted(ratios)
    return (
        f"  {row.service:<11} {row.size:>9,}  {shown(row.first):>25}  {shown(row.snapshot):>25}  "
        f"{shown(row.no_snapshot):>25}  {shown(row.replays[turn]):>25}  "
        f"{row.raws[turn].seconds:>7.2f} s {row.raws[turn].records:>11,}  {ratios[turn]:>4.0%} "
        f"({ordered[0]:.0%}-{ordered[-1]:.0%})  {_held(row.first)} / {_held(row.replays[turn])}"
    )


def _delivered(delivery: Delivery, restart: Start) -> str:
    return (
        f"  {'':<11} {'':>9}  backlog delivered: {delivery.delivered:,.0f} notifications in "
        f"{delivery.seconds:.1f} s ({delivery.pending_before:,.0f} notices pending before, "
        f"{delivery.pending_after:,.0f} after); then restart, snapshots: "
        f"{restart.seconds:.2f} s ({restart.rebuild:.2f})"
    )


def _held(start: Start) -> str:
    return f"{start.held:,.0f}" + (" (sorted)" if start.sorted else "")


def compare(
    engine: Engine,
    sizes: Sequence[int] = SIZES,
    services: Sequence[ServiceDefinition] = SERVICES,
) -> list[Comparison]:
    scaled = [engine.scaled(size) for size in sizes]
    print(f"== {BENCHMARK} on {engine.label}: seconds and events replayed =={engine.reduced}")
    print(HEADER, flush=True)
    rows = [row for size in scaled for row in asyncio.run(measure(engine.kafka(), size, services))]
    comparisons: list[Comparison] = []
    for service in (definition.name for definition in services):
        mine = [row for row in rows if row.service == service]
        smallest, largest = mine[0], mine[-1]
        print(
            f"  {service}, {smallest.size:,} -> {largest.size:,} events: with snapshots ready "
            f"x{_growth(smallest.snapshot, largest.snapshot)} (goal < 2); without "
            f"x{_growth(smallest.no_snapshot, largest.no_snapshot)}"
        )
        if smallest.delivered is not None and largest.delivered is not None:
            print(
                f"  {service}, its backlog delivered before the restart: with snapshots ready "
                f"x{_growth(smallest.delivered, largest.delivered)}"
            )
        comparisons += [
            Comparison(
                BENCHMARK,
                engine.label,
                f"{service}, {row.size:,} events",
                "s",
                row.snapshot.seconds,
                row.no_snapshot.seconds,
            )
            for row in mine
        ]
    return comparisons


def _growth(small: Start, large: Start) -> str:
    """How much longer the larger history takes, to ready (and its rebuild alone)."""
    return f"{large.seconds / small.seconds:.2f} (rebuild x{large.rebuild / small.rebuild:.2f})"


def main(argv: Sequence[str] | None = None) -> None:
    """``--sizes 200000,1000000``, ``--services matcher`` narrow a run; the rest picks engines."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--sizes", type=comma_numbers, default=SIZES)
    parser.add_argument("--services", type=_services, default=SERVICES)
    options, rest = parser.parse_known_args(argv)
    configure_logging("bench", level="WARNING")
    run_alone(partial(compare, sizes=options.sizes, services=options.services), rest)


def _services(text: str) -> tuple[ServiceDefinition, ...]:
    named = {definition.name: definition for definition in SERVICES}
    return tuple(named[name] for name in text.split(","))


if __name__ == "__main__":
    main(sys.argv[1:])
