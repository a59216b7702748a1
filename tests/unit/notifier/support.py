"""In-memory stand-ins for the notifier's unit tests: a runtime without a broker and a channel
whose answers are scripted."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from schemas import CloudEvent, RejectionReason
from schemas.base import Channel
from schemas.coffee import CoffeeMatched
from schemas.envelope import CloudEventAttributes
from services.common.processing import Emit, Ledger, Ledgers
from services.notifier.adapters.base import DeliveryResult, Outgoing
from services.notifier.domain.notices import Delivery
from services.notifier.domain.policy import OrganisationPolicy, PolicyLookup
from services.notifier.domain.rendering import render
from services.notifier.handlers import NotifierProcessor
from tests.factories import event, member_joined_event, sample_payload

SOURCE = "/rituals/notifier"


class MemoryRuntime:
    """What the worker needs of a runtime: a ledger, publish and dead letters, in memory."""

    def __init__(self, processor: NotifierProcessor | None = None) -> None:
        self.ledger = Ledger(processor or NotifierProcessor(), SOURCE)
        self.ledgers = Ledgers.single(self.ledger)
        self.published: list[CloudEvent[Any]] = []
        self.dead_letters: list[tuple[CloudEvent[Any], RejectionReason, str]] = []
        self.journal: list[str] = []
        """Event types published and dead letters, in order."""
        self.ready = True
        self.handover: list[Callable[[], Awaitable[None]]] = []
        self.batch_listeners: list[Callable[[], None]] = []
        self.publish_failures = 0
        """Publishing fails this many times before it works (a broker hiccup)."""

    def on_handover(self, action: Callable[[], Awaitable[None]]) -> None:
        self.handover.append(action)

    def after_batch(self, action: Callable[[], None]) -> None:
        self.batch_listeners.append(action)

    @property
    def processor(self) -> NotifierProcessor:
        processor = self.ledger.processor
        assert isinstance(processor, NotifierProcessor)
        return processor

    def feed(self, *events: CloudEvent[Any]) -> None:
        """Handle the events as one batch."""
        for item in events:
            self.ledger.handle(item)
        for action in self.batch_listeners:
            action()

    async def publish(
        self, cause: CloudEventAttributes, emits: Sequence[Emit]
    ) -> list[CloudEvent[Any]]:
        if self.publish_failures:
            self.publish_failures -= 1
            raise ConnectionError("broker unavailable")
        outputs = self.ledger.outputs(cause, emits)
        self.published.extend(outputs)
        self.journal.extend(output.type for output in outputs)
        self.ledger.record_published(outputs)
        return outputs

    async def dead_letter_event(
        self, event: CloudEvent[Any], reason: RejectionReason, detail: str
    ) -> None:
        self.dead_letters.append((event, reason, detail))
        self.journal.append("dead_letter")

    def of_type(self, event_type: str) -> list[Any]:
        return [output.data for output in self.published if output.type == event_type]


class ScriptedChannel:
    """Answers from a script (then "delivered"); records every attempt. With ``gate`` set, each
    attempt waits for it (a receiver that hangs)."""

    def __init__(self, *answers: DeliveryResult, gate: asyncio.Event | None = None) -> None:
        self.answers = deque(answers)
        self.attempts: list[Outgoing] = []
        self.gate = gate
        self.closed = False

    async def send(self, outgoing: Outgoing) -> DeliveryResult:
        self.attempts.append(outgoing)
        if self.gate is not None:
            await self.gate.wait()
        return self.answers.popleft() if self.answers else DeliveryResult.delivered()

    async def close(self) -> None:
        self.closed = True


class RecordedSleeps:
    """A stand-in for ``asyncio.sleep`` that records the delays and yields at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def policy_with(*channels: Channel, default: Channel = "console") -> PolicyLookup:
    available: frozenset[Channel] = frozenset({"email", "console", *channels})
    return lambda _org: OrganisationPolicy(default_channel=default, available_channels=available)


def joined(member_id: str, time: datetime | None = None, **overrides: Any) -> CloudEvent[Any]:
    if time is None:
        return member_joined_event(member_id=member_id, **overrides)
    return member_joined_event(member_id=member_id, time=time, **overrides)


def coffee_deliveries(*channels: Channel, languages: tuple[str, ...] = ("en",)) -> list[Delivery]:
    """The deliveries of the sample coffee match: m-1 (Amsterdam, speaking ``languages``) through
    ``channels`` (console when none), m-2 (New York, working at 09:00 UTC) through the console."""
    processor = NotifierProcessor(policy_with("slack", "teams", "webhook"))
    processor.apply(
        joined("m-1", display_name="Ada", notification_channels=channels, languages=languages)
    )
    processor.apply(
        joined(
            "m-2",
            display_name="Grace",
            timezone="America/New_York",
            working_hours={"start": "03:00", "end": "17:00"},
        )
    )
    processor.apply(event(sample_payload(CoffeeMatched)))
    return list(processor.book.ready())


def outgoing(channel: Channel = "console", language: str = "en") -> Outgoing:
    delivery = coffee_deliveries(channel, languages=(language,))[0]
    return Outgoing(delivery, render(delivery))
