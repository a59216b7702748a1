"""Prometheus metrics of a service: what it consumed, refused, published, and its state's size."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.service = service
        self.consumed = Counter(
            "rituals_events_consumed",
            "Events applied to the service's state.",
            ["service", "type"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "rituals_events_duplicate",
            "Redelivered events skipped by deduplication.",
            ["service"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "rituals_events_dead_lettered",
            "Records sent to a dead-letter topic.",
            ["service", "reason"],
            registry=self.registry,
        )
        self.published = Counter(
            "rituals_events_published",
            "Events the service published.",
            ["service", "type"],
            registry=self.registry,
        )
        self.replayed = Counter(
            "rituals_events_replayed",
            "Events read back from the log to rebuild state.",
            ["service"],
            registry=self.registry,
        )
        self.dead_letters_lost = Counter(
            "rituals_dead_letters_lost",
            "Refused records whose dead letter could not be written: skipped, coordinates logged.",
            ["service"],
            registry=self.registry,
        )
        self.rebuild_failures = Counter(
            "rituals_rebuild_failures",
            "State rebuilds that failed and were retried (the instance stays not ready).",
            ["service"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "rituals_ready",
            "1 when the instance's state is rebuilt for every partition it owns, else 0.",
            ["service"],
            registry=self.registry,
        )
        self.state = Gauge(
            "rituals_state",
            "Sizes of the service's state (e.g. members by status).",
            ["service", "measure"],
            registry=self.registry,
        )

    def show_state(self, measures: Mapping[str, float]) -> None:
        for measure, value in measures.items():
            self.state.labels(self.service, measure).set(value)

    def serve(self, port: int) -> None:
        start_http_server(port, registry=self.registry)
