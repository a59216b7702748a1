"""OpenTelemetry traces that follow one flow across services.

Events carry the CloudEvents distributed tracing extension (``traceparent``, W3C Trace Context).
Each service continues the trace of the event it handles (a span per handled event, a span per
delivery) and stamps the current span's ``traceparent`` on every event it emits, so a member's
join, the buddy assignment it caused and the notification sent about it are one trace.

Export is off unless configured the OpenTelemetry way: ``OTEL_TRACES_EXPORTER=otlp`` or an
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (OTLP over HTTP), with
``OTEL_SERVICE_NAME`` defaulting to ``rituals-<service>``. Without it the spans are not recorded,
and events still pass on the trace context they came with.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from schemas.envelope import CloudEventAttributes

_PROPAGATOR = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("rituals")


def configure_tracing(service: str) -> bool:
    """Install an OTLP exporter when the environment asks for one; whether it did."""
    wanted = os.environ.get("OTEL_TRACES_EXPORTER", "").lower() == "otlp" or any(
        os.environ.get(name)
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    if not wanted:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME", f"rituals-{service}")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


@contextmanager
def continuing(event: CloudEventAttributes, operation: str) -> Iterator[Span]:
    """A span for handling ``event`` (``operation``: handle, deliver), child of the span that
    emitted it; events emitted inside carry this span's context."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        # No tracing installed: the span would record nothing and carry the event's own
        # context, which what is emitted inside carries anyway (``current_traceparent``'s
        # fallback). Skipping it saves its cost on every event handled and delivery made.
        yield trace.INVALID_SPAN
        return
    carrier = {"traceparent": event.traceparent} if event.traceparent else {}
    parent = _PROPAGATOR.extract(carrier)
    attributes: dict[str, Any] = {
        "cloudevents.event_id": str(event.id),
        "cloudevents.event_type": event.type,
        "cloudevents.event_source": event.source,
        "rituals.org_id": event.orgid,
    }
    with _tracer.start_as_current_span(
        f"{operation} {event.type}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


def current_traceparent(fallback: str | None = None) -> str | None:
    """The ``traceparent`` of the current span, for an event emitted now (else ``fallback``)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent", fallback)
