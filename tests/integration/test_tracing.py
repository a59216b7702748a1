"""One flow, one trace: a new hire's join, the buddy assignment it causes and the notification
sent about it share a W3C trace, carried by the events (CloudEvents distributed tracing
extension) and continued by each service's spans, here collected by the OpenTelemetry SDK's
in-memory exporter."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, decode_event
from schemas.notifications import NotificationSent
from schemas.onboarding import BuddyAssigned
from services.onboarding.app import DEFINITION as ONBOARDING
from tests.integration.support import running
from tests.integration.test_notifier import Notifier, notifier_running, publish
from tests.integration.test_onboarding import T0, joined
from tests.kafka_io import read_all

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """The process's tracer provider (set once), recording into memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    exporter.clear()


def events(kafka: KafkaSettings, topics: TopicSettings, topic: Topic) -> list[CloudEvent[Any]]:
    return [
        decode_event(r.value or b"") for r in read_all(kafka.bootstrap_servers, topics.name(topic))
    ]


def trace_id(traceparent: str | None) -> str:
    assert traceparent is not None
    return traceparent.split("-")[1]


async def test_join_buddy_assignment_and_notification_are_one_trace(
    kafka: KafkaSettings, topics: TopicSettings, spans: InMemorySpanExporter
) -> None:
    new_hire = joined("nina", new_hire=True, start_date=T0.date() + timedelta(days=7), team="Data")
    async with (
        running(ONBOARDING, kafka, topics),
        notifier_running(Notifier(None, None), kafka, topics),
    ):
        await publish(kafka, topics, joined("ada", team="Platform", buddy_volunteer=True))
        await publish(kafka, topics, new_hire)
        for _ in range(300):
            sent = [
                e
                for e in events(kafka, topics, Topic.NOTIFICATIONS)
                if isinstance(e.data, NotificationSent) and e.data.recipient_id == "nina"
            ]
            if sent:
                break
            await asyncio.sleep(0.1)

    (assigned,) = [
        e for e in events(kafka, topics, Topic.ONBOARDING) if isinstance(e.data, BuddyAssigned)
    ]
    assert sent, "nina was not told about her buddy"
    flow = trace_id(assigned.traceparent)
    assert trace_id(sent[0].traceparent) == flow

    in_flow = {
        span.name: span
        for span in spans.get_finished_spans()
        if f"{span.context.trace_id:032x}" == flow
    }
    decided = in_flow["handle rituals.member.joined"]
    told = in_flow["handle rituals.onboarding.buddy_assigned"]
    delivered = in_flow["deliver rituals.onboarding.buddy_assigned"]
    assert decided.parent is None  # the join came from outside: the trace starts here
    assert told.parent is not None
    assert told.parent.span_id == decided.context.span_id
    assert delivered.parent is not None
    assert delivered.parent.span_id == decided.context.span_id  # the assignment's context
    assert decided.attributes is not None
    assert decided.attributes["cloudevents.event_id"] == str(new_hire.id)
