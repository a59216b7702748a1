"""The delivery worker with scripted channels and an in-memory runtime: outcomes recorded,
retries, failures with dead letters, no head-of-line blocking, never the same send twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import CloudEvent, RejectionReason
from schemas.base import Channel
from schemas.clock import ClockTicked
from schemas.coffee import CoffeeMatched
from schemas.notifications import NotificationRedeliveryRequested
from schemas.rituals import RitualScheduled
from services.notifier.adapters.base import ChannelAdapter, DeliveryResult
from services.notifier.domain.backoff import RetryPolicy, retry_delays
from services.notifier.domain.breaker import ChannelBreakers
from services.notifier.domain.notices import Template
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

RETRY = RetryPolicy((1.0, 10.0))
"""Three attempts in all."""
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
RETRYING = "rituals.notification.retry_scheduled"


class ManualClock:
    """The worker's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


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
    channels: Mapping[Channel, ChannelAdapter],
    sleeps: RecordedSleeps | None = None,
    clock: ManualClock | None = None,
    breakers: ChannelBreakers | None = None,
) -> DeliveryWorker:
    return DeliveryWorker(
        channels,
        RETRY,
        sleep=sleeps or RecordedSleeps(),
        poll_interval=0.01,
        clock=clock or ManualClock(),
        breakers=breakers,
    )


async def deliver_all(worker: DeliveryWorker, runtime: MemoryRuntime) -> int:
    started = worker.start_ready(runtime)
    await worker.idle()
    return started


async def deliver_with_retries(
    worker: DeliveryWorker, runtime: MemoryRuntime, clock: ManualClock
) -> None:
    """Deliver, and each time retries wait, move the clock to the latest of them."""
    for _ in range(2 * RETRY.max_attempts):
        await deliver_all(worker, runtime)
        retries = runtime.processor.book.retries
        if not retries:
            return
        clock.now = max(retry.not_before for retry in retries.values()) + timedelta(seconds=1)
    raise AssertionError("retries never ended")


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


async def test_a_transient_failure_is_retried_on_schedule_with_the_same_key() -> None:
    runtime = runtime_with(*members(), MATCHED)
    email = ScriptedChannel(DeliveryResult.transient("http 500"))
    clock = ManualClock()
    worker = worker_for({"email": email, "webhook": ScriptedChannel()}, clock=clock)
    await deliver_all(worker, runtime)

    (retry,) = runtime.of_type(RETRYING)
    notification_id = f"{MATCHED.id}/m-1/email"
    wait = retry_delays(RETRY, notification_id)[0]
    assert (retry.notification_id, retry.attempts, retry.reason) == (notification_id, 1, "http 500")
    assert retry.not_before == START + timedelta(seconds=wait)

    clock.advance(wait / 2)
    assert await deliver_all(worker, runtime) == 0  # not yet
    clock.advance(wait)
    assert await deliver_all(worker, runtime) == 1

    first, second = email.attempts
    assert first.key == second.key
    (sent,) = (s for s in runtime.of_type(SENT) if s.channel == "email")
    assert sent.attempts == 2
    assert runtime.dead_letters == []
    assert runtime.processor.book.retries == {}


async def test_a_schedule_of_retries_survives_a_restart() -> None:
    history = [*members(), MATCHED]
    runtime = runtime_with(*history)
    email = ScriptedChannel(DeliveryResult.transient("smtp 451"))
    clock = ManualClock()
    await deliver_all(
        worker_for({"email": email, "webhook": ScriptedChannel()}, clock=clock), runtime
    )

    restarted = runtime_with(*history, *runtime.published)  # a new instance rebuilds from the log
    fresh_email = ScriptedChannel()
    worker = worker_for({"email": fresh_email, "webhook": ScriptedChannel()}, clock=clock)
    assert await deliver_all(worker, restarted) == 0  # the retry is not due yet
    clock.advance(RETRY.schedule[0] * 2)
    assert await deliver_all(worker, restarted) == 1
    (sent,) = restarted.of_type(SENT)
    assert (sent.channel, sent.attempts) == ("email", 2)


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
    clock = ManualClock()
    worker = worker_for({"email": email, "webhook": ScriptedChannel()}, clock=clock)
    await deliver_with_retries(worker, runtime, clock)

    assert len(email.attempts) == RETRY.max_attempts
    assert len(runtime.of_type(RETRYING)) == RETRY.max_attempts - 1
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
    clock = ManualClock()
    worker = worker_for({"email": email, "webhook": ScriptedChannel()}, clock=clock)
    await deliver_with_retries(worker, runtime, clock)
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


async def test_a_rebuild_read_before_an_outcome_landed_does_not_send_again_after_scans() -> None:
    """The worker looks at the book many times after the outcome was folded in (the book shows
    it done), and only then does a rebuild read before the outcome replace the book."""
    history = [*members(), MATCHED]
    runtime = runtime_with(*history)
    email, webhook = ScriptedChannel(), ScriptedChannel()
    worker = worker_for({"email": email, "webhook": webhook})
    await deliver_all(worker, runtime)
    assert all(
        f"{MATCHED.id}/{member}" in runtime.processor.book.done
        for member in ("m-1/email", "m-2/webhook")
    )
    for _ in range(3):
        assert await deliver_all(worker, runtime) == 0

    rebuilt = runtime_with(*history)
    assert await deliver_all(worker, rebuilt) == 0
    assert len(email.attempts) == len(webhook.attempts) == 1


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


async def test_a_cancel_that_comes_with_a_wake_still_stops_the_loop() -> None:
    """A batch handled (a wake) as the runtime stops the worker (a cancel), in one step of the
    event loop: the loop must end, or the service's stop waits for it for ever."""
    runtime = runtime_with(*members())
    worker = DeliveryWorker({}, RETRY, poll_interval=3600)
    loop = asyncio.create_task(worker.run(runtime))
    await _until(lambda: worker.scans == 1)
    worker.wake()
    loop.cancel()
    done, _ = await asyncio.wait([loop], timeout=10)
    assert loop in done, "the worker went on after it was cancelled"
    assert loop.cancelled()


async def test_events_folded_in_wake_the_loop_rather_than_waiting_for_its_poll() -> None:
    runtime = runtime_with(*members())
    email, webhook = ScriptedChannel(), ScriptedChannel()
    worker = DeliveryWorker({"email": email, "webhook": webhook}, RETRY, poll_interval=3600)
    loop = asyncio.create_task(worker.run(runtime))
    try:
        await _until(lambda: worker.scans == 1)
        runtime.feed(MATCHED)  # a batch handled: the runtime says so, nobody calls wake()
        await asyncio.wait_for(_until(lambda: len(runtime.of_type(SENT)) == 2), 30)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    assert worker.scans == 2  # the first scan, and the one the batch woke: no poll came between


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


def tick(now: datetime) -> CloudEvent[Any]:
    return event(ClockTicked(now=now, sequence=1), time=now)


async def test_a_redelivery_of_a_notice_no_longer_useful_fails_at_once_saying_why() -> None:
    runtime = runtime_with(*members(), MATCHED)
    email = ScriptedChannel(DeliveryResult.permanent("mailbox full"))
    worker = worker_for({"email": email, "webhook": ScriptedChannel()})
    await deliver_all(worker, runtime)
    week_later = MATCHED.time + timedelta(days=8)
    runtime.feed(tick(week_later), event(NotificationRedeliveryRequested(), time=week_later))

    assert await deliver_all(worker, runtime) == 1
    assert len(email.attempts) == 1  # no attempt for a coffee match of last week
    last = runtime.of_type(FAILED)[-1]
    assert (last.reason, last.permanent, last.attempts) == ("expired: no longer useful", True, 0)


async def test_retries_stop_when_the_notice_expires() -> None:
    runtime = runtime_with(*members(), MATCHED)
    email = ScriptedChannel(DeliveryResult.transient("smtp 451"))
    clock = ManualClock()
    worker = worker_for({"email": email, "webhook": ScriptedChannel()}, clock=clock)
    await deliver_all(worker, runtime)
    week_later = MATCHED.time + timedelta(days=8)
    runtime.feed(tick(week_later))
    await deliver_with_retries(worker, runtime, clock)
    assert len(email.attempts) == 1
    (failed,) = (f for f in runtime.of_type(FAILED) if f.channel == "email")
    assert failed.reason == "expired: no longer useful"


async def test_outcomes_carry_the_domain_time_the_notice_became_due_however_late_sent() -> None:
    night = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)  # 03:00 in Amsterdam: m-1 is asleep
    morning = datetime(2025, 3, 4, 8, 5, tzinfo=UTC)
    matched = event(sample_payload(CoffeeMatched), time=night)
    runtime = runtime_with(*members(), tick(night), matched, tick(morning))
    runtime.feed(tick(morning + timedelta(days=2)))  # the worker gets to it late
    worker = worker_for({"email": ScriptedChannel(), "webhook": ScriptedChannel()})
    await deliver_all(worker, runtime)
    sent = [output for output in runtime.published if output.type == SENT]
    working_day_starts = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam
    assert [(output.subject, output.time) for output in sent if output.subject == "m-1"] == [
        ("m-1", working_day_starts)
    ]


async def test_an_outcome_sent_late_is_recorded_at_the_organisations_time_when_sent() -> None:
    """Its ``time`` stays when it was due; ``recordedtime`` says when it entered the history,
    where a rebuild places it (after the ticks the live notifier had seen)."""
    runtime = runtime_with(*members(), MATCHED)
    two_days_later = MATCHED.time + timedelta(days=2)
    runtime.feed(tick(two_days_later))  # the worker gets to it late
    worker = worker_for({"email": ScriptedChannel(), "webhook": ScriptedChannel()})
    await deliver_all(worker, runtime)
    sent = [output for output in runtime.published if output.type == SENT]
    assert sent
    for output in sent:
        assert output.time < two_days_later
        assert output.recordedtime == output.replay_time == two_days_later


async def test_an_outcome_sent_on_time_carries_no_recorded_time() -> None:
    runtime = runtime_with(*members(), MATCHED)
    worker = worker_for({"email": ScriptedChannel(), "webhook": ScriptedChannel()})
    await deliver_all(worker, runtime)
    sent = [output for output in runtime.published if output.type == SENT]
    assert sent
    assert all(output.recordedtime is None for output in sent)


async def test_an_open_breaker_spends_no_attempts_then_lets_one_probe_through() -> None:
    runtime = runtime_with(*members(), MATCHED)
    down = ScriptedChannel(*[DeliveryResult.transient("smtp unreachable")] * 10)
    clock = ManualClock()
    breakers = ChannelBreakers(failures_to_open=1, first_cool_down=timedelta(minutes=10))
    worker = worker_for(
        {"email": down, "webhook": ScriptedChannel()}, clock=clock, breakers=breakers
    )
    await deliver_all(worker, runtime)  # fails once: the email channel opens
    assert breakers.open_channels(clock()) == ["email"]

    clock.advance(RETRY.schedule[0] * 2)  # the retry is due, the channel still resting
    assert await deliver_all(worker, runtime) == 0
    assert len(down.attempts) == 1
    clock.advance(600)  # rested: one probe
    assert await deliver_all(worker, runtime) == 1
    assert len(down.attempts) == 2


async def test_what_failed_is_delivered_again_on_request_once() -> None:
    runtime = runtime_with(*members(), MATCHED)
    email = ScriptedChannel(DeliveryResult.permanent("mailbox full"))
    worker = worker_for({"email": email, "webhook": ScriptedChannel()})
    await deliver_all(worker, runtime)
    assert len(runtime.of_type(FAILED)) == 1

    request = event(NotificationRedeliveryRequested(channel="email"))
    runtime.feed(request)
    assert await deliver_all(worker, runtime) == 1
    runtime.feed(request)  # the same request again: nothing more
    assert await deliver_all(worker, runtime) == 0
    (sent,) = (s for s in runtime.of_type(SENT) if s.channel == "email")
    assert sent.notification_id == f"{MATCHED.id}/m-1/email"
    assert len(email.attempts) == 2


async def test_a_reminder_its_recipient_could_not_get_in_working_hours_says_so() -> None:
    occurrence = datetime(2025, 3, 7, 15, 30, tzinfo=UTC)  # Friday drinks: 21:00 in Kolkata
    scheduled = event(sample_payload(RitualScheduled), time=START - timedelta(days=7))
    kolkata = joined(
        "m-9", team="Platform", timezone="Asia/Kolkata", notification_channels=("webhook",)
    )
    runtime = runtime_with(
        kolkata, scheduled, tick(occurrence - timedelta(hours=1)), tick(occurrence)
    )
    webhook = ScriptedChannel()
    await deliver_all(worker_for({"webhook": webhook}), runtime)

    reminders = [
        o for o in webhook.attempts if o.delivery.notice.template is Template.RITUAL_REMINDER
    ]
    assert reminders == []  # only the series' calendar invitation went out
    (failed,) = runtime.of_type(FAILED)
    assert (failed.recipient_id, failed.reason, failed.attempts) == (
        "m-9",
        "outside working hours until the occurrence started",
        0,
    )
    assert runtime.dead_letters == []  # not a delivery failure
    assert runtime.processor.book.lapsed == {}
    assert await deliver_all(worker_for({"webhook": webhook}), runtime) == 0
