"""Trace context without a tracer installed: nothing is recorded, and what an event causes still
carries the trace it came with."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace

from schemas.onboarding import BuddyUnavailable
from services.common import tracing
from services.common.processing import Emit, Ledger
from services.matcher.domain.policy import CoffeePolicy
from services.matcher.handlers import MatcherProcessor
from services.matcher.settings import Policies
from tests.factories import member_joined_event

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def no_tracing_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process as it runs without OTLP settings (a test elsewhere may install a tracer)."""
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)


def _never(*_: Any, **__: Any) -> Any:
    raise AssertionError("a span was started with no tracing installed")


def test_without_tracing_no_span_is_started(
    no_tracing_installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing._tracer, "start_as_current_span", _never)
    cause = member_joined_event().model_copy(update={"traceparent": TRACEPARENT})

    with tracing.continuing(cause, "deliver") as span:
        span.set_attribute("rituals.channel", "email")  # accepted, recorded nowhere
        assert not span.is_recording()


@pytest.mark.parametrize("traceparent", [TRACEPARENT, None])
def test_without_tracing_what_an_event_causes_carries_its_trace(
    no_tracing_installed: None, traceparent: str | None
) -> None:
    cause = member_joined_event().model_copy(update={"traceparent": traceparent})
    ledger = Ledger(MatcherProcessor(Policies(CoffeePolicy())), "/rituals/tests")

    with tracing.continuing(cause, "handle"):
        [output] = ledger.outputs(cause, [Emit(BuddyUnavailable(new_hire_id="m-1", reason="x"))])

    assert output.traceparent == traceparent
