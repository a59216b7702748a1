"""Member changes from the gateway: published the way the command line publishes them
(``member_changes.member_events`` through an ``EventPublisher``), then waited for until the
gateway's own projection has applied them, so that the client's next read sees its write."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import structlog

from schemas import CloudEvent, EventPayload, new_event
from services.common.adapters.publisher import EventPublisher
from services.common.member_changes import member_events
from services.common.runtime import ServiceRuntime

SOURCE = "/rituals/gateway"
APPLIED_POLL_SECONDS = 0.01
SENT_ANSWERS_KEPT = 100_000
"""The answers an instance remembers sending (a few MB), far more than can be in flight."""
log = structlog.get_logger("rituals.gateway")


class MemberWrites:
    """One write at a time (a change is computed against the projection, so two at once could
    both see a member as new); each is visible to reads when it returns, or after the bound."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        new_publisher: Callable[[], EventPublisher],
        visible_within_seconds: float,
    ) -> None:
        self.runtime = runtime
        self._new_publisher = new_publisher
        self._publisher: EventPublisher | None = None
        self.visible_within_seconds = visible_within_seconds
        self.lock = asyncio.Lock()
        self._opening = threading.Lock()
        self._answering: dict[uuid.UUID, asyncio.Lock] = {}
        self._sent_answers: OrderedDict[uuid.UUID, None] = OrderedDict()

    async def publish(
        self, organisation: str, payloads: Sequence[EventPayload], at: datetime
    ) -> bool:
        """Publish member changes dated ``at``; True when the projection shows them all (False
        when the bound passed first: they are published, reads will show them a little later)."""
        if not payloads:
            return True
        events = member_events(payloads, organisation, at, SOURCE)
        await asyncio.to_thread(self._send, events)
        for event in events:
            log.info("member change published", event_id=str(event.id), event_type=event.type)
        return await self._applied(events)

    async def publish_once(
        self,
        organisation: str,
        payload: EventPayload,
        event_id: uuid.UUID,
        member_id: str,
        at: datetime,
    ) -> bool:
        """Publish one answer under a deterministic id, dated ``at``; False when it was
        answered before (the projection has it, or this instance sent it): nothing is published
        again. Answers are independent of each other (none is computed against the projection),
        so only the same answer waits for itself, a second click of the same link while the
        first is published; and none waits for the projection (the page shows no state)."""
        answer = new_event(
            payload,
            source=SOURCE,
            orgid=organisation,
            time=at,
            subject=member_id,
            event_id=event_id,
        )
        same_answer = self._answering.setdefault(event_id, asyncio.Lock())
        try:
            async with same_answer:
                if event_id in self._sent_answers or self.runtime.ledgers.has_applied(answer):
                    return False
                await asyncio.to_thread(self._send, [answer])
                self._remember_sent(event_id)
                log.info("answer published", event_id=str(answer.id), event_type=answer.type)
                return True
        finally:
            if not same_answer.locked() and self._answering.get(event_id) is same_answer:
                del self._answering[event_id]

    def _remember_sent(self, event_id: uuid.UUID) -> None:
        """Until the projection has it (a moment), the instance knows an answer by this."""
        self._sent_answers[event_id] = None
        if len(self._sent_answers) > SENT_ANSWERS_KEPT:
            self._sent_answers.popitem(last=False)

    def _send(self, events: list[CloudEvent[Any]]) -> None:
        with self._opening:  # answers are sent from several threads at once
            if self._publisher is None:
                self._publisher = self._new_publisher()
        self._publisher.publish(events)

    async def _applied(self, events: Sequence[CloudEvent[Any]]) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.visible_within_seconds
        while not all(self.runtime.ledgers.has_applied(event) for event in events):
            self.runtime.hurry()  # the client waits: the next poll brings its change
            if loop.time() >= deadline:
                log.warning("member change not yet visible", events=len(events))
                return False
            await asyncio.sleep(APPLIED_POLL_SECONDS)
        return True

    def close(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.close()
