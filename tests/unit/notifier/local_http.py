"""Real HTTP peers on the loopback for the HTTP channels' tests: a server answering from a
function and recording what it received, and servers that misbehave on the wire."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
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

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        received = Received(
            request.method, request.raw_path, CIMultiDict(request.headers), await request.read()
        )
        self.requests.append(received)
        answer = self.answer(received)
        return await answer if isinstance(answer, Awaitable) else answer

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Recorder]:
        runner = web.ServerRunner(web.Server(self._handle))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        try:
            yield self
        finally:
            await runner.cleanup()


@contextlib.asynccontextmanager
async def raw_peer(reply: bytes) -> AsyncIterator[SecretStr]:
    """A server that reads a request's first bytes, writes ``reply`` (not necessarily HTTP) and
    hangs up; yields the URL to post to."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(reply)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield SecretStr(f"http://127.0.0.1:{port}{SECRET_PATH}")
    finally:
        server.close()
        await server.wait_closed()
