"""The broker's ceiling on this machine: Apache Kafka's own perf tools against Apache Kafka.

``make bench-ceiling`` starts Apache Kafka (``infra.apache_kafka.ApacheKafka``), creates a topic of
6 partitions (as many as the platform's topics have) and runs, for records of the size of our
events:

- ``kafka-producer-perf-test`` (``org.apache.kafka.tools.ProducerPerformance``): as many records
  as fast as one Java producer sends them, ``acks=all`` as the platform produces;
- ``kafka-consumer-perf-test`` (``org.apache.kafka.tools.ConsumerPerformance``): one Java consumer
  reading them all back.

Records per second and MB per second of each are what no client of this broker, on this machine,
can beat: the platform's figures (``make bench``) are to be read against them. The tools' jars
come from Maven Central once (``infra/kafka/tools-pom.xml``, copied into
``~/.cache/rituals/kafka-tools-<version>/lib``).

Run: ``python -m benchmarks.kafka_ceiling [--records N] [--sizes 600 1024]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.apache_kafka import KAFKA_VERSION, ApacheKafka, KafkaUnavailableError

TOOLS_POM = Path(__file__).resolve().parent.parent / "infra" / "kafka" / "tools-pom.xml"
PARTITIONS = 6
RECORDS = 500_000
SIZES = (600, 1024)
"""Our records: 400 to 860 bytes (an answer such as buddy_unavailable, a member.joined)."""
JAVA_HEAP = "-Xmx512m"


@dataclass(frozen=True)
class Throughput:
    records_per_second: float
    megabytes_per_second: float


def tools_library(version: str = KAFKA_VERSION) -> Path:
    """The folder of the tools' jars, fetched from Maven Central the first time."""
    lib = Path.home() / ".cache" / "rituals" / f"kafka-tools-{version}" / "lib"
    if any(lib.glob("kafka-tools-*.jar")):
        return lib
    if shutil.which("mvn") is None:
        raise KafkaUnavailableError("`mvn` is not installed: the perf tools come from Maven")
    fetch = ["mvn", "-q", "-B", "-f", str(TOOLS_POM), f"-Dkafka.version={version}"]
    fetch += [f"-Dkafka.tools.lib={lib}", "dependency:copy-dependencies"]
    done = subprocess.run(fetch, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not any(lib.glob("kafka-tools-*.jar")):
        raise KafkaUnavailableError(f"fetching Kafka's tools failed: {done.stdout[-800:]}")
    return lib


def run_tool(lib: Path, main_class: str, arguments: Sequence[str]) -> str:
    command = ["java", JAVA_HEAP, "-cp", f"{lib}{os.sep}*", main_class, *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{main_class} failed: {(done.stdout + done.stderr)[-1500:]}")
    return done.stdout


def produce(lib: Path, servers: str, topic: str, records: int, size: int) -> Throughput:
    output = run_tool(
        lib,
        "org.apache.kafka.tools.ProducerPerformance",
        [
            "--topic", topic,
            "--num-records", str(records),
            "--record-size", str(size),
            "--throughput", "-1",
            "--producer-props", f"bootstrap.servers={servers}", "acks=all",
        ],
    )  # fmt: skip
    return parse_producer(output)


def parse_producer(output: str) -> Throughput:
    """The tool's summary line: ``N records sent, R records/sec (M MB/sec), ...``."""
    summary = re.findall(r"records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)", output)
    if not summary:
        raise RuntimeError(f"no producer summary in: {output[-800:]}")
    records, megabytes = summary[-1]
    return Throughput(float(records), float(megabytes))


def consume(lib: Path, servers: str, topic: str, records: int) -> Throughput:
    output = run_tool(
        lib,
        "org.apache.kafka.tools.ConsumerPerformance",
        [
            "--bootstrap-server", servers,
            "--topic", topic,
            "--messages", str(records),
            "--timeout", "60000",
        ],
    )  # fmt: skip
    return parse_consumer(output)


def parse_consumer(output: str) -> Throughput:
    """The tool's CSV: a header line naming ``MB.sec`` and ``nMsg.sec``, then one line of values
    (from start to end, group join included; the ``fetch.*`` columns leave the join out: those
    are the figures kept)."""
    lines = [line for line in output.splitlines() if line.strip()]
    header = next(i for i, line in enumerate(lines) if "nMsg.sec" in line)
    names = [name.strip() for name in lines[header].split(",")]
    values = [value.strip() for value in lines[header + 1].split(",")]
    row = dict(zip(names, values, strict=True))
    return Throughput(float(row["fetch.nMsg.sec"]), float(row["fetch.MB.sec"]))


def create_topic(servers: str, name: str) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=servers)
    try:
        admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        admin.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=RECORDS, help="Records per size.")
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES, help="Bytes a record.")
    options = parser.parse_args(argv)
    try:
        lib = tools_library()
        broker = ApacheKafka().start()
    except KafkaUnavailableError as error:
        raise SystemExit(f"the broker ceiling needs Apache Kafka: {error}") from None
    try:
        print(
            f"== Apache Kafka {KAFKA_VERSION} ceiling: its own perf tools, one producer, one "
            f"consumer, {PARTITIONS} partitions, {options.records:,} records a size "
            f"(CPUs: {os.cpu_count()}) =="
        )
        print(f"  {'record':>8}  {'side':<28} {'records/s':>10} {'MB/s':>7}")
        for size in options.sizes:
            topic = f"ceiling-{size}"
            create_topic(broker.bootstrap_servers, topic)
            sent = produce(lib, broker.bootstrap_servers, topic, options.records, size)
            read = consume(lib, broker.bootstrap_servers, topic, options.records)
            sides = (("producer-perf-test, acks=all", sent), ("consumer-perf-test", read))
            for side, figure in sides:
                print(
                    f"  {size:>6} B  {side:<28} "
                    f"{figure.records_per_second:>10,.0f} {figure.megabytes_per_second:>7.1f}"
                )
    finally:
        broker.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
