"""The delivery loop: takes ready deliveries from the book, sends them, records the outcome.

It runs beside the consumer (a runtime worker), so a slow SMTP server or a webhook in backoff
never holds up a partition. Each attempt is its own task. Its outcome is published:
``notification.sent``; ``notification.failed`` for good (after the source event went to the
dead-letter topic); or ``notification.retry_scheduled`` for a transient failure, with the moment
the next attempt may go (``backoff``). The book folds these in, so a schedule of retries over a
day survives restarts, and a notification done is done in this instance and after any restart.

Retries stop when the notice is no longer useful (``useful_until``, in the organisation's domain
time), and no attempt is spent on a channel whose circuit breaker is open (``breaker``).

An attempt is never started twice by one instance: it stays "in flight" while its task runs,
then "finished" until the book shows its outcome. The second set covers a rebuild that replaces
the ledger while an outcome is being published and reads the log just before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Container, Coroutine, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

import structlog

from schemas import CloudEvent, RejectionReason
from schemas.base import Channel, EventPayload
from schemas.envelope import CloudEventAttributes
from schemas.notifications import (
    NotificationFailed,
    NotificationRetryScheduled,
    NotificationSent,
)
from services.common.logging import event_log_context
from services.common.processing import Emit, Ledgers
from services.common.tracing import continuing
from services.notifier.adapters.base import ChannelAdapter, DeliveryResult, Outcome, Outgoing
from services.notifier.domain.answer_links import LinkSigning, with_answer_links
from services.notifier.domain.backoff import RetryPolicy, delay_before_retry
from services.notifier.domain.book import NotificationBook
from services.notifier.domain.breaker import ChannelBreakers
from services.notifier.domain.message import Message
from services.notifier.domain.notices import Delivery, notice_id_of, useful_until
from services.notifier.domain.rendering import render
from services.notifier.handlers import NotifierProcessor

log = structlog.get_logger("rituals.notifier")
LOG_LEVEL = logging.getLogger("rituals.notifier")
"""The standard library's logger behind ``log``: its level, cached."""

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]
AttemptKey = tuple[str, int, int]
"""Notification id, redeliveries, attempts already made: one attempt of one notification."""
_MIN_PAUSE = 0.05
"""Shortest pause between two tries to publish an outcome (never a busy loop)."""
_MAX_PAUSE = 5.0


class WorkerRuntime(Protocol):
    """What the worker needs of ``ServiceRuntime`` (the benchmark and tests bring their own)."""

    @property
    def ledgers(self) -> Ledgers: ...

    @property
    def ready(self) -> bool:
        """The state matches every partition the instance owns: only then is the book whole."""
        ...

    def on_handover(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` when partitions move away, before another instance takes them."""
        ...

    def after_batch(self, action: Callable[[], None]) -> None:
        """Run ``action`` whenever new events have been folded into the state."""
        ...

    async def publish(
        self, cause: CloudEventAttributes, emits: Sequence[Emit]
    ) -> list[CloudEvent[Any]]: ...

    async def dead_letter_event(
        self, event: CloudEvent[Any], reason: RejectionReason, detail: str
    ) -> None: ...


def book_of(runtime: WorkerRuntime, organisation: str) -> NotificationBook:
    """The organisation's current book; read afresh each time, since a rebuild replaces the
    ledgers."""
    return _book(runtime.ledgers.of(organisation).processor)


def books_of(runtime: WorkerRuntime) -> list[NotificationBook]:
    """The current book of every partition number the instance owns."""
    return [_book(processor) for processor in runtime.ledgers.processors()]


def _book(processor: object) -> NotificationBook:
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
        clock: Clock = lambda: datetime.now(UTC),
        breakers: ChannelBreakers | None = None,
        links: LinkSigning | None = None,
    ) -> None:
        self.channels = channels
        self.links = links
        """How answer links are signed into messages (none: messages carry no links)."""
        self.retry = retry
        self.max_in_flight = max_in_flight
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.clock = clock
        self.breakers = breakers or ChannelBreakers()
        self._sending = asyncio.Semaphore(concurrency)
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._busy_notices: Counter[str] = Counter()
        """Notice id -> its deliveries in flight, kept as they start and end (building it from
        ``_in_flight`` at every scan cost O(in flight) per scan)."""
        self._finished: dict[AttemptKey, str] = {}
        self._kept = 0
        """How many finished attempts the last pruning kept."""
        """Attempts finished in this process, with their organisation."""
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
        runtime.after_batch(self.wake)  # a notice is looked at when it arrives, not a poll later
        try:
            while True:
                self._wake.clear()
                if runtime.ready:
                    self.start_ready(runtime)
                self.scans += 1
                # ``asyncio.timeout``, not ``wait_for``: Python 3.11's ``wait_for`` returns the
                # result when the wake and a cancellation come together, swallowing the cancel,
                # and the worker went on for ever (a stop hung in CI).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval):
                        await self._wake.wait()
        finally:
            await self.cancel_all()

    def wake(self) -> None:
        """Look at the book now rather than at the next poll (e.g. after new events)."""
        self._wake.set()

    def start_ready(self, runtime: WorkerRuntime) -> int:
        """Start a task for every delivery due now and not already started; how many were."""
        if len(self._finished) > 2 * self._kept + 64:
            # Only for memory: an attempt whose key moved on never matches a lookup again.
            # Pruning when the set has doubled costs O(1) per attempt, not O(set) per scan.
            self._finished = self._still_unrecorded(runtime)
            self._kept = len(self._finished)
        now = self.clock()
        started = 0
        self._full = False
        self._freed = 0
        busy: Container[str] = self._busy_notices
        if self._cut_at:  # partly started: looked at again (rare: only when the worker is full)
            busy = self._busy_notices.keys() - {self._cut_at}
        self._cut_at = ""
        for book in books_of(runtime):
            started += self._start_from(runtime, book, busy, now)
            if self._full:
                break
        return started

    def _still_unrecorded(self, runtime: WorkerRuntime) -> dict[AttemptKey, str]:
        """The finished attempts still to be kept: those whose attempt key is unchanged (a
        retry or a redelivery makes a new one). One the book shows done is kept too: a rebuild
        may still replace the book with one read from the log before the outcome landed. Each
        organisation's book is looked up once per scan (finding it hashes the organisation)."""
        books: dict[str, NotificationBook] = {}
        unrecorded: dict[AttemptKey, str] = {}
        for key, organisation in self._finished.items():
            book = books.get(organisation)
            if book is None:
                book = books[organisation] = book_of(runtime, organisation)
            if key == attempt_key(book, key[0]):
                unrecorded[key] = organisation
        return unrecorded

    def _start_from(
        self, runtime: WorkerRuntime, book: NotificationBook, busy: Container[str], now: datetime
    ) -> int:
        started = 0
        for delivery in book.lapsed_deliveries():
            started += self._start(runtime, book, delivery, self._say_lapsed)
        for delivery in book.ready(skip_notices=busy):
            notification_id = delivery.notification_id
            key = attempt_key(book, notification_id)
            if notification_id in self._in_flight or key in self._finished:
                continue
            retry = book.retries.get(notification_id)
            if retry is not None and retry.not_before > now:
                continue
            if len(self._in_flight) >= self.max_in_flight:
                self._full = True
                self._cut_at = delivery.notice.notice_id  # not skipped next time: partly started
                break
            if not _expired(book, delivery) and not self.breakers.allows(delivery.channel, now):
                continue  # checked last: a probe counts as sent
            started += self._start(runtime, book, delivery, self._deliver)
        return started

    def _start(
        self,
        runtime: WorkerRuntime,
        book: NotificationBook,
        delivery: Delivery,
        work: Callable[[WorkerRuntime, Delivery], Coroutine[Any, Any, None]],
    ) -> int:
        notification_id = delivery.notification_id
        key = attempt_key(book, notification_id)
        if notification_id in self._in_flight or key in self._finished:
            return 0
        task = asyncio.create_task(work(runtime, delivery), name=notification_id)
        self._in_flight[notification_id] = task
        self._busy_notices[notice_id_of(notification_id)] += 1
        task.add_done_callback(partial(self._task_done, key, delivery.notice.org_id))
        return 1

    async def _say_lapsed(self, runtime: WorkerRuntime, delivery: Delivery) -> None:
        """A reminder not sent because its recipient's working hours began only after the
        occurrence started: recorded as such (no attempt, no dead letter)."""
        outcome = _Outcome(self, runtime, delivery, book_of(runtime, delivery.notice.org_id), 0)
        reason = DeliveryResult.permanent("outside working hours until the occurrence started")
        await outcome.failed(reason, 0, dead_letter=False)

    def _task_done(self, key: AttemptKey, organisation: str, task: asyncio.Task[None]) -> None:
        notification_id = key[0]
        if self._in_flight.pop(notification_id, None) is not None:
            notice_id = notice_id_of(notification_id)
            self._busy_notices[notice_id] -= 1
            if not self._busy_notices[notice_id]:
                del self._busy_notices[notice_id]
        if not task.cancelled():
            # Finished even when the task failed (a bug, logged): trying again in this process
            # could send a second message; a restart tries again if no outcome was recorded.
            self._finished[key] = organisation
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
        """One attempt, and its outcome recorded."""
        book = book_of(runtime, delivery.notice.org_id)
        source = delivery.notice.source
        notification_id = delivery.notification_id
        retry = book.retries.get(notification_id)
        attempts = (retry.attempts if retry is not None else 0) + 1
        outcome = _Outcome(self, runtime, delivery, book, attempts)
        with (
            event_log_context(source.to_logging_context),
            continuing(source, "deliver") as span,
        ):
            span.set_attribute("rituals.channel", delivery.channel)
            if _expired(book, delivery):
                await outcome.failed(DeliveryResult.permanent("expired: no longer useful"), 0)
                return
            result = await self._attempt(delivery)
            self.breakers.record(
                delivery.channel,
                transient_failure=result.outcome is Outcome.TRANSIENT,
                now=self.clock(),
            )
            if result.outcome is Outcome.DELIVERED:
                await outcome.sent()
            elif result.outcome is Outcome.PERMANENT or attempts >= self.retry.max_attempts:
                await outcome.failed(result, attempts)
            else:
                await outcome.retry_later(result)

    async def _attempt(self, delivery: Delivery) -> DeliveryResult:
        adapter = self.channels.get(delivery.channel)
        if adapter is None:
            return DeliveryResult.permanent("channel not configured")
        try:
            outgoing = Outgoing(delivery, self._message(delivery))
        except Exception as error:  # a template bug must not stop the other deliveries
            return DeliveryResult.permanent(f"rendering failed: {type(error).__name__}")
        async with self._sending:
            return await self._send_once(adapter, outgoing)

    def _message(self, delivery: Delivery) -> Message:
        message = render(delivery)
        if self.links is None:
            return message
        return with_answer_links(message, delivery, self.links)

    @staticmethod
    async def _send_once(adapter: ChannelAdapter, outgoing: Outgoing) -> DeliveryResult:
        try:
            return await adapter.send(outgoing)
        except (ValueError, TypeError, LookupError) as error:
            # The message cannot be composed for this channel (e.g. a header the mail library
            # refuses): composing it again gives the same, so it is not retried.
            return DeliveryResult.permanent(
                f"could not compose the message: {type(error).__name__}"
            )
        except Exception as error:  # an adapter bug or an error it did not expect
            return DeliveryResult.transient(f"unexpected {type(error).__name__}")

    async def record(self, runtime: WorkerRuntime, delivery: Delivery, emit: Emit) -> None:
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
                await self.sleep(max(_MIN_PAUSE, min(_MAX_PAUSE, _MIN_PAUSE * 2**failures)))


def _expired(book: NotificationBook, delivery: Delivery) -> bool:
    """A retry or a redelivery of a notice no longer useful (by the organisation's domain time).
    A first attempt always goes: the notice was due while it was useful, and a simulated clock
    may run ahead of any delivery."""
    notification_id = delivery.notification_id
    if notification_id not in book.retries and not book.redeliveries[notification_id]:
        return False
    now = book.now(delivery.notice.org_id)
    return now is not None and now >= useful_until(delivery.notice)


def attempt_key(book: NotificationBook, notification_id: str) -> AttemptKey:
    retry = book.retries.get(notification_id)
    attempts = retry.attempts if retry is not None else 0
    return notification_id, book.redeliveries[notification_id], attempts


class _Outcome:
    """Records what one attempt came to, as an event at the organisation's domain time."""

    def __init__(
        self,
        worker: DeliveryWorker,
        runtime: WorkerRuntime,
        delivery: Delivery,
        book: NotificationBook,
        attempts: int,
    ) -> None:
        self.worker = worker
        self.runtime = runtime
        self.delivery = delivery
        self.attempts = attempts
        self.book = book
        source = delivery.notice.source
        self.domain_time = max(source.time, book.due_at.get(delivery.notice.notice_id, source.time))
        redeliveries = book.redeliveries[delivery.notification_id]
        self.series = delivery.notification_id + (f"#{redeliveries}" if redeliveries else "")
        """Names this series of attempts among the outcomes (a redelivery starts another)."""
        self.about: dict[str, Any] = {
            "notification_id": delivery.notification_id,
            "source_event_id": str(source.id),
            "recipient_id": delivery.recipient.member_id,
            "channel": delivery.channel,
        }
        """What every outcome says about the notification it is about."""

    @property
    def log(self) -> Any:
        """The worker's logger with the notification named (bound when a line is written)."""
        return log.bind(
            notification_id=self.delivery.notification_id, channel=self.delivery.channel
        )

    async def sent(self) -> None:
        delivery = self.delivery
        payload = NotificationSent(
            **self.about,
            template=delivery.notice.template.value,
            language=delivery.language,
            attempts=self.attempts,
        )
        await self._emit(payload, f"sent/{self.series}")
        # Each delivery is in the log as its notification.sent and in the metrics; a line per
        # delivery at INFO cost the notifier 7 % of its time at 400 deliveries a second.
        if LOG_LEVEL.isEnabledFor(logging.DEBUG):
            self.log.debug("notification sent", attempts=self.attempts)

    async def failed(
        self, result: DeliveryResult, attempts: int, *, dead_letter: bool = True
    ) -> None:
        delivery = self.delivery
        permanent = result.outcome is Outcome.PERMANENT
        detail = (
            f"{delivery.notification_id}: {result.reason} "
            f"({'permanent' if permanent else 'retries exhausted'}, {attempts} attempts)"
        )
        source = delivery.notice.source
        # The dead letter first: a crash before the failure is recorded repeats the attempt
        # and the dead letter (a duplicate there is harmless), never loses the dead letter.
        if dead_letter:
            await self.worker._with_retry(
                lambda: self.runtime.dead_letter_event(
                    source, RejectionReason.DELIVERY_FAILED, detail
                )
            )
        payload = NotificationFailed(
            **self.about,
            reason=result.reason,
            permanent=permanent,
            attempts=attempts,
        )
        await self._emit(payload, f"failed/{self.series}")
        self.log.warning(
            "notification failed",
            reason=result.reason,
            permanent=permanent,
            attempts=attempts,
        )

    async def retry_later(self, result: DeliveryResult) -> None:
        delivery = self.delivery
        wait = delay_before_retry(
            self.worker.retry, delivery.notification_id, self.attempts, result.retry_after
        )
        payload = NotificationRetryScheduled(
            **self.about,
            reason=result.reason,
            attempts=self.attempts,
            not_before=self.worker.clock() + timedelta(seconds=wait),
        )
        await self._emit(payload, f"retry/{self.series}/{self.attempts}")
        self.log.info(
            "notification retry scheduled",
            reason=result.reason,
            attempts=self.attempts,
            retry_in_s=round(wait, 1),
        )

    async def _emit(self, payload: EventPayload, key: str) -> None:
        subject = self.delivery.recipient.member_id
        # Recorded at the organisation's domain time now: after a backlog, long after it was
        # due, and a rebuild places it there, after the ticks the live service had seen.
        recorded = self.book.now(self.delivery.notice.org_id)
        emit = Emit(payload, subject=subject, key=key, time=self.domain_time, recorded=recorded)
        await self.worker.record(self.runtime, self.delivery, emit)
