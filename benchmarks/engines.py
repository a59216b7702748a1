"""The brokers the broker benchmarks run on, and the table that puts their figures side by side.

Each broker benchmark (throughput through the runtime, latency with the services running, restart
and rebuild) measures the platform and a raw aiokafka baseline on the same broker; ``make bench``
runs them on the embedded broker (Tansu) and on Apache Kafka in one go, then prints one table per
benchmark: engine, platform figure, raw baseline figure, and their ratio.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra.apache_kafka import KAFKA_VERSION, ApacheKafka, KafkaUnavailableError
from infra.broker import EmbeddedBroker, LocalBroker
from infra.kafka import KafkaSettings

EMBEDDED = "embedded"
DURABLE = "durable"
KAFKA = "kafka"
BOTH = "both"
ALL = "all"
LABELS = {
    EMBEDDED: "embedded (Tansu)",
    DURABLE: "embedded, durable (S3 store)",
    KAFKA: f"Apache Kafka {KAFKA_VERSION}",
}


@dataclass(frozen=True)
class Engine:
    """A broker to measure on, and how much of the full workload it gets."""

    name: str
    label: str
    scale: float = 1.0
    """The share of each benchmark's events it gets: below 1 for a second engine, to keep the
    whole run short (each benchmark says so in its output)."""
    servers: str = ""
    """Set once the broker runs: its bootstrap servers."""

    def kafka(self) -> KafkaSettings:
        """Client settings for its broker. The embedded broker grants no producer id: its
        clients are told so (unless RITUALS_KAFKA_IDEMPOTENCE says otherwise), as the demo's are,
        so they do not ask and it logs no error line at every start."""
        if self.name in (EMBEDDED, DURABLE) and "RITUALS_KAFKA_IDEMPOTENCE" not in os.environ:
            return KafkaSettings(bootstrap_servers=self.servers, idempotence="off")
        return KafkaSettings(bootstrap_servers=self.servers)

    def scaled(self, count: int) -> int:
        return max(1, round(count * self.scale))

    @property
    def reduced(self) -> str:
        """A note for output headers, empty at full scale."""
        return "" if self.scale == 1 else f" [reduced to {self.scale:.0%} of the events]"


def engine_names(choice: str) -> list[str]:
    return {BOTH: [EMBEDDED, KAFKA], ALL: [EMBEDDED, DURABLE, KAFKA]}.get(choice, [choice])


def comma_numbers(text: str) -> tuple[int, ...]:
    """A command-line list of numbers: ``200`` or ``10000,1000000``."""
    return tuple(int(number) for number in text.split(","))


def add_engine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=(EMBEDDED, DURABLE, KAFKA, BOTH, ALL),
        default=BOTH,
        help="Broker(s) for the broker benchmarks (default: both, the embedded one in memory "
        "first; durable: the embedded one keeping its log on disk, as `rituals up` does; all).",
    )
    parser.add_argument(
        "--second-engine-scale",
        type=float,
        default=1.0,
        help="Share of the events the second engine gets (1: the same workload).",
    )


def kafka_missing() -> str | None:
    """Why Apache Kafka cannot run here, or None."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (Apache Kafka needs Java 17+ and Maven)"
    return None


def plan(choice: str, second_engine_scale: float = 1.0) -> list[Engine]:
    """The engines to run on, in order; a cluster named by KAFKA_BOOTSTRAP_SERVERS replaces them
    (benchmarks of a real cluster); Apache Kafka is dropped, saying why, when it cannot run."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        print(f"(KAFKA_BOOTSTRAP_SERVERS is set: the broker benchmarks run on {configured} only)")
        return [Engine("configured", configured, servers=configured)]
    engines: list[Engine] = []
    for name in engine_names(choice):
        if name == KAFKA and (why := kafka_missing()):
            print(f"(skipped Apache Kafka: {why}; the embedded broker is measured alone)")
            if not engines and choice == KAFKA:
                engines.append(Engine(EMBEDDED, LABELS[EMBEDDED]))
            continue
        scale = second_engine_scale if engines else 1.0
        engines.append(Engine(name, LABELS[name], scale=scale))
    return engines


@contextmanager
def running(engine: Engine) -> Iterator[Engine | None]:
    """The engine with its broker started (stopped on exit), or None when it fails to start
    (said why: Apache Kafka may still fail here, e.g. without network for its jars)."""
    if engine.servers:
        yield engine
        return
    with (
        tempfile.TemporaryDirectory(prefix="rituals-bench-") as data_dir,
        _broker_of(engine, Path(data_dir)) as started,
    ):
        yield started


@contextmanager
def _broker_of(engine: Engine, data_dir: Path) -> Iterator[Engine | None]:
    broker: LocalBroker
    if engine.name == KAFKA:
        broker = ApacheKafka()
    else:
        broker = EmbeddedBroker(data_dir=data_dir if engine.name == DURABLE else None)
    try:
        with _quiet("kafka"):  # refused connections are how the start waits for readiness
            broker.start()
    except (KafkaUnavailableError, RuntimeError, TimeoutError) as error:
        print(f"(skipped {engine.label}: it did not start: {error})")
        yield None
        return
    try:
        yield Engine(engine.name, engine.label, engine.scale, broker.bootstrap_servers)
    finally:
        broker.stop()


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


@dataclass(frozen=True)
class Comparison:
    """One figure of the platform beside the raw aiokafka baseline's on the same broker."""

    benchmark: str
    engine: str
    case: str
    """What the row is about within the benchmark (a rate, a size), or empty."""
    unit: str
    platform: float
    baseline: float
    note: str = ""

    @property
    def ratio(self) -> float:
        """Platform / baseline: above 1 is more events/s, or more ms and s, than the baseline."""
        return self.platform / self.baseline if self.baseline else float("nan")


def tables(comparisons: Sequence[Comparison]) -> str:
    """One table per benchmark, in the order the benchmarks first appear."""
    blocks = []
    for benchmark in dict.fromkeys(c.benchmark for c in comparisons):
        rows = [c for c in comparisons if c.benchmark == benchmark]
        cells = [
            [c.engine, c.case, c.unit, _figure(c.platform), _figure(c.baseline), f"{c.ratio:.2f}"]
            + ([c.note] if c.note else [])
            for c in rows
        ]
        heads = ["engine", "case", "unit", "platform", "raw aiokafka", "platform/raw"]
        widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(heads)]
        lines = [f"-- {benchmark} --", _row(heads, widths)]
        lines += [_row(r, widths) for r in cells]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    left = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1]), cells[2].ljust(widths[2])]
    right = [cell.rjust(width) for cell, width in zip(cells[3:6], widths[3:], strict=True)]
    return "  " + "  ".join(left + right + list(cells[6:]))


def _figure(value: float) -> str:
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def run_alone(compare: Callable[[Engine], list[Comparison]], argv: Sequence[str] | None) -> None:
    """One benchmark on its own (``python -m benchmarks.<name> [--engine ...]``)."""
    parser = argparse.ArgumentParser()
    add_engine_option(parser)
    options = parser.parse_args(argv)
    comparisons: list[Comparison] = []
    for engine in plan(options.engine, options.second_engine_scale):
        with running(engine) as started:
            if started is not None:
                comparisons += compare(started)
    print()
    print(tables(comparisons))
