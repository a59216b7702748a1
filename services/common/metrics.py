"""Prometheus metrics of a service: what it consumed, refused, published, and its state's size."""

from __future__ import annotations

import contextlib
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
        self.rebuilds_sorted = Counter(
            "rituals_rebuilds_sorted",
            "Rebuilds that found the history out of the order a streaming merge can follow, and "
            "read it again to sort it.",
            ["service"],
            registry=self.registry,
        )
        self.rebuild_failures = Counter(
            "rituals_rebuild_failures",
            "State rebuilds that failed and were retried (the instance stays not ready).",
            ["service"],
            registry=self.registry,
        )
        self.batch_failures = Counter(
            "rituals_batch_failures",
            "Batches that failed in a way nothing foresaw: the assignment was rebuilt from the "
            "last commit (a bug to report; the partitions went on).",
            ["service"],
            registry=self.registry,
        )
        self.worker_failures = Counter(
            "rituals_worker_failures",
            "Workers (the notifier's delivery loop) that failed and were started again.",
            ["service"],
            registry=self.registry,
        )
        for failures in (self.batch_failures, self.worker_failures):
            failures.labels(service)  # shown at 0 from the start: a panel can add them up
        self.lag = Gauge(
            "rituals_consumer_lag",
            "Records on the broker not yet handled, per owned partition (the high watermark of "
            "the latest fetch minus the position; the embedded broker's end offsets are wrong).",
            ["service", "topic", "partition"],
            registry=self.registry,
        )
        self.rebuild_seconds = Gauge(
            "rituals_rebuild_seconds",
            "How long the latest rebuild of state took, from assignment to ready.",
            ["service"],
            registry=self.registry,
        )
        self.rebuild_records_held = Gauge(
            "rituals_rebuild_records_held",
            "The most records the latest rebuild held at once beyond its state (a window per "
            "partition; the whole history read when it had to sort).",
            ["service"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "rituals_ready",
            "1 when the instance's state is rebuilt for every partition it owns, else 0.",
            ["service"],
            registry=self.registry,
        )
        self.snapshot_seconds = Gauge(
            "rituals_snapshot_seconds",
            "How long writing the latest snapshot of a partition's state took.",
            ["service"],
            registry=self.registry,
        )
        self.snapshot_bytes = Gauge(
            "rituals_snapshot_bytes",
            "Size of the latest snapshot written (compressed state).",
            ["service"],
            registry=self.registry,
        )
        self.snapshots = Counter(
            "rituals_snapshots",
            "Snapshots of state, by what happened to them: written, restored, ignored (unusable: "
            "the partition was rebuilt from the whole log), failed (could not be written).",
            ["service", "outcome"],
            registry=self.registry,
        )
        self.state = Gauge(
            "rituals_state",
            "Sizes of the service's state (e.g. members by status).",
            ["service", "measure"],
            registry=self.registry,
        )

    def show_lag(self, topic: str, partition: int, records: int) -> None:
        self.lag.labels(self.service, topic, str(partition)).set(max(0, records))

    def forget_partition(self, topic: str, partition: int) -> None:
        """A partition that moved away is no longer this instance's lag to report."""
        with contextlib.suppress(KeyError):  # never reported
            self.lag.remove(self.service, topic, str(partition))

    def show_state(self, measures: Mapping[str, float]) -> None:
        for measure, value in measures.items():
            self.state.labels(self.service, measure).set(value)

    def serve(self, port: int) -> None:
        start_http_server(port, registry=self.registry)
