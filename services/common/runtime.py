"""The one way to run a service: a FastStream Kafka app around a ``Processor``.

What every service gets from here:

- one consumer group per service (``rituals-<name>``): instances share the partitions;
- offsets committed only after the handler finished (at-least-once); an error while publishing
  rewinds to the record (redelivery) and rebuilds the state from the log first;
- state rebuilt from the log whenever partitions are assigned: the instance reads its partitions
  of every topic it consumes from the beginning (``replay``) and decides what was never decided;
- deduplication by event id and by cause (``processing.Ledger``);
- a dead-letter path: a record that is not JSON, not a CloudEvent, of an unknown type, with an
  invalid payload, or that the domain logic fails on goes to ``<topic>.dlq`` with the reason and
  the original bytes, and consumption goes on;
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
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, RejectedEvent, RejectionReason, decode_event
from schemas.envelope import CloudEventAttributes
from services.common.collector import collector_paused
from services.common.logging import configure_logging, event_log_context
from services.common.metrics import ServiceMetrics
from services.common.processing import Emit, Ledger, Processor
from services.common.records import DeadLetter, OutgoingRecord, event_record
from services.common.replay import in_replay_order, read_to_end
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
        """Clear while a rebuild runs: records fetched meanwhile wait for the new state."""
        self._ready.set()  # nothing is fetched before the first assignment clears it
        self.broker = KafkaBroker(
            self.kafka.bootstrap_servers,
            security=self.kafka.faststream_security(),
            client_id=f"rituals-{definition.name}",
            logger=logging.getLogger(f"rituals.{definition.name}.kafka"),
            log_level=logging.DEBUG,
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

    def _subscribe(self) -> None:
        subscriber = self.broker.subscriber(
            *self.topic_names,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            # Range assignment gives an instance the same partition numbers of every topic: an
            # organisation's members, clock and coffee events (all keyed by org id) stay together.
            partition_assignment_strategy=(RangePartitionAssignor,),
            session_timeout_ms=self.settings.session_timeout_ms,
            heartbeat_interval_ms=self.settings.heartbeat_interval_ms,
            listener=_RebuildOnAssignment(self),
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

    async def publish(
        self, cause: CloudEventAttributes, emits: Sequence[Emit]
    ) -> list[CloudEvent[Any]]:
        """Publish outputs decided outside the consumer (by a worker) and fold them in."""
        outputs = self.ledger.outputs(cause, emits)
        await self._publish_outputs(outputs)
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

    async def consume(self, record: Any) -> None:
        """Handle one record from the live consumer."""
        await self._ready.wait()
        if self._stale:
            await self.rebuild(self.assignment)
        try:
            event = decode_event(record.value or b"")
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
        await self._publish_outputs(outputs)
        self._show_state_soon()
        log.debug("event handled", outputs=len(outputs))

    async def _publish_outputs(self, outputs: Sequence[CloudEvent[Any]]) -> None:
        while outputs:
            try:
                for output in outputs:
                    await self._send(event_record(output, self.topics))
                    self.metrics.published.labels(self.definition.name, output.type).inc()
            except Exception:
                # The cause is already applied but its outputs are not all out: rebuild from the
                # log before the redelivered record is handled, so the decision is made again.
                self._stale = True
                raise
            with collector_paused():
                outputs = self.ledger.record_published(outputs)

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
        await self._send(letter.record())
        self.metrics.dead_lettered.labels(self.definition.name, reason.value).inc()
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
        await self._send(letter.record())
        self.metrics.dead_lettered.labels(self.definition.name, reason.value).inc()

    async def _send(self, record: OutgoingRecord) -> None:
        await self.broker.publish(
            record.value,
            topic=record.topic,
            key=record.key,
            headers={name: value.decode("utf-8", "replace") for name, value in record.headers},
        )

    async def rebuild_before_consuming(self) -> None:
        """aiokafka may hand records of the new assignment to the handler while this listener
        runs; they wait until the state matches the assignment (and are then duplicates)."""
        self._ready.clear()
        try:
            await self.rebuild(self.assignment)
        finally:
            self._ready.set()

    async def rebuild(self, partitions: set[TopicPartition]) -> None:
        """Make a fresh state from the partitions' history and decide what was never decided."""
        records = await read_to_end(self.kafka, partitions, idle_ms=self.settings.replay_idle_ms)
        events = in_replay_order(records, self.topic_names, self.definition.source)
        self.ledger = Ledger(self.definition.new_processor(), self.definition.source)
        for event in events:
            self.ledger.note_outputs(event)
        decided_now = 0
        for event in events:
            with event_log_context(event.to_logging_context()):
                decided_now += await self._replay_event(event)
        self._stale = False
        self.rebuilt.set()
        self.metrics.replayed.labels(self.definition.name).inc(len(events))
        self.metrics.show_state(self.ledger.processor.measures())
        log.info(
            "state rebuilt", partitions=len(partitions), events=len(events), decided=decided_now
        )

    async def _replay_event(self, event: CloudEvent[Any]) -> int:
        try:
            with collector_paused():
                outputs = self.ledger.handle(event)
        except Exception as error:  # dead-lettered by the live consumer when it reaches it
            log.warning("replayed event failed", error_type=type(error).__name__)
            return 0
        await self._publish_outputs(outputs)
        return 1 if outputs else 0


class _RebuildOnAssignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka awaits this before fetching from newly assigned partitions."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.runtime.assignment -= set(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.runtime.assignment = set(assigned)
        await self.runtime.rebuild_before_consuming()


def run_service(definition: ServiceDefinition) -> None:
    """Entry point of ``python -m services.<name>``: settings from the environment, then run
    until SIGINT/SIGTERM (FastStream stops consuming, finishes the handler, closes the clients)."""
    settings = ServiceSettings()
    configure_logging(definition.name, log_format=settings.log_format, level=settings.log_level)
    runtime = ServiceRuntime(definition, settings=settings)
    asyncio.run(runtime.app.run())
