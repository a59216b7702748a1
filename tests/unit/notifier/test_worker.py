"""The delivery worker with scripted channels and an in-memory runtime: outcomes recorded,
retries, failures with dead letters, no head-of-line blocking, never the same send twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from schemas import CloudEvent, RejectionReason
from schemas.base import Channel
from schemas.coffee import CoffeeMatched
from services.notifier.adapters.base import ChannelAdapter, DeliveryResult
from services.notifier.domain.backoff import RetryPolicy, retry_delays
from services.notifier.handlers import NotifierProcessor
from services.notifier.worker import DeliveryWorker
from tests.factories import event, sample_payload
from tests.unit.notifier.support import (
    MemoryRuntime,
    RecordedSleeps,
    ScriptedChannel,
    joined,
    policy_with,
)

RETRY = RetryPolicy(max_attempts=3, base_seconds=1.0, max_seconds=10.0)
MATCHED = event(sample_payload(CoffeeMatched))
SENT = "rituals.notification.sent"
FAILED = "rituals.notification.failed"


def members(m1_channels: tuple[Channel, ...] = ("email",)) -> list[CloudEvent[Any]]:
    return [
        joined("m-1", notification_channels=m1_channels),
        joined(
            "m-2",
            timezone="America/New_York",
            working_hours={"start": "03:00", "end": "17:00"},
            notification_channels=("webhook",),
        ),
    ]


def runtime_with(*events: CloudEvent[Any]) -> MemoryRuntime:
    runtime = MemoryRuntime(NotifierProcessor(policy_with("slack", "webhook")))
    runtime.feed(*events)
    return runtime


def worker_for(
    channels: Mapping[Channel, ChannelAdapter], sleeps: RecordedSleeps | None = None
) -> DeliveryWorker:
    return DeliveryWorker(channels, RETRY, sleep=sleeps or RecordedSleeps(), poll_interval=0.01)


async def deliver_all(worker: DeliveryWorker, runtime: MemoryRuntime) -> int:
    started = worker.start_ready(runtime)
    await worker.idle()
    return started


async def test_a_delivered_notification_is_recorded_and_never_started_again() -> None:
    runtime = runtime_with(*members(), MATCHED)
    email, webhook = ScriptedChannel(), ScriptedChannel()
    worker = worker_for({"email": email, "webhook": webhook})

    assert await deliver_all(worker, runtime) == 2
    assert await deliver_all(worker, runtime) == 0

    assert len(email.attempts) == len(webhook.attempts) == 1
    sent = sorted(runtime.of_type(SENT), key=lambda payload: payload.recipient_id)
    assert [(s.recipient_id, s.channel, s.attempts) for s in sent] == [
        ("m-1", "email", 1),
        ("m-2", "webhook", 1),
    ]
    assert sent[0].notification_id == f"{MATCHED.id}/m-1/email"
    assert sent[0].source_event_id == str(MATCHED.id)
    assert sent[0].template == "coffee.matched"
    assert runtime.processor.book.pending == {}
    outputs = [output for output in runtime.published if output.type == SENT]
    assert all(output.causationid == str(MATCHED.id) for output in outputs)


async def test_a_transient_failure_is_retried_after_a_jittered_delay_with_the_same_key() -> None:
    runtime = runtime_with(*members(), MATCHED)
    email = ScriptedChannel(DeliveryResult.transient("http 500"))
    sleeps = RecordedSleeps()
    await deliver_all(worker_for({"email": email, "webhook": ScriptedChannel()}, sleeps), runtime)

    first, second = email.attempts
    assert first.key == second.key
    notification_id = f"{MATCHED.id}/m-1/email"
    assert sleeps.delays == [retry_delays(RETRY, notification_id)[0]]
    (sent,) = (s for s in runtime.of_type(SENT) if s.channel == "email")
    assert sent.attempts == 2
    assert runtime.dead_letters == []


async def test_a_permanent_failure_dead_letters_the_event_and_records_the_failure() -> None:
    runtime = runtime_with(*members(), MATCHED)
    email = ScriptedChannel(DeliveryResult.permanent("http 400"))
    await deliver_all(worker_for({"email": email, "webhook": ScriptedChannel()}), runtime)

    assert len(email.attempts) == 1
    (failed,) = runtime.of_type(FAILED)
    assert (failed.channel, failed.reason, failed.permanent, failed.attempts) == (
        "email",
        "http 400",
        True,
        1,
    )
    ((letter, reason, detail),) = runtime.dead_letters
    assert letter.id == MATCHED.id
    assert reason is RejectionReason.DELIVERY_FAILED
    assert "http 400" in detail
    assert failed.notification_id in detail
    # The dead letter first: a crash in between repeats both rather than losing the letter.
    assert runtime.journal.index("dead_letter") < runtime.journal.index(FAILED)
    assert len(runtime.of_type(SENT)) == 1  # the other recipient got theirs
    assert runtime.processor.book.pending == {}


async def test_retries_are_bounded_and_exhausting_them_is_a_failure_that_was_not_permanent() -> (
    None
):
    runtime = runtime_with(*members(), MATCHED)
    email = ScriptedChannel(*[DeliveryResult.transient("smtp 451")] * 5)
    sleeps = RecordedSleeps()
    await deliver_all(worker_for({"email": email, "webhook": ScriptedChannel()}, sleeps), runtime)

    assert len(email.attempts) == RETRY.max_attempts
    assert len(sleeps.delays) == RETRY.max_attempts - 1
    (failed,) = runtime.of_type(FAILED)
    assert (failed.permanent, failed.attempts) == (False, RETRY.max_attempts)
    assert len(runtime.dead_letters) == 1


async def test_an_adapter_that_raises_is_retried_like_a_transient_failure() -> None:
    class Exploding(ScriptedChannel):
        async def send(self, outgoing: Any) -> DeliveryResult:
            self.attempts.append(outgoing)
            raise RuntimeError("bug")

    runtime = runtime_with(*members(), MATCHED)
    email = Exploding()
    await deliver_all(worker_for({"email": email, "webhook": ScriptedChannel()}), runtime)
    (failed,) = runtime.of_type(FAILED)
    assert failed.reason == "unexpected RuntimeError"
    assert len(email.attempts) == RETRY.max_attempts


async def test_a_channel_without_adapter_fails_for_good() -> None:
    runtime = runtime_with(*members(), MATCHED)
    await deliver_all(worker_for({"webhook": ScriptedChannel()}), runtime)
    (failed,) = runtime.of_type(FAILED)
    assert (failed.channel, failed.reason, failed.permanent) == (
        "email",
        "channel not configured",
        True,
    )


async def test_a_hanging_channel_blocks_neither_other_channels_nor_other_recipients() -> None:
    runtime = runtime_with(*members(m1_channels=("slack", "email")), MATCHED)
    gate = asyncio.Event()
    slack = ScriptedChannel(gate=gate)
    email, webhook = ScriptedChannel(), ScriptedChannel()
    worker = worker_for({"slack": slack, "email": email, "webhook": webhook})

    assert worker.start_ready(runtime) == 3
    await _until(lambda: len(runtime.of_type(SENT)) == 2)
    assert {s.channel for s in runtime.of_type(SENT)} == {"email", "webhook"}
    assert len(slack.attempts) == 1

    assert worker.start_ready(runtime) == 0  # slack is in flight: not started twice
    gate.set()
    await worker.idle()
    assert len(slack.attempts) == 1
    assert len(runtime.of_type(SENT)) == 3


async def test_a_rebuild_that_misses_a_fresh_outcome_does_not_send_again() -> None:
    """A rebuild may read the log just before the worker's notification.sent lands there: the
    fresh ledger shows the delivery as pending, the worker knows it finished it."""
    history = [*members(), MATCHED]
    runtime = runtime_with(*history)
    email, webhook = ScriptedChannel(), ScriptedChannel()
    worker = worker_for({"email": email, "webhook": webhook})
    await deliver_all(worker, runtime)
    outcomes = list(runtime.published)

    rebuilt = runtime_with(*history)  # the outcomes are not in it
    assert len(list(rebuilt.processor.book.ready())) == 2
    assert await deliver_all(worker, rebuilt) == 0
    assert len(email.attempts) == len(webhook.attempts) == 1

    rebuilt.feed(*outcomes)  # they arrive: the worker can forget them
    assert await deliver_all(worker, rebuilt) == 0


async def test_publishing_an_outcome_is_retried_without_sending_again() -> None:
    runtime = runtime_with(*members(), MATCHED)
    runtime.publish_failures = 2
    email, webhook = ScriptedChannel(), ScriptedChannel()
    await deliver_all(worker_for({"email": email, "webhook": webhook}), runtime)
    assert len(email.attempts) == len(webhook.attempts) == 1
    assert len(runtime.of_type(SENT)) == 2


async def test_the_loop_delivers_what_arrives_and_stops_when_cancelled() -> None:
    runtime = runtime_with(*members())
    email, webhook = ScriptedChannel(), ScriptedChannel()
    worker = worker_for({"email": email, "webhook": webhook})
    loop = asyncio.create_task(worker.run(runtime))
    try:
        runtime.feed(MATCHED)
        worker.wake()
        await asyncio.wait_for(_until(lambda: len(runtime.of_type(SENT)) == 2), 30)
    finally:
        loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert worker.scans >= 1


async def _until(condition: Callable[[], bool]) -> None:
    """Poll state the worker changes from its own tasks (they signal nothing to wait on)."""
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.005)


async def test_closing_the_worker_closes_its_channels() -> None:
    email = ScriptedChannel()
    await worker_for({"email": email}).close()
    assert email.closed


async def test_a_full_worker_takes_the_rest_as_room_is_made() -> None:
    runtime = runtime_with(*members(m1_channels=("email", "slack")), MATCHED)
    channels: dict[Channel, ChannelAdapter] = {
        "email": ScriptedChannel(),
        "slack": ScriptedChannel(),
        "webhook": ScriptedChannel(),
    }
    worker = DeliveryWorker(channels, RETRY, max_in_flight=1, poll_interval=60)
    loop = asyncio.create_task(worker.run(runtime))
    try:
        await asyncio.wait_for(_until(lambda: len(runtime.of_type(SENT)) == 3), 30)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    assert worker.scans >= 3  # woken by each finished delivery, not by the (long) poll


async def test_nothing_is_delivered_while_the_runtime_is_not_ready() -> None:
    runtime = runtime_with(*members(), MATCHED)
    runtime.ready = False  # a rebuild is running: the book is not whole yet
    email, webhook = ScriptedChannel(), ScriptedChannel()
    worker = worker_for({"email": email, "webhook": webhook})
    loop = asyncio.create_task(worker.run(runtime))
    try:
        scans = worker.scans
        while worker.scans < scans + 3:  # noqa: ASYNC110 (the worker signals nothing to wait on)
            await asyncio.sleep(0.01)
        assert email.attempts == webhook.attempts == []

        runtime.ready = True
        while len(runtime.of_type(SENT)) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def test_a_handover_abandons_what_is_in_flight_before_the_new_owner_starts() -> None:
    runtime = runtime_with(*members(), MATCHED)
    hanging = asyncio.Event()
    email, webhook = ScriptedChannel(gate=hanging), ScriptedChannel(gate=hanging)
    worker = worker_for({"email": email, "webhook": webhook})
    loop = asyncio.create_task(worker.run(runtime))
    try:
        while len(email.attempts) + len(webhook.attempts) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        runtime.ready = False
        (handover,) = runtime.handover
        await handover()  # what the runtime awaits on a revocation

        hanging.set()
        await asyncio.sleep(0.05)
        assert runtime.of_type(SENT) == []  # abandoned: the new owner delivers (same key)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
