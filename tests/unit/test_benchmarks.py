"""``make bench``'s choices: which engines, which benchmarks, and how the figures are read."""

from __future__ import annotations

import argparse
import shutil

import pytest

from benchmarks.__main__ import parse
from benchmarks.engines import EMBEDDED, KAFKA, Comparison, Engine, plan, tables
from benchmarks.kafka_ceiling import parse_consumer, parse_producer
from benchmarks.latency import _by_window, _complete, _processes


@pytest.fixture(autouse=True)
def no_configured_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)


@pytest.fixture
def java_and_maven(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")


@pytest.mark.usefixtures("java_and_maven")
def test_both_engines_by_default_the_embedded_one_first() -> None:
    options = parse([])
    assert (options.engine, options.names) == ("both", [])
    assert [e.name for e in plan(options.engine)] == [EMBEDDED, KAFKA]


def test_one_engine_and_some_benchmarks() -> None:
    options = parse(["--engine", "embedded", "rebuild", "latency"])
    assert [e.name for e in plan(options.engine)] == [EMBEDDED]
    assert options.names == ["rebuild", "latency"]


def test_an_unknown_benchmark_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["thruput"])
    assert "unknown benchmark thruput" in capsys.readouterr().err


@pytest.mark.usefixtures("java_and_maven")
def test_the_second_engine_alone_gets_the_reduced_share() -> None:
    embedded, kafka = plan("both", second_engine_scale=0.5)
    assert (embedded.scaled(50_000), kafka.scaled(50_000)) == (50_000, 25_000)
    assert embedded.reduced == ""
    assert "50%" in kafka.reduced


def test_without_java_the_embedded_broker_is_measured_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == "java" else "/bin/x")
    for choice in ("both", "kafka"):
        assert [e.name for e in plan(choice)] == [EMBEDDED]
    assert "skipped Apache Kafka: java not installed" in capsys.readouterr().out


def test_a_configured_cluster_replaces_the_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    (engine,) = plan("both")
    assert engine.servers == "kafka-1:9092"
    assert engine.kafka().bootstrap_servers == "kafka-1:9092"


def test_the_embedded_engine_asks_no_producer_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RITUALS_KAFKA_IDEMPOTENCE", raising=False)
    assert Engine(EMBEDDED, "e", servers="h:1").kafka().idempotence == "off"
    assert Engine(KAFKA, "k", servers="h:1").kafka().idempotence == "auto"


def test_a_table_per_benchmark_with_the_ratio() -> None:
    rows = [
        Comparison("throughput", "embedded", "10k", "events/s", 1_500.0, 2_000.0),
        Comparison("throughput", "Apache Kafka", "10k", "events/s", 3_000.0, 4_000.0),
        Comparison("restart", "embedded", "50k", "s", 8.0, 2.0),
    ]
    text = tables(rows)
    throughput, restart = text.split("\n\n")
    assert throughput.startswith("-- throughput --")
    assert restart.startswith("-- restart --")
    assert throughput.splitlines()[2].split()[-1] == "0.75"
    assert restart.splitlines()[2].split()[-1] == "4.00"


def test_the_perf_tools_summaries_are_read() -> None:
    producer = (
        "249985 records sent, 49997.0 records/sec (28.61 MB/sec), 3.1 ms avg latency.\n"
        "500000 records sent, 51099.5 records/sec (29.24 MB/sec), 450.2 ms avg latency, "
        "1200.0 ms max latency, 400 ms 50th, 900 ms 95th, 1100 ms 99th, 1190 ms 99.9th.\n"
    )
    assert parse_producer(producer).records_per_second == 51_099.5
    consumer = (
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
        "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n"
        "2026-12-04 06:00:00:000, 2026-12-04 06:00:03:000, 286.1, 95.4, 500000, 166666.7, "
        "400, 2600, 110.04, 192307.7\n"
    )
    read = parse_consumer(consumer)
    assert (read.records_per_second, read.megabytes_per_second) == (192_307.7, 110.04)


def test_the_latency_is_shown_per_window_of_joins_in_order() -> None:
    found = {
        "a": {"joined": 1_000, "decided": 1_010},
        "b": {"joined": 2_000, "decided": 2_030},
        "c": {"joined": 7_000, "decided": 7_300},  # the second five seconds: a stop
        "d": {"joined": 7_500},  # not decided: left out
        "e": {"joined": 12_000, "decided": 12_020},
    }
    assert _by_window(found, seconds=5) == "20 (30) | 300 (300) | 20 (20)"
    assert _by_window({}, seconds=5) == "-"


def test_the_latency_run_narrows_to_some_processes_onboarding_always_among_them() -> None:
    assert _processes("notifier,onboarding") == ("onboarding", "notifier")  # the platform's order
    with pytest.raises(argparse.ArgumentTypeError, match="onboarding"):
        _processes("matcher,notifier")
    with pytest.raises(argparse.ArgumentTypeError, match="no such process: mailer"):
        _processes("onboarding,mailer")


def test_without_the_notifier_a_new_hire_is_complete_once_decided() -> None:
    decided = {"joined": 0, "decided": 12}
    assert not _complete(decided)  # the buddy message is awaited too
    assert _complete(decided, notifications=False)
    assert _complete({**decided, "notification_sent": 40})
