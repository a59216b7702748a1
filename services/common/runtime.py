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
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream import AckPolicy, FastStream
from faststream.exceptions import SkipMessage
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, RejectedEvent, RejectionReason
from schemas.envelope import CloudEventAttributes
from services.common.admission import admit
from services.common.collector import collector_paused
from services.common.logging import configure_logging, event_log_context
from services.common.metrics import ServiceMetrics
from services.common.processing import Emit, Ledger, Processor
from services.common.records import DeadLetter, OutgoingRecord, decision_records, event_record
from services.common.replay import read_to_end, replay_plan
from services.common.settings import ServiceSettings

log = structlog.get_logger("rituals.runtime")


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

    @property
    def source(self) -> str:
        return f"/rituals/{self.name}"


STATE_REFRESH_SECONDS = 0.25
DEAD_LETTER_ATTEMPTS = 5
"""How often a dead letter is tried before the record is skipped with its coordinates logged."""
RETRY_FIRST_DELAY_SECONDS = 0.2
REBUILD_RETRY_MAX_SECONDS = 30.0


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
        self.ledger = Ledger(definition.new_processor(), definition.source)
        self.assignment: set[TopicPartition] = set()
        self._stale = False
        self.rebuilt = asyncio.Event()
        """Set once the state was first rebuilt: the instance is consuming live from then on."""
        self._ready = asyncio.Event()
        """Set while the state matches the assignment; records fetched meanwhile wait for it."""
        self._ready.set()  # nothing is fetched before the first assignment clears it
        self._handling = asyncio.Lock()
        """Held while one record is handled past the gate: a revocation waits for it."""
        self._rebuild_task: asyncio.Task[None] | None = None
        self._group_managed = False
        """Set at the first assignment; FastStream's in-memory test broker never assigns."""
        self._partition_counts: dict[str, int] = {}
        self.broker = KafkaBroker(
            self.kafka.bootstrap_servers,
            security=self.kafka.faststream_security(),
            client_id=f"rituals-{definition.name}",
            logger=logging.getLogger(f"rituals.{definition.name}.kafka"),
            log_level=logging.DEBUG,
            # An acknowledged output must survive the loss of a partition leader.
            acks="all",
            # Topics are provisioned with their partitions and retention; a client never
            # creates one (a service started first would get 1-partition, 7-day topics).
            allow_auto_create_topics=False,
        )
        self.app = FastStream(self.broker, logger=logging.getLogger(f"rituals.{definition.name}"))
        self._workers: list[asyncio.Task[None]] = []
        self._state_refresh: asyncio.TimerHandle | None = None
        self._subscribe()
        self.app.on_startup(self._serve_metrics)
        self.app.after_startup(self.start_workers)
        self.app.on_shutdown(self.stop_workers)

    @property
    def group_id(self) -> str:
        return consumer_group(self.topics, self.definition.name)

    @property
    def topic_names(self) -> list[str]:
        return [self.topics.name(topic) for topic in self.definition.topics]

    @property
    def ready(self) -> bool:
        """The state matches every partition the instance owns (workers act only then)."""
        return self._ready.is_set() and self.rebuilt.is_set()

    def _subscribe(self) -> None:
        subscriber = self.broker.subscriber(
            *self.topic_names,
            group_id=self.group_id,
            group_instance_id=self.settings.group_instance_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            # Range assignment gives an instance the same partition numbers of every topic: an
            # organisation's members, clock and coffee events (all keyed by org id) stay together.
            partition_assignment_strategy=(RangePartitionAssignor,),
            session_timeout_ms=self.settings.session_timeout_ms,
            heartbeat_interval_ms=self.settings.heartbeat_interval_ms,
            max_poll_interval_ms=self.settings.max_poll_interval_ms,
            rebalance_timeout_ms=self.settings.max_poll_interval_ms,
            listener=_RebuildOnAssignment(self),
            # The runtime decodes records itself (admission): FastStream must not parse the body
            # first, or a record its JSON parser cannot follow would fail before admission.
            decoder=_undecoded,
        )

        async def on_record(message: KafkaMessage) -> None:
            await self.consume(message.raw_message)

        subscriber(on_record)

    async def _serve_metrics(self) -> None:
        if self.settings.metrics_port is not None:
            self.metrics.serve(self.settings.metrics_port)

    async def start_workers(self) -> None:
        for worker in self.definition.workers:
            self._workers.append(asyncio.create_task(worker(self), name=worker.__name__))

    async def stop_workers(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        await self._cancel_rebuild()

    async def publish(
        self, cause: CloudEventAttributes, emits: Sequence[Emit]
    ) -> list[CloudEvent[Any]]:
        """Publish outputs decided outside the consumer (by a worker) and fold them in."""
        outputs = self.ledger.outputs(cause, emits)
        await self._publish_decision(outputs)
        self._show_state_soon()
        return outputs

    def _show_state_soon(self) -> None:
        """Refresh the state gauges shortly, once for a burst of events or sends: measuring
        can cost as much as the state is large (the notifier looks at every pending notice), and
        doing it after every one of many quick events made a burst cost its size squared."""
        if self._state_refresh is None:
            self._state_refresh = asyncio.get_running_loop().call_later(
                STATE_REFRESH_SECONDS, self._show_state
            )

    def _show_state(self) -> None:
        self._state_refresh = None
        self.metrics.show_state(self.ledger.processor.measures())

    # -- the live path ---------------------------------------------------------------------

    async def consume(self, record: Any) -> None:
        """Handle one record from the live consumer."""
        await self._ready.wait()
        if self._group_managed and (
            TopicPartition(record.topic, record.partition) not in self.assignment
        ):
            # Fetched before a rebalance moved its partition: the new owner handles it. Neither
            # committed nor rewound (the partition is not ours to seek).
            raise SkipMessage
        async with self._handling:
            if self._stale:
                await self.rebuild(self.assignment)
            try:
                event = admit(record, self.topics, self._partition_counts.get(record.topic))
            except RejectedEvent as rejected:
                await self._dead_letter(record, rejected.reason, rejected.detail)
                return
            with event_log_context(event.to_logging_context()):
                await self._consume_event(record, event)

    async def _consume_event(self, record: Any, event: CloudEvent[Any]) -> None:
        if self.ledger.has_applied(event):
            if event.source != self.definition.source:  # our own outputs come back by design
                self.metrics.duplicates.labels(self.definition.name).inc()
                log.debug("duplicate skipped")
            return
        try:
            with collector_paused():
                outputs = self.ledger.handle(event)
        except Exception as error:  # one failing event must not stop the partition
            log.error("handler failed", error_type=type(error).__name__)
            await self._dead_letter(
                record, RejectionReason.HANDLER_FAILED, f"{type(error).__name__}: {error}"
            )
            return
        self.metrics.consumed.labels(self.definition.name, event.type).inc()
        await self._publish_decision(outputs)
        self._show_state_soon()
        log.debug("event handled", outputs=len(outputs))

    async def _publish_decision(self, outputs: Sequence[CloudEvent[Any]]) -> None:
        """Publish one decision's outputs, then the decisions they ask for in turn (a scheduled
        round request asks for its round), each whole."""
        pending = [list(outputs)] if outputs else []
        while pending:
            decision = pending.pop(0)
            await self._send_decision(decision)
            with collector_paused():
                pending.extend(self.ledger.decisions_following(decision))

    async def _send_decision(self, decision: Sequence[CloudEvent[Any]]) -> None:
        """Send the outputs of one decision, each marked as one of the decision."""
        try:
            for output, record in zip(
                decision, decision_records(decision, self.topics), strict=True
            ):
                await self._send(record)
                self.metrics.published.labels(self.definition.name, output.type).inc()
        except Exception:
            # The cause is applied but its decision is not all out: rebuild from the log before
            # the redelivered record is handled, so the decision is made again, whole.
            self._stale = True
            raise

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
        await self.broker.publish(
            record.value,
            topic=record.topic,
            key=record.key,
            headers={name: value.decode("utf-8", "replace") for name, value in record.headers},
        )

    # -- rebuild, readiness, handover ------------------------------------------------------

    def partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Start rebuilding the state of the new assignment in a task and return at once: the
        consumer goes on heartbeating while it runs; records wait at the gate."""
        self.assignment = set(assigned)
        self._group_managed = True
        self._ready.clear()
        self.metrics.ready.labels(self.definition.name).set(0)
        previous = self._rebuild_task
        if previous is not None:
            previous.cancel()
        self._rebuild_task = asyncio.create_task(
            self._rebuild_until_done(set(assigned)), name=f"rebuild-{self.definition.name}"
        )

    async def partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Hand over: stop being ready, stop a running rebuild, let the record being handled
        finish, and drop the state of what moved (workers then have nothing to act on)."""
        self._ready.clear()
        self.metrics.ready.labels(self.definition.name).set(0)
        await self._cancel_rebuild()
        async with self._handling:
            self.assignment -= set(revoked)
            if revoked:
                self.ledger = Ledger(self.definition.new_processor(), self.definition.source)

    async def _cancel_rebuild(self) -> None:
        task, self._rebuild_task = self._rebuild_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _rebuild_until_done(self, partitions: set[TopicPartition]) -> None:
        """Rebuild, and on failure retry with backoff while staying not ready: an instance never
        decides on partial state."""
        delay = RETRY_FIRST_DELAY_SECONDS
        while True:
            try:
                async with self._handling:
                    await self.rebuild(partitions)
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
            self._ready.set()
            self.metrics.ready.labels(self.definition.name).set(1)
            return

    async def rebuild(self, partitions: set[TopicPartition]) -> None:
        """Make a fresh state from the partitions' history and decide what was never decided
        (or was cut short)."""
        history = await read_to_end(self.kafka, partitions, idle_ms=self.settings.replay_idle_ms)
        plan = replay_plan(history, self.topics, self.topic_names, self.definition.source)
        self._partition_counts = dict(history.partition_counts)
        ledger = Ledger(self.definition.new_processor(), self.definition.source)
        with collector_paused():
            replayed = ledger.replay(plan.events)
        self.ledger = ledger
        for decision in replayed.decisions:
            await self._send_decision(decision)
        self._stale = False
        self.rebuilt.set()
        self.metrics.replayed.labels(self.definition.name).inc(len(plan.events))
        self.metrics.show_state(self.ledger.processor.measures())
        log.info(
            "state rebuilt",
            partitions=len(partitions),
            events=len(plan.events),
            decided=len(replayed.decisions),
            unfinished=plan.unfinished,
            refused=plan.refused,
            later_copies=plan.later_copies,
            failed=len(replayed.failures),
        )


async def _undecoded(message: Any) -> Any:
    return message.body


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
    runtime = ServiceRuntime(definition, settings=settings)
    asyncio.run(runtime.app.run())
