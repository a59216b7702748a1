"""``make bench``: every benchmark, each printing its figures beside its baseline.

The benchmarks without a broker (matcher, onboarding, notifier) run once. The broker benchmarks
(throughput through the runtime, restart and rebuild, latency with the services running) run on
each engine in turn, the embedded broker and Apache Kafka by default (``--engine``), each engine
started once for all of them; the platform and its raw aiokafka baseline always share a broker.
One table per broker benchmark then puts the engines side by side.

Run: ``python -m benchmarks [--engine embedded|kafka|both] [--second-engine-scale F] [NAME ...]``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence

from benchmarks.engines import Comparison, add_engine_option, plan, running, tables
from services.common.logging import configure_logging

WITHOUT_BROKER = ("matcher", "onboarding", "notifier")
ON_BROKERS = ("runtime", "rebuild", "restart", "latency")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    add_engine_option(parser)
    known = (*WITHOUT_BROKER, *ON_BROKERS)
    # Checked here: argparse refuses an empty list for a positional with choices.
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"Only these: {', '.join(known)}.")
    options = parser.parse_args(argv)
    if unknown := [name for name in options.names if name not in known]:
        parser.error(f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(known)})")
    return options


def main(argv: Sequence[str] | None = None) -> None:
    options = parse(argv)
    names = options.names or [*WITHOUT_BROKER, *ON_BROKERS]
    started = time.perf_counter()
    del sys.argv[1:]  # the benchmarks without a broker parse their own options: their defaults
    for name in (n for n in WITHOUT_BROKER if n in names):
        importlib.import_module(f"benchmarks.{name}").main()
        print()
    on_brokers = [n for n in ON_BROKERS if n in names]
    if on_brokers:
        comparisons = run_on_brokers(on_brokers, options.engine, options.second_engine_scale)
        print("== the broker benchmarks side by side: platform and raw aiokafka, per engine ==")
        print(tables(comparisons))
    print(f"\n(all of it in {(time.perf_counter() - started) / 60:.1f} min)")


def run_on_brokers(names: Sequence[str], engine: str, second_scale: float) -> list[Comparison]:
    configure_logging("bench", level="WARNING")
    comparisons: list[Comparison] = []
    for planned in plan(engine, second_scale):
        with running(planned) as started:
            if started is None:
                continue
            for name in names:
                comparisons += importlib.import_module(f"benchmarks.{name}").compare(started)
                print()
    return comparisons


if __name__ == "__main__":
    main()
