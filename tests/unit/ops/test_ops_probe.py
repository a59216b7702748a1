"""The readiness probe against a real metrics page, served as a service serves it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from prometheus_client import start_http_server

from infra.probe import main, readiness
from services.common.metrics import ServiceMetrics


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served() -> Iterator[tuple[ServiceMetrics, int]]:
    metrics = ServiceMetrics("matcher")
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    yield metrics, port
    server.shutdown()
    thread.join(timeout=5)


def test_ready_only_once_the_gauge_says_so(
    served: tuple[ServiceMetrics, int], capsys: pytest.CaptureFixture[str]
) -> None:
    metrics, port = served
    assert main(["--port", str(port)]) == 1
    assert "rituals_ready has no sample yet" in capsys.readouterr().err
    metrics.ready.labels("matcher").set(0)
    assert main(["--port", str(port)]) == 1
    assert "rituals_ready is 0 for matcher" in capsys.readouterr().err
    metrics.ready.labels("matcher").set(1)
    assert main(["--port", str(port)]) == 0


def test_the_port_comes_from_the_service_setting(
    served: tuple[ServiceMetrics, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics, port = served
    metrics.ready.labels("matcher").set(1)
    monkeypatch.setenv("RITUALS_METRICS_PORT", str(port))
    assert main([]) == 0


def test_no_port_is_a_mistake_and_no_answer_is_not_ready(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RITUALS_METRICS_PORT", raising=False)
    assert main([]) == 2
    assert main(["--port", str(free_port()), "--timeout", "1"]) == 1
    assert "not ready: http://127.0.0.1:" in capsys.readouterr().err


def test_a_page_without_the_gauge_is_not_ready() -> None:
    assert readiness("# nothing here\n") == (False, "no rituals_ready gauge on the metrics page")
