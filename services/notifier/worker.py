"""The delivery loop: takes ready deliveries from the book, sends them, records the outcome.

It runs beside the consumer (a runtime worker), so a slow SMTP server or a webhook in backoff
never holds up a partition. Each delivery is its own task: one failing channel or recipient
waits for its retries alone. The outcome is published as ``notification.sent`` or
``notification.failed`` (after the source event went to the dead-letter topic); once folded into
the book, the notification is done for good, in this instance and after any restart.

A notification id is never started twice by one instance: it stays "in flight" while its task
runs, then "finished" until the book shows it done. The second set covers a rebuild that
replaces the ledger while an outcome is being published and reads the log just before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

import structlog

from schemas import CloudEvent, RejectionReason
from schemas.base import Channel, EventPayload
from schemas.envelope import CloudEventAttributes
from schemas.notifications import NotificationFailed, NotificationSent
from services.common.logging import event_log_context
from services.common.processing import Emit, Ledger
from services.notifier.adapters.base import ChannelAdapter, DeliveryResult, Outcome, Outgoing
from services.notifier.domain.backoff import RetryPolicy, delay_before_retry
from services.notifier.domain.book import NotificationBook
from services.notifier.domain.notices import Delivery, notice_id_of
from services.notifier.domain.rendering import render
from services.notifier.handlers import NotifierProcessor

log = structlog.get_logger("rituals.notifier")

Sleep = Callable[[float], Awaitable[None]]
_MIN_PAUSE = 0.05
"""Shortest pause between two tries to publish an outcome (never a busy loop)."""


class WorkerRuntime(Protocol):
    """What the worker needs of ``ServiceRuntime`` (the benchmark and tests bring their own)."""

    @property
    def ledger(self) -> Ledger: ...

    @property
    def ready(self) -> bool:
        """The state matches every partition the instance owns: only then is the book whole."""
        ...

    def on_handover(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` when partitions move away, before another instance takes them."""
        ...

    async def publish(
        self, cause: CloudEventAttributes, emits: Sequence[Emit]
    ) -> list[CloudEvent[Any]]: ...

    async def dead_letter_event(
        self, event: CloudEvent[Any], reason: RejectionReason, detail: str
    ) -> None: ...


def book_of(runtime: WorkerRuntime) -> NotificationBook:
    """The current book; read afresh each time, since a rebuild replaces the ledger."""
    processor = runtime.ledger.processor
    if not isinstance(processor, NotifierProcessor):
        raise TypeError("the notifier's worker needs a NotifierProcessor")
    return processor.book


class DeliveryWorker:
    def __init__(
        self,
        channels: Mapping[Channel, ChannelAdapter],
        retry: RetryPolicy,
        *,
        concurrency: int = 16,
        max_in_flight: int = 1000,
        poll_interval: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.channels = channels
        self.retry = retry
        self.max_in_flight = max_in_flight
        self.poll_interval = poll_interval
        self.sleep = sleep
        self._sending = asyncio.Semaphore(concurrency)
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._finished: set[str] = set()
        self._wake = asyncio.Event()
        self._full = False
        """The last scan stopped at ``max_in_flight``: finished tasks should wake the loop."""
        self._freed = 0
        self._cut_at = ""
        self.scans = 0
        """Completed looks at the book (tests wait for one to know the worker saw an event)."""

    async def run(self, runtime: WorkerRuntime) -> None:
        """Deliver until cancelled; in-flight deliveries are cancelled with it (their outcome is
        not recorded, so the next instance delivers them: see the guarantee in the docs). It
        starts nothing while the runtime is not ready, and abandons what is in flight when
        partitions move away, before their new owner starts."""
        runtime.on_handover(self.cancel_all)
        try:
            while True:
                self._wake.clear()
                if runtime.ready:
                    self.start_ready(runtime)
                self.scans += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            await self.cancel_all()

    def wake(self) -> None:
        """Look at the book now rather than at the next poll (e.g. after new events)."""
        self._wake.set()

    def start_ready(self, runtime: WorkerRuntime) -> int:
        """Start a task for every ready delivery not already started; how many were started."""
        book = book_of(runtime)
        self._finished = {nid for nid in self._finished if nid not in book.done}
        started = 0
        self._full = False
        self._freed = 0
        busy = {notice_id_of(nid) for nid in self._in_flight} - {self._cut_at}
        self._cut_at = ""
        for delivery in book.ready(skip_notices=busy):
            notification_id = delivery.notification_id
            if notification_id in self._in_flight or notification_id in self._finished:
                continue
            if len(self._in_flight) >= self.max_in_flight:
                self._full = True
                self._cut_at = delivery.notice.notice_id  # not skipped next time: partly started
                break
            task = asyncio.create_task(self._deliver(runtime, delivery), name=notification_id)
            self._in_flight[notification_id] = task
            task.add_done_callback(partial(self._task_done, notification_id))
            started += 1
        return started

    def _task_done(self, notification_id: str, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(notification_id, None)
        if not task.cancelled():
            # Finished even when the task failed (a bug, logged): trying again in this process
            # could send a second message; a restart tries again if no outcome was recorded.
            self._finished.add(notification_id)
            if task.exception() is not None:
                log.error(
                    "delivery task failed",
                    notification_id=notification_id,
                    error_type=type(task.exception()).__name__,
                )
        self._freed += 1
        if self._full and self._freed >= max(1, self.max_in_flight // 10):
            # A full worker scans again once a tenth of its room is free, not after every send.
            self._wake.set()

    async def idle(self) -> None:
        """Wait until no delivery is in flight (the benchmark and tests use it)."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    async def cancel_all(self) -> None:
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        for adapter in self.channels.values():
            await adapter.close()

    # -- one delivery -----------------------------------------------------------------------

    async def _deliver(self, runtime: WorkerRuntime, delivery: Delivery) -> None:
        source = delivery.notice.source
        with event_log_context(source.to_logging_context()):
            result, attempts = await self._attempts(delivery)
            if result.outcome is Outcome.DELIVERED:
                await self._record(runtime, delivery, _sent(delivery, attempts))
                log.info(
                    "notification sent",
                    notification_id=delivery.notification_id,
                    channel=delivery.channel,
                    attempts=attempts,
                )
                return
            permanent = result.outcome is Outcome.PERMANENT
            detail = (
                f"{delivery.notification_id}: {result.reason} "
                f"({'permanent' if permanent else 'retries exhausted'}, {attempts} attempts)"
            )
            # The dead letter first: a crash before the failure is recorded repeats the attempt
            # and the dead letter (a duplicate there is harmless), never loses the dead letter.
            await self._with_retry(
                lambda: runtime.dead_letter_event(source, RejectionReason.DELIVERY_FAILED, detail)
            )
            await self._record(runtime, delivery, _failed(delivery, result, attempts))
            log.warning(
                "notification failed",
                notification_id=delivery.notification_id,
                channel=delivery.channel,
                reason=result.reason,
                permanent=permanent,
                attempts=attempts,
            )

    async def _attempts(self, delivery: Delivery) -> tuple[DeliveryResult, int]:
        """Send until delivered, a permanent failure, or the attempts run out."""
        adapter = self.channels.get(delivery.channel)
        if adapter is None:
            return DeliveryResult.permanent("channel not configured"), 1
        try:
            outgoing = Outgoing(delivery, render(delivery))
        except Exception as error:  # a template bug must not stop the other deliveries
            return DeliveryResult.permanent(f"rendering failed: {type(error).__name__}"), 1
        attempt = 1
        while True:
            async with self._sending:
                result = await self._send_once(adapter, outgoing)
            if result.outcome is not Outcome.TRANSIENT or attempt >= self.retry.max_attempts:
                return result, attempt
            seed = delivery.notification_id
            await self.sleep(delay_before_retry(self.retry, seed, attempt, result.retry_after))
            attempt += 1

    @staticmethod
    async def _send_once(adapter: ChannelAdapter, outgoing: Outgoing) -> DeliveryResult:
        try:
            return await adapter.send(outgoing)
        except Exception as error:  # an adapter bug or an error it did not expect
            return DeliveryResult.transient(f"unexpected {type(error).__name__}")

    async def _record(
        self, runtime: WorkerRuntime, delivery: Delivery, payload: EventPayload
    ) -> None:
        kind = "sent" if isinstance(payload, NotificationSent) else "failed"
        emit = Emit(
            payload,
            subject=delivery.recipient.member_id,
            key=f"{kind}/{delivery.notification_id}",
        )
        await self._with_retry(lambda: runtime.publish(delivery.notice.source, [emit]))

    async def _with_retry(self, action: Callable[[], Awaitable[object]]) -> None:
        """Publishing an outcome is retried until the broker takes it: sending the message again
        instead would be a duplicate."""
        failures = 0
        while True:
            try:
                await action()
                return
            except Exception as error:
                failures += 1
                log.warning("publishing an outcome failed", error_type=type(error).__name__)
                await self.sleep(
                    max(_MIN_PAUSE, min(self.retry.max_seconds, self.retry.base_seconds * failures))
                )


def _sent(delivery: Delivery, attempts: int) -> NotificationSent:
    return NotificationSent(
        notification_id=delivery.notification_id,
        source_event_id=str(delivery.notice.source.id),
        recipient_id=delivery.recipient.member_id,
        channel=delivery.channel,
        template=delivery.notice.template.value,
        language=delivery.language,
        attempts=attempts,
    )


def _failed(delivery: Delivery, result: DeliveryResult, attempts: int) -> NotificationFailed:
    return NotificationFailed(
        notification_id=delivery.notification_id,
        source_event_id=str(delivery.notice.source.id),
        recipient_id=delivery.recipient.member_id,
        channel=delivery.channel,
        reason=result.reason,
        permanent=result.outcome is Outcome.PERMANENT,
        attempts=attempts,
    )
