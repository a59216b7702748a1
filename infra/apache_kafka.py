"""Apache Kafka itself, started by the project: a KRaft node (broker and controller in one JVM),
or a cluster of such nodes on one machine (``brokers=3``) for fault tests.

The broker's jars come from Maven Central once (``infra/kafka/pom.xml``, copied into
``~/.cache/rituals/kafka-<version>-<pom hash>/lib``); Java 17 and Maven must be installed. The
node's data (its log directories, configuration and own log file) lives in a folder: a given
folder is kept across restarts and formatted only on first use; without one a temporary folder is
used and removed on stop. A context manager with the same shape as ``EmbeddedBroker``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Self

from infra.broker import LocalBroker, end_process, ensure_free, free_port

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).parent / "kafka" / "pom.xml"
HEAP = ("-Xms256m", "-Xmx512m")
"""Small enough for the test suite to run beside it on two cores."""


class KafkaUnavailableError(RuntimeError):
    """Apache Kafka cannot be started here (no Java, no Maven, or the broker failed)."""


def library(version: str = KAFKA_VERSION) -> Path:
    """The folder of the broker's jars, fetched from Maven Central the first time (and again
    when ``pom.xml`` changes: the folder is named after its content)."""
    pinned = hashlib.sha256(POM.read_bytes()).hexdigest()[:8]
    lib = Path.home() / ".cache" / "rituals" / f"kafka-{version}-{pinned}" / "lib"
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


class _Node:
    """One KRaft node (broker and controller in one JVM) of the cluster."""

    def __init__(self, node_id: int, port: int, folder: Path) -> None:
        self.node_id = node_id
        self.port = port
        self.controller_port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def voter(self) -> str:
        return f"{self.node_id}@127.0.0.1:{self.controller_port}"

    def write_config(self, voters: str, replicas: int) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        in_sync = str(min(2, replicas))
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": voters,
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.folder / "logs"),
            # Internal topics and the platform's: every replica the cluster has, and a write
            # acknowledged by two of them where there are two or more.
            "offsets.topic.replication.factor": str(replicas),
            "transaction.state.log.replication.factor": str(replicas),
            "transaction.state.log.min.isr": in_sync,
            "share.coordinator.state.topic.replication.factor": str(replicas),
            "share.coordinator.state.topic.min.isr": in_sync,
            "default.replication.factor": str(replicas),
            "min.insync.replicas": in_sync,
            # Tests start and stop consumer groups all the time: no initial rebalance delay.
            "group.initial.rebalance.delay.ms": "0",
            # Topics are provisioned by the platform; a client never creates one.
            "auto.create.topics.enable": "false",
        }
        config = self.folder / "server.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        (self.folder / "log4j2.properties").write_text(_LOG4J.format(log=self.folder))
        return config

    def java_command(self, lib: Path, main: str, *arguments: str) -> list[str]:
        log_config = self.folder / "log4j2.properties"
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

    def format_once(self, lib: Path, cluster_id: str, config: Path) -> None:
        if (self.folder / "logs" / "meta.properties").exists():
            return
        command = self.java_command(
            # ``--cluster-id=`` in one word: an id may start with "-" (URL-safe base64).
            lib,
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_id}",
            "-c",
            str(config),
        )
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise KafkaUnavailableError(f"formatting failed: {(done.stdout + done.stderr)[-800:]}")

    def launch(self, lib: Path) -> None:
        ensure_free(self.port)
        command = self.java_command(lib, "kafka.Kafka", str(self.folder / "server.properties"))
        with (self.folder / "broker.out").open("ab") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def terminate(self) -> None:
        if self.running and self.process is not None:
            self.process.send_signal(signal.SIGTERM)  # a controlled shutdown

    def wait_stopped(self) -> None:
        process, self.process = self.process, None
        end_process(process, timeout=30)

    def kill(self) -> None:
        process, self.process = self.process, None
        end_process(process, hard=True)


class ApacheKafka(LocalBroker):
    """Apache Kafka on 127.0.0.1 as child processes: one KRaft node, or a cluster of ``brokers``
    nodes (each a broker and a controller) for fault tests; stops cleanly on exit.

    With three nodes every topic has three replicas and needs two in sync to take a write, the
    controller quorum survives the loss of one node, and so does every partition."""

    def __init__(
        self,
        port: int | None = None,
        *,
        data_dir: Path | None = None,
        ready_timeout: float = 90.0,
        brokers: int = 1,
    ) -> None:
        if brokers < 1:
            raise ValueError("a cluster has at least one broker")
        self.port = port or free_port()
        self.ready_timeout = ready_timeout
        self._temporary = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="rituals-kafka-"))
        # One node keeps its files in the folder itself; a cluster, one sub-folder per node.
        self.nodes = [
            _Node(
                node_id,
                self.port if node_id == 1 else free_port(),
                self.data_dir if brokers == 1 else self.data_dir / f"node-{node_id}",
            )
            for node_id in range(1, brokers + 1)
        ]
        self._lib: Path | None = None

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.address for node in self.nodes)

    def start(self) -> Self:
        self._lib = library()
        voters = ",".join(node.voter() for node in self.nodes)
        cluster_id = self._cluster_id()
        for node in self.nodes:
            node.format_once(self._lib, cluster_id, node.write_config(voters, len(self.nodes)))
        for node in self.nodes:
            node.launch(self._lib)
        self._wait_until_ready(len(self.nodes))
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.terminate()
        for node in self.nodes:
            node.wait_stopped()
        if self._temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self, node_id: int | None = None) -> None:
        """Stop one node (or every node) the hard way (``kill -9``), as a crash would."""
        for node in self.nodes:
            if node_id is None or node.node_id == node_id:
                node.kill()

    def restart(self, node_id: int) -> None:
        """Start a stopped node again on its port and data, and wait until the cluster has every
        node again."""
        (node,) = (node for node in self.nodes if node.node_id == node_id)
        if node.running:
            raise RuntimeError(f"node {node_id} is running")
        assert self._lib is not None, "start() first"
        node.launch(self._lib)
        self._wait_until_ready(len(self.nodes), listening=node)

    def leaders(self, topic: str, timeout: float = 30.0) -> dict[int, int]:
        """Partition -> the node id leading it (-1 while none is). Right after a node died the
        client may still try it: asked again until the cluster answers."""
        from kafka.admin import KafkaAdminClient

        deadline = time.monotonic() + timeout
        while True:
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=self.running_servers(), request_timeout_ms=3000
                )
                try:
                    (described,) = admin.describe_topics([topic])
                finally:
                    admin.close()
                return {p["partition_index"]: p["leader_id"] for p in described["partitions"]}
            except Exception:  # a dead node asked: every client error means "ask again"
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def running_servers(self) -> str:
        """The addresses of the nodes that run now (a client given a dead one waits for it)."""
        return ",".join(node.address for node in self.nodes if node.running)

    def _cluster_id(self) -> str:
        """The cluster's id: new for a new folder, kept in it for the next start."""
        stored = self.data_dir / "cluster.id"
        if stored.exists():
            return stored.read_text().strip()
        cluster_id = _cluster_id()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        stored.write_text(cluster_id)
        return cluster_id

    def _wait_until_ready(self, brokers: int, listening: _Node | None = None) -> None:
        """Until the cluster answers a metadata request naming ``brokers`` brokers (listening is
        not enough: the controllers elect a leader first), and the ``listening`` node (one that
        was restarted, which the others may still count as present) accepts connections."""
        from kafka.admin import KafkaAdminClient

        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    self.stop()
                    raise KafkaUnavailableError(
                        f"Apache Kafka node {node.node_id} exited; see "
                        f"{node.folder / 'broker.out'} and broker.log"
                    )
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=self.running_servers(), request_timeout_ms=2000
                )
                try:
                    if len(admin.describe_cluster()["brokers"]) >= brokers and (
                        listening is None or _accepts(listening.port)
                    ):
                        return
                finally:
                    admin.close()
            except Exception:  # not answering yet: every client error means "wait"
                pass
            time.sleep(0.2)
        self.stop()
        raise KafkaUnavailableError(f"Apache Kafka not ready within {self.ready_timeout} s")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


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
