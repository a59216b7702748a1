"""Apache Kafka itself, started by the project: a KRaft node (broker and controller in one JVM).

The broker's jars come from Maven Central once (``infra/kafka/pom.xml``, copied into
``~/.cache/rituals/kafka-<version>/lib``); Java 17 and Maven must be installed. The node's data
(its log directories, configuration and own log file) lives in a folder: a given folder is kept
across restarts and formatted only on first use; without one a temporary folder is used and
removed on stop. A context manager with the same shape as ``EmbeddedBroker``.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Self

from infra.broker import LocalBroker, ensure_free, free_port

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).parent / "kafka" / "pom.xml"
HEAP = ("-Xms256m", "-Xmx512m")
"""Small enough for the test suite to run beside it on two cores."""


class KafkaUnavailableError(RuntimeError):
    """Apache Kafka cannot be started here (no Java, no Maven, or the broker failed)."""


def library(version: str = KAFKA_VERSION) -> Path:
    """The folder of the broker's jars, fetched from Maven Central the first time."""
    lib = Path.home() / ".cache" / "rituals" / f"kafka-{version}" / "lib"
    if any(lib.glob("kafka_2.13-*.jar")):
        return lib
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise KafkaUnavailableError(
                f"`{tool}` is not installed: Apache Kafka needs Java 17+ and Maven "
                "(the embedded broker needs neither)"
            )
    fetch = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(POM),
        f"-Dkafka.version={version}",
        f"-Dkafka.lib={lib}",
        "dependency:copy-dependencies",
    ]
    done = subprocess.run(fetch, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not any(lib.glob("kafka_2.13-*.jar")):
        raise KafkaUnavailableError(f"fetching Apache Kafka {version} failed: {done.stdout[-800:]}")
    return lib


class ApacheKafka(LocalBroker):
    """One KRaft node on 127.0.0.1 as a child process; stops cleanly on exit."""

    def __init__(
        self,
        port: int | None = None,
        *,
        data_dir: Path | None = None,
        ready_timeout: float = 90.0,
    ) -> None:
        self.port = port or free_port()
        self.controller_port = free_port()
        self.ready_timeout = ready_timeout
        self._temporary = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="rituals-kafka-"))
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        ensure_free(self.port)
        lib = library()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        if not (self.data_dir / "logs" / "meta.properties").exists():
            self._java(lib, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", config)
        command = self._java_command(lib, "kafka.Kafka", str(config))
        with (self.data_dir / "broker.out").open("ab") as output:
            self._process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_until_ready()
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # a controlled shutdown
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self) -> None:
        """Stop it the hard way (``kill -9``), as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def _write_config(self) -> Path:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            # One node: every internal topic with one replica.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            # Tests start and stop consumer groups all the time: no initial rebalance delay.
            "group.initial.rebalance.delay.ms": "0",
            # Topics are provisioned by the platform; a client never creates one.
            "auto.create.topics.enable": "false",
        }
        config = self.data_dir / "server.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        (self.data_dir / "log4j2.properties").write_text(_LOG4J.format(log=self.data_dir))
        return config

    def _java_command(self, lib: Path, main: str, *arguments: str) -> list[str]:
        log_config = self.data_dir / "log4j2.properties"
        return [
            "java",
            *HEAP,
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log_config}",
            "-cp",
            f"{lib}{os.sep}*",
            main,
            *arguments,
        ]

    def _java(self, lib: Path, main: str, *arguments: object) -> None:
        command = self._java_command(lib, main, *map(str, arguments))
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise KafkaUnavailableError(f"{main} failed: {(done.stdout + done.stderr)[-800:]}")

    def _wait_until_ready(self) -> None:
        """Until the node answers a metadata request naming itself (listening is not enough:
        the controller elects itself first)."""
        from kafka.admin import KafkaAdminClient

        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise KafkaUnavailableError(
                    f"Apache Kafka exited; see {self.data_dir / 'broker.out'} and broker.log"
                )
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=self.bootstrap_servers, request_timeout_ms=2000
                )
                try:
                    if admin.describe_cluster()["brokers"]:
                        return
                finally:
                    admin.close()
            except Exception:  # not answering yet: every client error means "wait"
                time.sleep(0.2)
        self.stop()
        raise KafkaUnavailableError(f"Apache Kafka not ready within {self.ready_timeout} s")


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


_LOG4J = """\
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}/broker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
"""
