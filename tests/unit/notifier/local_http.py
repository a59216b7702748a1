"""Real HTTP peers on the loopback for the HTTP channels' tests: a server answering from a
function and recording what it received, and servers that misbehave on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict
from pydantic import SecretStr

SECRET_PATH = "/services/T000/B000/secret-token"
"""The path the channels post to: a reason or a log line naming it would leak the URL."""


@dataclass(frozen=True)
class Received:
    method: str
    target: str
    """The request target as sent: a path, or an absolute URL when sent through a proxy."""
    headers: CIMultiDict[str]
    content: bytes


Answer = Callable[[Received], Awaitable[web.StreamResponse] | web.StreamResponse]


def ok(_request: Received) -> web.Response:
    return web.Response(status=200)


class Recorder:
    """An HTTP server on 127.0.0.1 that answers every request from ``answer``."""

    def __init__(self, answer: Answer = ok) -> None:
        self.answer = answer
        self.requests: list[Received] = []
        self.port = 0

    @property
    def url(self) -> SecretStr:
        return SecretStr(f"http://127.0.0.1:{self.port}{SECRET_PATH}")

    @property
    def https_url(self) -> SecretStr:
        return SecretStr(f"https://127.0.0.1:{self.port}{SECRET_PATH}")

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        received = Received(
            request.method, request.raw_path, CIMultiDict(request.headers), await request.read()
        )
        self.requests.append(received)
        answer = self.answer(received)
        return await answer if isinstance(answer, Awaitable) else answer

    @contextlib.asynccontextmanager
    async def serving(self, tls: ssl.SSLContext | None = None) -> AsyncIterator[Recorder]:
        runner = web.ServerRunner(web.Server(self._handle))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        self.port = runner.addresses[0][1]
        try:
            yield self
        finally:
            await runner.cleanup()


PeerConnection = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def _peer(serve: PeerConnection) -> AsyncIterator[SecretStr]:
    """A server on 127.0.0.1 running ``serve`` for each connection; yields the URL to post to."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield SecretStr(f"http://127.0.0.1:{port}{SECRET_PATH}")
    finally:
        server.close()
        await server.wait_closed()


def raw_peer(reply: bytes) -> contextlib.AbstractAsyncContextManager[SecretStr]:
    """A server that reads a request's first bytes, writes ``reply`` (not necessarily HTTP) and
    hangs up."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(reply)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    return _peer(serve)


def endless_answer_peer() -> contextlib.AbstractAsyncContextManager[SecretStr]:
    """A server answering 200 with a body that never ends (chunks until the client hangs up)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65_536
        with contextlib.suppress(ConnectionError):
            while not writer.is_closing():
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        writer.close()

    return _peer(serve)


def self_signed_tls(folder: Path) -> ssl.SSLContext:
    """A server's TLS context with a certificate for 127.0.0.1 that nobody vouches for."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context
