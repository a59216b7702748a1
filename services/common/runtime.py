"""The one way to run a service: a FastStream Kafka app around a ``Processor``.

The design (a record's path from fetch to commit, where state lives, what is atomic, readiness
and handover) is in docs/runtime.md. In short, every service gets from here:

- one consumer group per service (``rituals-<name>``): instances share the partitions;
- offsets committed only after the handler finished (at-least-once); an error while publishing
  rewinds to the record (redelivery) and rebuilds the state from the log first;
- admission (``admission.admit``): what is not a valid event where the contract puts it goes to
  ``<topic>.dlq`` with the reason, bounded in size and in attempts, and the partition moves on;
- every decision published whole: its outputs are marked as one decision, and a rebuild decides
  again what a crash cut short;
- state rebuilt from the log whenever partitions are assigned, in a task outside the rebalance
  callback, up to a bound fixed when it starts; records wait at a readiness gate meanwhile;
- deduplication by event id (the first copy in the log wins) and by cause (``processing.Ledger``);
- structured logs with the event's identifiers, Prometheus metrics, graceful SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import (
    Awaitable,
    Callable,
    Container,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import ExitStack
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import structlog
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, IllegalStateError
from faststream import FastStream
from faststream.kafka import KafkaBroker

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, RejectedEvent, RejectionReason
from schemas.envelope import CloudEventAttributes
from schemas.sealing import PersonalDataCipher
from services.common.adapters.group_membership import leaves_on_stop
from services.common.admission import admit
from services.common.alignment import AlignedBuffers, Fetched
from services.common.collector import (
    collector_paused,
    full_collections_walk_the_new,
    set_aside_what_lives_on,
    thaw,
)
from services.common.fetch_wait import FetchWait
from services.common.logging import configure_logging, event_log_context
from services.common.metrics import ServiceMetrics
from services.common.poll_spacing import PollSpacing
from services.common.privacy import configured_vault
from services.common.processing import Emit, Ledgers, Processor
from services.common.records import DeadLetter, OutgoingRecord, decision_records, event_record
from services.common.replay import (
    BoundedRead,
    Folded,
    History,
    ReplayPlan,
    StoredRecord,
    read_to_end,
    replay_plan,
)
from services.common.settings import ServiceSettings
from services.common.snapshots import Snapshots, erases_personal_data
from services.common.stream_fold import DecisionIndex, MergeFold, Unordered
from services.common.tracing import configure_tracing, continuing

log = structlog.get_logger("rituals.runtime")
LOG_LEVEL = logging.getLogger("rituals.runtime")
"""The standard library's logger behind ``log`` (``configure_logging``): its level, cached."""

_TRANSACTION: ContextVar[AIOKafkaProducer | None] = ContextVar("transaction", default=None)
"""The producer of the batch transaction open in this task (the consumer's), if any: sends
from other tasks (workers) never join it."""


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes a service: its name, the topics it reads (its own outputs included, so that a
    rebuild sees what it already decided) and how to make an empty processor."""

    name: str
    topics: tuple[Topic, ...]
    new_processor: Callable[[], Processor]
    workers: tuple[Callable[[ServiceRuntime], Coroutine[Any, Any, None]], ...] = ()
    """Background loops started with the service and cancelled on shutdown, for work that must
    not hold up the partition (e.g. the notifier's deliveries). They read ``runtime.ledger``
    afresh each time (a rebuild replaces it) and publish with ``runtime.publish``."""
    poll_spacing_ms: int = 0
    """The service's least time between two polls (``ServiceSettings.poll_spacing_ms``): more
    than 0 for a service whose answers nobody waits for within milliseconds."""

    @property
    def source(self) -> str:
        return f"/rituals/{self.name}"


UNHURRIED_POLL_SPACING_MS = 100
"""The polls of a service nobody waits for within milliseconds (the matcher's pool, the
gateway's read state) start this far apart: under load each takes what came meanwhile
(``services.common.poll_spacing``)."""
STATE_REFRESH_SECONDS = 0.25
STATE_MEASURING_SHARE = 0.05
"""The most of the event loop's time the state gauges take: a state slow to measure is measured
less often (a notifier with 100,000 notices pending after downtime took 0.3 s a measure, and
measuring every quarter of a second left its deliveries' outcomes to time out unsent)."""
DEAD_LETTER_ATTEMPTS = 5
"""How often a dead letter is tried before the record is skipped with its coordinates logged."""
RETRY_FIRST_DELAY_SECONDS = 0.2
REBUILD_RETRY_MAX_SECONDS = 30.0
BATCH_RETRY_SECONDS = 1.0
"""The pause after a batch failed before the rebuild that follows: never a busy loop."""
TOPIC_WAIT_SECONDS = 5.0


def consumer_group(topics: TopicSettings, service: str) -> str:
    """The consumer group of a service's instances (they share its partitions)."""
    return f"{topics.prefix}rituals-{service}"


class ServiceRuntime:
    def __init__(
        self,
        definition: ServiceDefinition,
        *,
        settings: ServiceSettings | None = None,
        kafka: KafkaSettings | None = None,
        topics: TopicSettings | None = None,
    ) -> None:
        self.definition = definition
        self.settings = settings or ServiceSettings()
        self.kafka = kafka or KafkaSettings()
        self.topics = topics or TopicSettings()
        self.metrics = ServiceMetrics(definition.name)
        self.vault = configured_vault()
        """Opens members' sealed personal data (None: no key-encryption key configured)."""
        self.ledgers = self._new_ledgers(self.topics.partitions)
        """The state, one ledger per partition number owned (a rebuild replaces it)."""
        self.snapshots = Snapshots(self, definition)
        spacing_ms = self.settings.poll_spacing_ms
        self._poll_spacing = PollSpacing(
            (definition.poll_spacing_ms if spacing_ms is None else spacing_ms) / 1000
        )
        self.assignment: set[TopicPartition] = set()
        self.rebuilt = asyncio.Event()
        """Set once the state was first rebuilt: the instance is consuming live from then on."""
        self._ready = asyncio.Event()
        """Set while the state matches every partition the instance owns."""
        self._handling = asyncio.Lock()
        """Held while a batch is handled or a rebuild runs: a revocation waits for it."""
        self._rebuild_task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._consuming: asyncio.Task[None] | None = None
        self._buffers = AlignedBuffers(self.topic_names)
        self._own_offsets: dict[TopicPartition, set[int]] = defaultdict(set)
        self._partition_counts: dict[str, int] = {}
        self._live_from: dict[TopicPartition, int] = {}
        """Where live consumption of each partition starts: the fetcher may still hold records
        it fetched before the rebuild's seek, and what the rebuild read is not read again."""
        self._stale = False
        self._uncommitted: dict[TopicPartition, int] = {}
        """Offsets handled, their outputs acknowledged, not committed yet (``_commit_paced``)."""
        self._last_commit = 0.0
        self._lag_shown = 0.0
        self.idempotent = False
        self.transactional = False
        """Whether a batch's outputs and offsets are written in one transaction (at start)."""
        self._transactions: AIOKafkaProducer | None = None
        self._handover: list[Callable[[], Awaitable[None]]] = []
        self._after_batch: list[Callable[[], None]] = []
        """Whether outputs are produced idempotently (decided at start, ``KafkaSettings``)."""
        self.broker = KafkaBroker(
            self.kafka.addresses,
            security=self.kafka.faststream_security(),
            client_id=f"rituals-{definition.name}",
            logger=logging.getLogger(f"rituals.{definition.name}.kafka"),
            log_level=logging.DEBUG,
            # An acknowledged output must survive the loss of a partition leader.
            acks="all",
            # Topics are provisioned with their partitions and retention; a client never
            # creates one (a service started first would get 1-partition, 7-day topics).
            allow_auto_create_topics=False,
            # aiokafka has one produce request in flight per broker, carrying at most one batch
            # per partition, and a send into a full batch waits until it leaves. With aiokafka's
            # 16 KiB, about twenty outcomes per partition went per round trip, and a thousand
            # deliveries woke together each time a batch left: a backlog went out at 670 a
            # second (docs/runtime.md, "Producing").
            max_batch_size=self.settings.producer_batch_bytes,
        )
        self.app = FastStream(self.broker, logger=logging.getLogger(f"rituals.{definition.name}"))
        self._workers: list[asyncio.Task[None]] = []
        self._collections = ExitStack()
        """How the garbage collector runs while consuming (``collector``)."""
        self._state_refresh: asyncio.TimerHandle | None = None
        self._measuring_seconds = 0.0
        """How long the state gauges' last measure took."""
        self.app.on_startup(self._serve_metrics)
        self.app.on_startup(self._choose_idempotence)
        self.app.after_startup(self.start_consuming)
        self.app.after_startup(self.start_workers)
        self.app.on_shutdown(self.stop_workers)
        self.app.on_shutdown(self.stop_consuming)

    def _new_ledgers(self, partition_count: int) -> Ledgers:
        return Ledgers(self.definition.new_processor, self.definition.source, partition_count)

    @property
    def group_id(self) -> str:
        return consumer_group(self.topics, self.definition.name)

    @property
    def topic_names(self) -> list[str]:
        return [self.topics.name(topic) for topic in self.definition.topics]

    @property
    def ready(self) -> bool:
        """The state matches every partition the instance owns (workers act only then)."""
        return self._ready.is_set()

    async def start(self) -> None:
        """Connect, join the group and start consuming (what ``app.run()`` does, for tests and
        benchmarks that run the runtime inside their own event loop)."""
        await self._choose_idempotence()
        await self.broker.start()
        await self.start_consuming()

    async def stop(self) -> None:
        await self.stop_workers()
        await self.stop_consuming()
        await self.broker.stop()

    async def _choose_idempotence(self) -> None:
        """Before the broker connects: its producer is idempotent where the cluster allows
        (FastStream builds the producer from these arguments when it connects)."""
        self.idempotent = await self.kafka.idempotent_producers()
        self.transactional = self.kafka.transactional(self.idempotent)
        self.broker._connection_kwargs["enable_idempotence"] = self.idempotent
        log.info(
            "producer chosen",
            idempotent=self.idempotent,
            transactional=self.transactional,
            acks="all",
        )

    async def _serve_metrics(self) -> None:
        if self.settings.metrics_port is not None:
            self.metrics.serve(self.settings.metrics_port)

    async def start_workers(self) -> None:
        for worker in self.definition.workers:
            self._workers.append(
                asyncio.create_task(self._supervised(worker), name=worker.__name__)
            )

    async def _supervised(self, worker: Callable[[ServiceRuntime], Awaitable[None]]) -> None:
        """Run a worker (the notifier's deliveries) until cancelled, starting it again after a
        failure, with backoff: a worker that ended would leave a ready service doing nothing."""
        delay = RETRY_FIRST_DELAY_SECONDS
        while True:
            try:
                await worker(self)
                return
            except Exception as error:
                self.metrics.worker_failures.labels(self.definition.name).inc()
                log.error(
                    "worker failed; starting it again",
                    worker=getattr(worker, "__name__", "worker"),
                    error_type=type(error).__name__,
                    retry_in_s=round(delay, 1),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, REBUILD_RETRY_MAX_SECONDS)

    async def stop_workers(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()

    async def publish(
        self, cause: CloudEventAttributes, emits: Sequence[Emit]
    ) -> list[CloudEvent[Any]]:
        """Publish outputs decided outside the consumer (by a worker) and fold them in."""
        sends: list[asyncio.Future[Any]] = []
        async with self.snapshots.publishing():
            outputs = self.ledgers.outputs(cause, emits)
            await self._publish_decision(outputs, sends)
            try:
                self._own(await self._confirm(sends))
            except Exception:
                self._abandon_state()  # folded in, not all in the log
                raise
        self._show_state_soon()
        return outputs

    def _show_state_soon(self) -> None:
        """Refresh the state gauges shortly, once for a burst of events or sends: measuring
        can cost as much as the state is large (the notifier looks at every pending notice), and
        doing it after every one of many quick events made a burst cost its size squared."""
        if self._state_refresh is None:
            delay = max(STATE_REFRESH_SECONDS, self._measuring_seconds / STATE_MEASURING_SHARE)
            self._state_refresh = asyncio.get_running_loop().call_later(delay, self._show_state)

    def _show_state(self) -> None:
        if self._state_refresh is not None:
            self._state_refresh.cancel()  # shown now (after a rebuild): not again in a moment
            self._state_refresh = None
        started = time.perf_counter()
        self.metrics.show_state(self.ledgers.measures())
        self._measuring_seconds = time.perf_counter() - started

    # -- the consumer ----------------------------------------------------------------------

    async def start_consuming(self) -> None:
        consumer = AIOKafkaConsumer(
            group_id=self.group_id,
            client_id=f"rituals-{self.definition.name}",
            group_instance_id=self.settings.group_instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Range assignment gives an instance the same partition numbers of every topic: an
            # organisation's members, clock and coffee events (all keyed by org id) stay together.
            partition_assignment_strategy=(RangePartitionAssignor,),
            session_timeout_ms=self.settings.session_timeout_ms,
            heartbeat_interval_ms=self.settings.heartbeat_interval_ms,
            max_poll_interval_ms=self.settings.max_poll_interval_ms,
            rebalance_timeout_ms=self.settings.max_poll_interval_ms,
            isolation_level="read_committed" if self.transactional else "read_uncommitted",
            fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
            **self.kafka.aiokafka_params(),
        )
        await self._wait_for_topics()
        if self.transactional:
            self._transactions = await self._transactional_producer()
        consumer.subscribe(self.topic_names, listener=_RebuildOnAssignment(self))
        await consumer.start()
        leaves_on_stop(consumer)
        self._consumer = consumer
        self._collections.enter_context(full_collections_walk_the_new())
        fetch_wait = FetchWait(
            consumer, committed_only=self.transactional, reader=f"{self.definition.name} live"
        )
        self._consuming = asyncio.create_task(
            self._consume_loop(consumer, fetch_wait), name="consume"
        )

    async def _wait_for_topics(self) -> None:
        """Subscribing to a missing topic would make a broker that allows it create the topic
        with its defaults (1 partition, 7 days on Apache Kafka): wait, saying so, until
        ``rituals topics provision`` created them. Listing topics creates none."""
        needed = set(self.topic_names) | {f"{name}.dlq" for name in self.topic_names}
        admin = AIOKafkaAdminClient(**self.kafka.aiokafka_params())
        await admin.start()
        try:
            while missing := sorted(needed - set(present := await admin.list_topics())):
                log.error(
                    "topics missing; run `rituals topics provision`; waiting",
                    missing=missing,
                    retry_in_s=TOPIC_WAIT_SECONDS,
                )
                await asyncio.sleep(TOPIC_WAIT_SECONDS)
            self.snapshots.found_topic(self.snapshots.topic in present)
        finally:
            await admin.close()

    async def stop_consuming(self) -> None:
        await self._cancel_rebuild()
        async with self._handling:  # the batch being handled finishes first
            task, self._consuming = self._consuming, None
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            if self._consumer is not None:
                await self._commit_uncommitted(self._consumer)
            if self.ready:  # a clean stop leaves a snapshot of what changed since the last
                await self.snapshots.write_changed(self.ledgers.partitions())
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()
        self._collections.close()
        producer, self._transactions = self._transactions, None
        if producer is not None:
            await producer.stop()

    async def _transactional_producer(self) -> AIOKafkaProducer:
        """The producer of the batch transactions. Its id is stable across restarts with static
        membership (a restarted instance then fences its predecessor's open transaction at
        once); otherwise unique, and a crashed instance's open transaction is aborted by the
        broker after ``transaction_timeout_ms``."""
        instance = self.settings.group_instance_id or uuid.uuid4().hex
        producer = AIOKafkaProducer(
            transactional_id=f"{self.group_id}-{instance}",
            enable_idempotence=True,
            acks="all",
            transaction_timeout_ms=self.settings.transaction_timeout_ms,
            max_batch_size=self.settings.producer_batch_bytes,
            client_id=f"rituals-{self.definition.name}-tx",
            **self.kafka.aiokafka_params(),
        )
        await producer.start()
        return producer

    async def _consume_loop(self, consumer: AIOKafkaConsumer, fetch_wait: FetchWait) -> None:
        """Fetch and handle until cancelled. A batch that fails in a way nothing foresaw (a bug
        folding an output in, a client error) is not the end of the loop, which would leave
        the partitions stalled behind a ready instance: the assignment is rebuilt from the last
        commit, where a failing event is dead-lettered, and consumption goes on after it."""
        while True:
            try:
                await self._consume_batch(consumer, fetch_wait)
            except Exception as error:
                self.metrics.batch_failures.labels(self.definition.name).inc()
                log.error(
                    "batch failed; rebuilding from the last commit", error_type=type(error).__name__
                )
                self._abandon_state()
                await asyncio.sleep(BATCH_RETRY_SECONDS)

    def hurry(self) -> None:
        """Someone waits for the state to show a change: the next poll starts without waiting
        for the service's poll spacing."""
        self._poll_spacing.hurry()

    async def _consume_batch(self, consumer: AIOKafkaConsumer, fetch_wait: FetchWait) -> None:
        await self._poll_spacing.wait()
        batch = await consumer.getmany(
            timeout_ms=self.settings.poll_ms, max_records=self.settings.batch_size
        )
        async with self._handling:  # a revocation waits for it: the assignment holds meanwhile
            if self._stale:
                self._restart_assignment()
                return
            await fetch_wait.after_poll(batch, limit=self.settings.batch_size)
            if not batch:  # quiet: what was handled is committed at once
                await self._commit_uncommitted(consumer)
            for partition, records in batch.items():
                live_from = self._live_from.get(partition, 0)
                own = self._own_offsets.get(partition, ())
                self._buffers.add(
                    self._admitted(record, own) for record in records if record.offset >= live_from
                )
            await self.handle_buffered(consumer)

    def _admitted(self, record: Any, own: Container[int] = ()) -> Fetched:
        """What admission makes of a record. An output of ours that the broker acknowledged at
        this offset was folded in when it was published: it is not decoded again (most of what
        a deciding service reads back is its own outputs: seven of a new hire's eight records
        for onboarding)."""
        if record.offset in own:
            return Fetched(record, None, None)
        try:
            count = self._partition_counts.get(record.topic)
            event = admit(record, self.topics, count, self.vault)
        except RejectedEvent as refusal:
            return Fetched(record, None, refusal)
        return Fetched(record, event, None)

    async def handle_records(self, records: Sequence[Any]) -> None:
        """Handle records as if fetched from partitions this instance owns (tests without a
        broker: FastStream's in-memory broker has no consumer group)."""
        self._buffers.own({TopicPartition(r.topic, r.partition) for r in records})
        self._buffers.add(self._admitted(record) for record in records)
        await self.handle_buffered(None)

    async def handle_buffered(self, consumer: AIOKafkaConsumer | None) -> None:
        """Handle what may go now, in aligned order; publish the outputs pipelined; commit once
        every output is acknowledged. With transactions, outputs, dead letters and the consumed
        offsets are one transaction: all of the batch is visible to read_committed readers, or
        none of it."""
        behind = await self._behind_on(consumer) if consumer is not None else _never_behind
        if consumer is not None and self._transactions is not None:
            if self._buffers.has_next(behind):
                await self._handle_in_transaction(self._transactions, consumer, behind)
            return
        handled, sends = await self._handle_ready(behind)
        if not handled:
            return
        try:
            offsets = await self._confirm(sends)
        except Exception:
            # Applied but not all out: rewind to the last commit and rebuild before going on,
            # so every decision of the batch is made again, whole.
            log.warning("publishing failed; rebuilding from the last commit")
            self._abandon_state()
            return
        self._own(offsets)
        if consumer is not None:
            await self._commit_paced(consumer, await self._committable(consumer, handled))
            await self.snapshots.write_due()
        self._batch_handled()

    async def _committable(
        self, consumer: AIOKafkaConsumer, handled: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """What to commit: past the last record handled, and past what follows it that is not a
        record (a transaction's commit marker) where nothing of the partition waits. Otherwise a
        partition a transaction wrote to last would show a lag of one for ever."""
        offsets: dict[TopicPartition, int] = {}
        for partition, offset in handled.items():
            if not self._buffers.holds(partition):
                offset = max(offset, await consumer.position(partition))
            offsets[partition] = offset
        return offsets

    async def _handle_in_transaction(
        self,
        producer: AIOKafkaProducer,
        consumer: AIOKafkaConsumer,
        behind: Callable[[TopicPartition], bool],
    ) -> None:
        await producer.begin_transaction()
        token = _TRANSACTION.set(producer)
        try:
            handled, sends = await self._handle_ready(behind)
            offsets = await self._confirm(sends)
            committable = await self._committable(consumer, handled)
            await producer.send_offsets_to_transaction(committable, self.group_id)
            await producer.commit_transaction()
        except Exception as error:
            # Nothing of the batch becomes visible (nor its offsets): rebuild from the last
            # commit, then decide the batch again, whole.
            log.warning("transaction failed; rebuilding", error_type=type(error).__name__)
            await self._abort(producer)
            self._abandon_state()
            return
        finally:
            _TRANSACTION.reset(token)
        self._own(offsets)
        await self.snapshots.write_due()
        self._batch_handled()

    async def _abort(self, producer: AIOKafkaProducer) -> None:
        try:
            await producer.abort_transaction()
        except Exception as error:  # fenced or broken: a new producer (same id) takes over
            log.warning("transaction abort failed; new producer", error_type=type(error).__name__)
            await producer.stop()
            self._transactions = await self._transactional_producer()

    def own_outputs(self, partition: TopicPartition) -> set[int]:
        """Offsets of this instance's acknowledged outputs on a partition, not yet read back."""
        return self._own_offsets.get(partition, set())

    def _own(self, offsets: list[tuple[TopicPartition, int]]) -> None:
        for partition, offset in offsets:
            self._own_offsets[partition].add(offset)
        self._show_state_soon()

    async def _handle_ready(
        self, behind: Callable[[TopicPartition], bool]
    ) -> tuple[dict[TopicPartition, int], list[asyncio.Future[Any]]]:
        """Handle every buffered record that may go now; what was handled up to where, and the
        sends of its outputs."""
        handled: dict[TopicPartition, int] = {}
        sends: list[asyncio.Future[Any]] = []
        for item in self._buffers.drain(behind):
            if item.refusal is not None:
                await self._dead_letter(item.record, item.refusal.reason, item.refusal.detail)
            elif item.event is not None:
                with event_log_context(item.event.to_logging_context):
                    await self._consume_event(item.record, item.event, sends)
            handled[item.partition] = item.record.offset + 1
            self.snapshots.folded(item.partition, item.record.offset + 1, item.event)
        return handled, sends

    async def _behind_on(self, consumer: AIOKafkaConsumer) -> Callable[[TopicPartition], bool]:
        """Which owned partitions have records on the broker that are neither fetched nor our
        own outputs (as of the last fetch)."""
        lagging: set[TopicPartition] = set()
        # The lag gauges at most every STATE_REFRESH_SECONDS: a label look-up per partition
        # per batch was a twentieth of the gateway's time with small batches.
        now = time.monotonic()
        show_lag = now - self._lag_shown >= STATE_REFRESH_SECONDS
        if show_lag:
            self._lag_shown = now
        for partition in consumer.assignment():
            end = self._end_of(consumer, partition)
            if end is None:
                lagging.add(partition)  # not fetched yet: its first record may be the earliest
                continue
            position = await consumer.position(partition)
            if show_lag:
                self.metrics.show_lag(partition.topic, partition.partition, end - position)
            own = self._own_offsets[partition]
            own.difference_update({offset for offset in own if offset < position})
            if sum(1 for offset in own if offset < end) < end - position:
                lagging.add(partition)
        return lagging.__contains__

    def _end_of(self, consumer: AIOKafkaConsumer, partition: TopicPartition) -> int | None:
        """Where a partition ends for this consumer as of the last fetch: the high watermark, or
        with transactions the last stable offset (an open transaction is not readable yet)."""
        if self.transactional:
            stable: int | None = consumer.last_stable_offset(partition)
            return stable
        high: int | None = consumer.highwater(partition)
        return high

    async def _consume_event(
        self, record: Any, event: CloudEvent[Any], sends: list[asyncio.Future[Any]]
    ) -> None:
        if self.ledgers.has_applied(event):
            if event.source != self.definition.source:  # our own outputs come back by design
                self.metrics.duplicates.labels(self.definition.name).inc()
                if LOG_LEVEL.isEnabledFor(logging.DEBUG):  # a call, not a pass of the processors
                    log.debug("duplicate skipped")
            return
        try:
            with collector_paused(), continuing(event, "handle"):
                outputs = self.ledgers.handle(event)
        except Exception as error:  # one failing event must not stop the partition
            log.error("handler failed", error_type=type(error).__name__)
            await self._dead_letter(
                record, RejectionReason.HANDLER_FAILED, f"{type(error).__name__}: {error}"
            )
            return
        self.metrics.consumed.labels(self.definition.name, event.type).inc()
        await self._publish_decision(outputs, sends)
        if LOG_LEVEL.isEnabledFor(logging.DEBUG):
            log.debug("event handled", outputs=len(outputs))

    async def _publish_decision(
        self, outputs: Sequence[CloudEvent[Any]], sends: list[asyncio.Future[Any]]
    ) -> None:
        """Queue one decision's outputs, then the decisions they ask for in turn (a scheduled
        round request asks for its round), each whole and marked as one decision."""
        pending = [list(outputs)] if outputs else []
        while pending:
            decision = pending.pop(0)
            await self._queue_decision(decision, sends)
            with collector_paused():
                pending.extend(self.ledgers.decisions_following(decision))

    async def _queue_decision(
        self, decision: Sequence[CloudEvent[Any]], sends: list[asyncio.Future[Any]]
    ) -> None:
        """Hand the outputs to the producer in order (pipelined: acknowledged later, together)."""
        for output, record in zip(decision, decision_records(decision, self.topics), strict=True):
            sends.append(await self._enqueue(record))
            self.metrics.published.labels(self.definition.name, output.type).inc()

    async def _confirm(
        self, sends: Sequence[asyncio.Future[Any]]
    ) -> list[tuple[TopicPartition, int]]:
        """Wait until every queued send is acknowledged; where each landed."""
        if not sends:
            return []
        results: list[Any] = list(await asyncio.gather(*sends, return_exceptions=True))
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            raise failures[0]
        return [
            (TopicPartition(result.topic, result.partition), result.offset)
            for result in results
            if hasattr(result, "offset")
        ]

    async def _commit_paced(
        self, consumer: AIOKafkaConsumer, handled: dict[TopicPartition, int]
    ) -> None:
        """Commit a handled batch, at most every ``commit_interval_ms`` while batches keep
        coming (at once when a poll finds nothing, on a revocation and on a stop). A commit is a
        request the broker serves: with the small batches of a steady flow, one per batch cost
        the matcher a tenth of its time. What a crash leaves uncommitted is read again and
        deduplicated, as with any redelivery."""
        self._uncommitted.update(handled)
        if time.monotonic() - self._last_commit >= self.settings.commit_interval_ms / 1000:
            await self._commit_uncommitted(consumer)

    async def _commit_uncommitted(
        self, consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition] | None = None
    ) -> None:
        chosen = self._uncommitted if partitions is None else set(partitions)
        due = {p: self._uncommitted.pop(p) for p in list(chosen) if p in self._uncommitted}
        self._last_commit = time.monotonic()
        if due:
            await self._commit(consumer, due)

    async def _commit(self, consumer: AIOKafkaConsumer, handled: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(handled)
        except (CommitFailedError, IllegalStateError) as error:
            # A rebalance took the partitions meanwhile: their new owner reads these records
            # again and deduplicates them.
            log.warning("commit refused after a rebalance", error_type=type(error).__name__)

    # -- dead letters ----------------------------------------------------------------------

    async def _dead_letter(self, record: Any, reason: RejectionReason, detail: str) -> None:
        letter = DeadLetter(
            service=self.definition.name,
            reason=reason,
            detail=detail,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=list(record.headers or ()),
        )
        if await self._send_dead_letter(letter):
            log.warning(
                "record dead-lettered",
                reason=reason.value,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )

    async def dead_letter_event(
        self, event: CloudEvent[Any], reason: RejectionReason, detail: str
    ) -> None:
        """Dead-letter a valid event from outside the consumer (a worker): its offset is unknown
        there, so the position headers say -1."""
        record = event_record(event, self.topics)
        letter = DeadLetter(
            service=self.definition.name,
            reason=reason,
            detail=detail,
            topic=record.topic,
            partition=-1,
            offset=-1,
            key=record.key,
            value=record.value,
            headers=record.headers,
        )
        await self._send_dead_letter(letter)

    async def _send_dead_letter(self, letter: DeadLetter) -> bool:
        """Write a dead letter, trying a bounded number of times: a record whose dead letter
        cannot be written is skipped, its coordinates logged once, so it never stops a
        partition."""
        record = letter.record()
        delay = RETRY_FIRST_DELAY_SECONDS
        for attempt in range(1, DEAD_LETTER_ATTEMPTS + 1):
            try:
                await self._send(record)
            except Exception as error:
                if attempt == DEAD_LETTER_ATTEMPTS:
                    self.metrics.dead_letters_lost.labels(self.definition.name).inc()
                    log.error(
                        "dead letter could not be written; record skipped",
                        reason=letter.reason.value,
                        topic=letter.topic,
                        partition=letter.partition,
                        offset=letter.offset,
                        size=len(letter.value or b""),
                        error_type=type(error).__name__,
                    )
                    return False
                await asyncio.sleep(delay)
                delay *= 2
            else:
                self.metrics.dead_lettered.labels(self.definition.name, letter.reason.value).inc()
                return True
        return False

    async def _send(self, record: OutgoingRecord) -> None:
        await self._confirm([await self._enqueue(record)])

    async def _enqueue(self, record: OutgoingRecord) -> asyncio.Future[Any]:
        """Give a record to the producer; the future resolves when the broker acknowledged it.
        Inside a batch's transaction, to the transactional producer."""
        producer = _TRANSACTION.get() or producer_of(self.broker)
        if producer is not None:
            queued: asyncio.Future[Any] = await producer.send(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
            return queued
        sent = await self.broker.publish(
            record.value,
            topic=record.topic,
            key=record.key,
            headers={name: value.decode("utf-8", "replace") for name, value in record.headers},
            no_confirm=True,
        )
        if isinstance(sent, asyncio.Future):
            return sent
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(sent)  # FastStream's in-memory test broker answers at once
        return done

    # -- rebuild, readiness, handover ------------------------------------------------------

    def partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Pause the new assignment and rebuild its state in a task; return at once, so the
        consumer goes on heartbeating (and polling) however long the rebuild takes."""
        self.assignment = set(assigned)
        self._mark_ready(False)
        for partition in assigned:  # the rebuild reads whatever came before it
            self._own_offsets.pop(partition, None)
        consumer = self._consumer
        if consumer is not None and assigned:
            consumer.pause(*assigned)
        previous = self._rebuild_task
        if previous is not None:
            previous.cancel()
        thaw()  # the state being replaced is freed by the next full collection, cycles and all
        self._rebuild_task = asyncio.create_task(
            self._rebuild_until_done(set(assigned)), name=f"rebuild-{self.definition.name}"
        )

    def _abandon_state(self) -> None:
        """A batch was applied to the state but its outputs or its commit did not all get out:
        the state is ahead of the log. Not ready until it is rebuilt from the last commit (at
        the next poll), so nothing snapshots it: a rebalance may come first (a lost leader
        often brings one), and its snapshot of this state would skip the batch for good."""
        self._stale = True
        self._mark_ready(False)

    def _restart_assignment(self) -> None:
        """After a failed publish: forget what is buffered and rebuild the whole assignment from
        the log, as after a new assignment (state, then live from where the rebuild ended)."""
        self._stale = False
        self._buffers.drop(self.assignment)
        self.partitions_assigned(self.assignment)

    async def partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Hand over: stop being ready, stop a running rebuild, let the batch being handled
        finish (it commits what it handled), and drop the state of what moved, so workers have
        nothing left to act on for organisations another instance now owns."""
        was_ready = self.ready
        self._mark_ready(False)
        for action in self._handover:
            await action()
        await self._cancel_rebuild()
        async with self._handling:
            if self._consumer is not None:  # the new owner goes on from what was handled
                await self._commit_uncommitted(self._consumer, revoked)
            self._buffers.drop(revoked)
            self.assignment -= set(revoked)
            for partition in revoked:
                self.metrics.forget_partition(partition.topic, partition.partition)
            moved = {p.partition for p in revoked} - {p.partition for p in self.assignment}
            # The new owner starts from here rather than from far back; unless the batch it
            # waited for failed, and left the state ahead of the log.
            if was_ready and not self._stale:
                await self.snapshots.write_changed(sorted(moved))
            self.ledgers.drop(moved)

    def after_batch(self, action: Callable[[], None]) -> None:
        """Run ``action`` once a batch is handled and committed, and once the state is rebuilt
        (a worker looks at the new state at once rather than at its next poll)."""
        self._after_batch.append(action)

    def _batch_handled(self) -> None:
        for action in self._after_batch:
            action()

    def on_handover(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` (a worker abandoning its in-flight work) on every revocation, before
        the partitions' new owner can start."""
        self._handover.append(action)

    def _mark_ready(self, ready: bool) -> None:
        if ready:
            self._ready.set()
        else:
            self._ready.clear()
        self.metrics.ready.labels(self.definition.name).set(1 if ready else 0)

    async def _cancel_rebuild(self) -> None:
        task, self._rebuild_task = self._rebuild_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _rebuild_until_done(self, partitions: set[TopicPartition]) -> None:
        """Rebuild, and on failure retry with backoff while staying not ready: an instance never
        decides on partial state. Then go live from where the rebuild ended."""
        delay = RETRY_FIRST_DELAY_SECONDS
        started = time.perf_counter()
        while True:
            try:
                async with self._handling:
                    ends = await self.rebuild(partitions)
                    await self._go_live(ends)
            except Exception as error:
                self.metrics.rebuild_failures.labels(self.definition.name).inc()
                log.error(
                    "state rebuild failed; retrying",
                    error_type=type(error).__name__,
                    retry_in_s=round(delay, 1),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, REBUILD_RETRY_MAX_SECONDS)
                continue
            self.metrics.rebuild_seconds.labels(self.definition.name).set(
                time.perf_counter() - started
            )
            self._mark_ready(True)
            self._batch_handled()
            async with self._handling:  # a long history read is kept for the next start
                await self.snapshots.write_due()
            return

    async def _go_live(self, ends: dict[TopicPartition, int]) -> None:
        """Live consumption starts where the rebuild ended: nothing is read twice."""
        consumer = self._consumer
        if consumer is None:
            return
        self._live_from = dict(ends)
        for partition, offset in ends.items():
            consumer.seek(partition, offset)
            self._uncommitted.pop(partition, None)  # older than the rebuild's end
        await self._commit(consumer, ends)
        self._buffers.own(ends)
        consumer.resume(*ends)

    async def rebuild(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
        """Make the state of the partitions: from each partition number's newest usable snapshot
        (or empty) and the log after it; decide what was never decided (or was cut short),
        dead-letter what was refused since the last commit; return where each partition's
        history was read to. The history is folded as it is read (``stream_fold``); one the
        merge cannot follow is read again and sorted (``replay.replay_plan``)."""
        committed = await self._committed_offsets()
        try:
            return await self._rebuild(partitions, committed, streaming=True)
        except Unordered as reason:
            self.metrics.rebuilds_sorted.labels(self.definition.name).inc()
            log.warning("history out of time order; rebuilding by sorting it", reason=str(reason))
            return await self._rebuild(partitions, committed, streaming=False)

    async def _rebuild(
        self,
        partitions: set[TopicPartition],
        committed: Mapping[TopicPartition, int],
        *,
        streaming: bool,
    ) -> dict[TopicPartition, int]:
        numbers = sorted({partition.partition for partition in partitions})
        restored = await self.snapshots.restore(numbers)
        starts = {
            partition: restored[partition.partition].manifest.offsets[partition.topic]
            for partition in partitions
            if partition.partition in restored
        }
        for partition, start in self._clock_starts(partitions, committed).items():
            starts[partition] = max(start, starts.get(partition, 0))

        def restored_ledgers(partition_count: int) -> Ledgers:
            ledgers = self._new_ledgers(partition_count)
            for number in numbers:
                if number in restored:
                    ledgers.put(number, restored[number].ledger)
                else:
                    ledgers.at(number)
            return ledgers

        # Decoding and folding a long history is seconds of CPU: done in a thread, so that the
        # event loop goes on heartbeating (Apache Kafka evicts a member whose heartbeats stop
        # for the session timeout, and the rebuild would start over, for ever). The collector
        # waits meanwhile: a fold leaves no cyclic garbage (``test_stream_fold`` checks it),
        # and young collections walked each object it keeps twice, 7-9 % of the fold. What
        # lives on is then set aside, as a restored state is.
        with collector_paused():
            fold = self._stream_fold if streaming else self._sorted_fold
            ledgers, folded, ends = await fold(partitions, committed, starts, restored_ledgers)
            set_aside_what_lives_on()
        self.ledgers = ledgers
        sends: list[asyncio.Future[Any]] = []
        for decision in folded.decisions:
            await self._queue_decision(decision, sends)
        placed = await self._confirm(sends)
        outputs = [output for decision in folded.decisions for output in decision]
        if len(placed) == len(outputs):
            # Only what was folded in is ours to skip when read back: an output whose folding
            # failed comes back to be dead-lettered.
            self._own([p for p, o in zip(placed, outputs, strict=True) if ledgers.has_applied(o)])
        await self._dead_letter_since_commit(folded, committed)
        self.snapshots.rebuilt(ends, folded.folded, folded.erasures)
        self.rebuilt.set()
        self.metrics.replayed.labels(self.definition.name).inc(folded.events)
        self._show_state()
        log.info(
            "state rebuilt",
            partitions=len(partitions),
            snapshots=len(restored),
            streamed=streaming,
            events=folded.events,
            decided=len(folded.decisions),
            unfinished=folded.unfinished,
            refused=len(folded.refused),
            later_copies=folded.later_copies,
            failed=len(folded.failures),
        )
        return ends

    async def _sorted_fold(
        self,
        partitions: set[TopicPartition],
        committed: Mapping[TopicPartition, int],
        starts: Mapping[TopicPartition, int],
        restored_ledgers: Callable[[int], Ledgers],
    ) -> tuple[Ledgers, Folded, dict[TopicPartition, int]]:
        """Read the whole history, then plan (sort) and fold it one partition number at a time."""
        history = await read_to_end(
            self.kafka,
            partitions,
            idle_ms=self.settings.replay_idle_ms,
            committed_only=self.transactional,
            starts=starts,
        )
        self._partition_counts = dict(history.partition_counts)
        held = self.metrics.rebuild_records_held.labels(self.definition.name)
        held.set(len(history.records))
        ledgers = restored_ledgers(
            self._partition_counts.get(self.topic_names[0], self.topics.partitions)
        )

        def plan_and_fold() -> Folded:
            return _plan_and_fold(
                history,
                ledgers,
                committed,
                self.topics,
                self.topic_names,
                self.definition.source,
                self.vault,
            )

        folded = await asyncio.to_thread(plan_and_fold)
        return ledgers, folded, dict(history.ends)

    async def _stream_fold(
        self,
        partitions: set[TopicPartition],
        committed: Mapping[TopicPartition, int],
        starts: Mapping[TopicPartition, int],
        restored_ledgers: Callable[[int], Ledgers],
    ) -> tuple[Ledgers, Folded, dict[TopicPartition, int]]:
        """Index our own outputs (every topic but the clock), then read everything to the same
        bounds, folding as it comes (``stream_fold``)."""
        clock = self.topics.name(Topic.CLOCK)
        outputs = {partition for partition in partitions if partition.topic != clock}
        bounded_read = partial(
            BoundedRead,
            self.kafka,
            idle_ms=self.settings.replay_idle_ms,
            committed_only=self.transactional,
            starts=starts,
        )
        index = DecisionIndex(self.definition.source)
        bounds: dict[TopicPartition, int] = {}
        if outputs:
            async with bounded_read(outputs) as first:
                async for batch in first.batches():
                    await asyncio.to_thread(index.take, batch)
                bounds = dict(first.ends)
        async with bounded_read(partitions, bounds=bounds) as read:
            self._partition_counts = counts = dict(read.partition_counts)
            partition_count = counts.get(self.topic_names[0], self.topics.partitions)
            if any(count != partition_count for count in counts.values()):
                raise Unordered("topics partitioned unlike each other")
            ledgers = restored_ledgers(partition_count)
            merge = MergeFold(
                ledgers,
                index,
                committed,
                self.topic_names,
                partitions,
                counts,
                timedelta(seconds=self.settings.replay_slack_seconds),
                topics=self.topics,
                cipher=self.vault,
            )
            open_streams = set(partitions)
            taking: asyncio.Future[None] | None = None
            # Each batch is folded in a thread while the next one is fetched; the merge is
            # touched on the event loop only between two of them.
            async for batch in read.batches():
                if taking is not None:
                    await taking
                ended = {s for s in open_streams - read.fetched if await read.read_to_bound(s)}
                open_streams -= ended
                read.pause(merge.to_pause(open_streams))
                read.resume(merge.to_resume(open_streams))
                taking = asyncio.ensure_future(asyncio.to_thread(merge.take, batch, ended))
            if taking is not None:
                await taking
            folded = await asyncio.to_thread(merge.finish)
            self.metrics.rebuild_records_held.labels(self.definition.name).set(merge.most_held)
            return ledgers, folded, dict(read.ends)

    async def _dead_letter_since_commit(
        self, folded: Folded, committed: Mapping[TopicPartition, int]
    ) -> None:
        """What the rebuild refused or failed on at or after the group's committed offset was
        never seen live: dead-letter it now (earlier records were dead-lettered live)."""
        for record, refusal in folded.refused:
            if record.offset >= committed.get(TopicPartition(record.topic, record.partition), 0):
                await self._dead_letter(record, refusal.reason, refusal.detail)
        for record, error in folded.failures:
            if record.offset >= committed.get(TopicPartition(record.topic, record.partition), 0):
                detail = f"{type(error).__name__}: {error}"
                await self._dead_letter(record, RejectionReason.HANDLER_FAILED, detail)

    def _clock_starts(
        self, partitions: set[TopicPartition], committed: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """Where a rebuild starts reading the clock: a window of ticks before the group's last
        commit. Every tick before the commit was decided and its outputs are in the log (which
        is read whole); what the state needs of the clock is each organisation's latest time,
        and every tick after the commit is read, so nothing undecided is skipped. A rebuild thus
        reads the ticks since the last commit, not every minute since the organisation began.
        A group that never committed reads everything."""
        clock = self.topics.name(Topic.CLOCK)
        return {
            partition: max(0, committed[partition] - self.settings.clock_replay_window)
            for partition in partitions
            if partition.topic == clock and partition in committed
        }

    async def _committed_offsets(self) -> dict[TopicPartition, int]:
        consumer = self._consumer
        if consumer is None:
            return {}
        found: dict[TopicPartition, int] = {}
        for partition in self.assignment:
            offset = await consumer.committed(partition)
            if offset is not None:
                found[partition] = offset
        return found


def _plan_and_fold(
    history: History,
    ledgers: Ledgers,
    committed: Mapping[TopicPartition, int],
    topics: TopicSettings,
    topic_order: list[str],
    source: str,
    cipher: PersonalDataCipher | None,
) -> Folded:
    """Plan and fold the history one partition number at a time (organisations never span
    two), so that only one number's events are alive at once: an event decoded is several
    times the size of its record, and a long history's events did not fit in memory. The
    records are let go of as they are planned. Each number's plan is the one a plan of the
    whole history makes of its events (first copies, whole decisions, in time order)."""
    counts = history.partition_counts
    by_number: dict[int, list[StoredRecord]] = defaultdict(list)
    if all(count == ledgers.partition_count for count in counts.values()):
        for record in history.records:  # admission checks each is on its key's partition
            by_number[record.partition].append(record)
    else:  # topics partitioned unlike the ledgers: the whole history at once
        by_number[0] = list(history.records)
    history.records.clear()
    result = Folded()
    for number in sorted(by_number):
        plan = replay_plan(
            History(by_number.pop(number), counts), topics, topic_order, source, cipher
        )
        _replay(ledgers, plan, committed, result)
        result.refused += plan.refused
        result.unfinished += plan.unfinished
        result.later_copies += plan.later_copies
        del plan  # this number's events: only the state keeps what it needs
    rank = {name: index for index, name in enumerate(topic_order)}
    result.refused.sort(key=lambda item: (rank[item[0].topic], item[0].partition, item[0].offset))
    return result


def _replay(
    ledgers: Ledgers,
    plan: ReplayPlan,
    committed: Mapping[TopicPartition, int],
    result: Folded,
) -> None:
    """Fold each partition number's events into its ledger (organisations never span two), in
    the plan's order, adding the decisions still to publish and the failures to ``result``.
    What lies before the group's commit was decided whole (a commit follows the batch's
    acknowledged outputs): it is only applied."""
    commits = {(partition.topic, partition.partition): at for partition, at in committed.items()}
    numbers: dict[str, int] = {}  # of each organisation: few, asked for every event
    events_of: dict[int, tuple[list[CloudEvent[Any]], list[bool]]] = defaultdict(lambda: ([], []))
    for event, record in zip(plan.events, plan.records, strict=True):
        number = numbers.get(event.orgid)
        if number is None:
            number = numbers[event.orgid] = ledgers.partition_of(event.orgid)
        events, settled = events_of[number]
        events.append(event)
        settled.append(record.offset < commits.get((record.topic, record.partition), 0))
        if erases_personal_data(event):
            result.erasures.add(number)
    failed: list[tuple[CloudEvent[Any], Exception]] = []
    for number, (events, settled) in sorted(events_of.items()):
        replayed = ledgers.at(number).replay(events, settled)
        result.decisions += replayed.decisions
        result.events += len(events) - replayed.copies
        result.later_copies += replayed.copies
        result.folded[number] += len(events) - replayed.copies
        failed += replayed.failures
    if failed:
        origin = {
            id(event): record for event, record in zip(plan.events, plan.records, strict=True)
        }
        result.failures += [(origin[id(event)], error) for event, error in failed]


def producer_of(broker: KafkaBroker) -> AIOKafkaProducer | None:
    """FastStream's aiokafka producer once the broker is connected (built with the runtime's
    settings: acks, idempotence, security), or None under FastStream's in-memory test broker,
    which answers ``publish`` itself. Records go to it directly: FastStream's ``publish``
    composed its middlewares, turned the headers into text and back and added a header of its
    own to every record, as much work again as aiokafka's ``send`` (6 % of onboarding's time at
    200 new hires a second)."""
    state = getattr(broker._producer, "_producer", None)
    producer = getattr(state, "producer", None)
    return producer if isinstance(producer, AIOKafkaProducer) else None


def _never_behind(partition: TopicPartition) -> bool:
    return False


class _RebuildOnAssignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka awaits these during a rebalance: they return quickly (the rebuild runs in a
    task), so the consumer keeps its membership however long the history is."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.runtime.partitions_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.runtime.partitions_assigned(set(assigned))


def run_service(definition: ServiceDefinition) -> None:
    """Entry point of ``python -m services.<name>``: settings from the environment, then run
    until SIGINT/SIGTERM (FastStream stops consuming, finishes the handler, closes the clients)."""
    settings = ServiceSettings()
    configure_logging(definition.name, log_format=settings.log_format, level=settings.log_level)
    configure_tracing(definition.name)
    runtime = ServiceRuntime(definition, settings=settings)
    asyncio.run(runtime.app.run())
