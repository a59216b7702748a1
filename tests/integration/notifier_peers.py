"""Real peers for the notifier's tests and benchmark: an SMTP server (aiosmtpd) and an HTTP server.

Both listen on the loopback interface and record what they receive. The HTTP server is a small
HTTP/1.1 implementation on asyncio streams (keep-alive, Content-Length bodies): enough for
webhook calls, and free of any framework the notifier itself uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from infra.broker import free_port

# -- SMTP ---------------------------------------------------------------------------------------


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage


class _MailHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.sink.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.sink.received.append(
            ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), message)
        )
        return "250 Message accepted"


class SmtpSink:
    """An aiosmtpd server in its own thread; ``refused`` addresses get a 550."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.refused: set[str] = set()
        self.port = free_port()
        self._controller = Controller(_MailHandler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()


# -- HTTP ---------------------------------------------------------------------------------------

COUNT_PATH = "/_count"
"""GET it for the number of requests answered so far (for a sink in another process)."""


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes
    status: int
    """What the server answered."""


@dataclass
class HttpSink:
    """Records every request; answers 200 unless a status script for the path says otherwise.

    ``script(path, 500, 200)`` answers 500 to the first request on ``path``, then 200. A path in
    ``held`` is not answered at all until ``release(path)`` (a receiver that hangs).
    """

    received: list[ReceivedRequest] = field(default_factory=list)
    scripts: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))
    held: dict[str, asyncio.Event] = field(default_factory=dict)
    waiting: list[ReceivedRequest] = field(default_factory=list)
    """Requests that arrived on a held path (answered or not)."""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    record: bool = True
    count: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *statuses: int) -> None:
        self.scripts[path].extend(statuses)

    def hold(self, path: str) -> None:
        self.held[path] = asyncio.Event()

    def release(self, path: str) -> None:
        self.held.pop(path).set()

    def on(self, path: str) -> list[ReceivedRequest]:
        return [request for request in self.received if request.path == path]

    async def wait_for(
        self, predicate: Callable[[HttpSink], bool], within: float = 30.0
    ) -> list[ReceivedRequest]:
        """Wait until the sink's state satisfies ``predicate``; the requests answered so far."""

        async def satisfied() -> None:
            while not predicate(self):
                self.arrived.clear()
                await self.arrived.wait()

        try:
            await asyncio.wait_for(satisfied(), within)
        except TimeoutError:
            message = f"HTTP sink: {len(self.received)} requests, not as expected"
            raise AssertionError(message) from None
        return self.received

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                method, path, _version = request_line.decode("latin-1").split(" ", 2)
                headers = await _read_headers(reader)
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if path == COUNT_PATH:
                    await _answer(writer, 200, str(self.count).encode())
                    continue
                if path in self.held:
                    self.waiting.append(ReceivedRequest(method, path, headers, body, 0))
                    self.arrived.set()
                    await self.held[path].wait()
                status = self.scripts[path].popleft() if self.scripts[path] else 200
                self.count += 1
                if self.record:
                    self.received.append(ReceivedRequest(method, path, headers, body, status))
                self.arrived.set()
                await _answer(writer, status, b"ok")
        writer.close()


async def _answer(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    reason = "OK" if status < 300 else "Error"
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
    writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


@contextlib.asynccontextmanager
async def http_sink(**options: Any) -> AsyncIterator[HttpSink]:
    sink = HttpSink(**options)
    server = await asyncio.start_server(sink._serve, "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        for event in sink.held.values():
            event.set()
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)
