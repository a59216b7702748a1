"""Notifications per second to a local webhook sink, through the notifier's real delivery path.

What is measured: the delivery worker with the real generic-webhook adapter (render the message,
build and sign the CloudEvent body, POST it over HTTP/1.1 to a local sink, publish
``notification.sent`` and fold it into the book), against two baselines posting the same number
of requests of the same size with the same concurrency to the same sink: raw ``httpx`` (the
issue's baseline) and raw ``aiohttp`` (the client the notifier posts with: what is left between
the two is the notifier's own work). The sink runs in its own process (so it does not share the
event loop being measured). The broker is left out (the outcome events go to an in-memory
ledger) and log lines below WARNING are off: what is measured is the notifier's own cost per
notification, not the broker's or a terminal's.

Run: ``python -m benchmarks.notifier [--notifications N] [--rounds R] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
from pydantic import SecretStr

from schemas import CLOUDEVENTS_CONTENT_TYPE, CloudEvent, RejectionReason, new_event
from schemas.coffee import CoffeeUnmatched
from schemas.envelope import CloudEventAttributes
from schemas.members import MemberJoined
from services.common.logging import configure_logging
from services.common.processing import Emit, Ledger, Ledgers
from services.notifier.adapters.webhooks import HttpPoster
from services.notifier.app import delivery_worker_from, notifier_definition
from services.notifier.settings import NotifierSettings
from services.notifier.worker import book_of
from tests.integration.notifier_peers import COUNT_PATH, http_sink

MORNING = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ORGANISATION = "acme"
SECRET = "whsec_" + base64.b64encode(b"benchmark-signing-key-0123456789").decode()


class LedgerOnlyRuntime:
    """The part of the service runtime the worker uses, without a broker."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.ledgers = Ledgers.single(ledger)
        self.ready = True

    def on_handover(self, action: Callable[[], Awaitable[None]]) -> None:
        """Nothing moves in the benchmark."""

    def after_batch(self, action: Callable[[], None]) -> None:
        """The benchmark wakes the worker itself."""

    async def publish(
        self, cause: CloudEventAttributes, emits: Sequence[Emit]
    ) -> list[CloudEvent[Any]]:
        outputs = self.ledger.outputs(cause, emits)
        self.ledger.record_published(outputs)
        return outputs

    async def dead_letter_event(
        self, event: CloudEvent[Any], reason: RejectionReason, detail: str
    ) -> None:
        raise AssertionError(f"no delivery should fail in the benchmark: {detail}")


def _source_events(count: int) -> list[CloudEvent[Any]]:
    member = MemberJoined(
        member_id="m-1",
        display_name="Ada",
        email="m-1@example.com",
        team="Platform",
        department="Engineering",
        timezone="Europe/Amsterdam",
        working_hours={"start": "09:00", "end": "17:30"},
        languages=("en",),
        start_date=MORNING.date(),
        notification_channels=("webhook",),
    )
    events = [new_event(member, source="/bench", orgid=ORGANISATION, time=MORNING)]
    for number in range(count):
        unmatched = CoffeeUnmatched(
            round_id=f"r-{number}", member_id="m-1", reason="an odd number of colleagues"
        )
        events.append(new_event(unmatched, source="/bench", orgid=ORGANISATION, time=MORNING))
    return events


@dataclass(frozen=True)
class Measured:
    per_second: float
    cpu_us: float
    """CPU time of this process per notification (less sensitive than throughput to other load
    on the machine: the sink runs in another process)."""


@dataclass(frozen=True)
class Round:
    notifier: Measured
    raw_httpx: Measured
    raw_aiohttp: Measured


class Sink:
    """The local webhook sink, in a child process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        ports: multiprocessing.Queue[int] = context.Queue()
        self.process = context.Process(target=_serve_sink, args=(ports,), daemon=True)
        self.process.start()
        self.port = ports.get(timeout=30)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def count(self) -> int:
        async with httpx.AsyncClient() as client:
            return int((await client.get(self.url(COUNT_PATH))).text)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


def _serve_sink(ports: multiprocessing.Queue[int]) -> None:
    async def serve() -> None:
        async with http_sink(record=False) as sink:
            ports.put(sink.port)
            await asyncio.Event().wait()  # until terminated

    asyncio.run(serve())


async def _notifier_round(sink: Sink, count: int, concurrency: int) -> Measured:
    settings = NotifierSettings(
        webhook_url=SecretStr(sink.url("/webhook")),
        webhook_secret=SecretStr(SECRET),
        concurrency=concurrency,
        poll_interval_seconds=0.05,
    )
    definition = notifier_definition(settings)
    ledger = Ledger(definition.new_processor(), definition.source)
    for event in _source_events(count):
        ledger.handle(event)
    runtime = LedgerOnlyRuntime(ledger)
    book = book_of(runtime, ORGANISATION)
    poster = HttpPoster(settings.http_timeout_seconds, concurrency)
    worker = delivery_worker_from(settings, poster)
    received_before = await sink.count()
    started, cpu = time.perf_counter(), time.process_time()
    loop = asyncio.create_task(worker.run(runtime))
    try:
        while book.counts["sent"] < count:  # noqa: ASYNC110 (polling the book is the point)
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await poster.close()
    if await sink.count() - received_before != count:
        raise AssertionError("the sink did not receive exactly one request per notification")
    return Measured(count / elapsed, 1e6 * cpu / count)


def _baseline_headers() -> dict[str, str]:
    """Headers of the same names and sizes as a signed webhook's, made once: the raw loop puts
    the same bytes on the wire without the work of making them."""
    key = "00000000-0000-5000-8000-000000000000"
    return {
        "content-type": CLOUDEVENTS_CONTENT_TYPE,
        "idempotency-key": key,
        "webhook-id": f"msg_{key}",
        "webhook-timestamp": str(int(MORNING.timestamp())),
        "webhook-signature": "v1," + base64.b64encode(bytes(32)).decode(),
    }


async def _httpx_round(sink: Sink, count: int, concurrency: int, size: int) -> Measured:
    body = b"x" * size
    headers = _baseline_headers()
    # The client the notifier made with httpx: the same pool size, timeout, no redirects.
    limits = httpx.Limits(max_connections=concurrency)
    timeout = NotifierSettings().http_timeout_seconds
    async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False) as client:
        gate = asyncio.Semaphore(concurrency)

        async def post() -> None:
            async with gate:
                response = await client.post(sink.url("/baseline"), content=body, headers=headers)
                response.raise_for_status()

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(post() for _ in range(count)))
        elapsed = time.perf_counter() - started
        return Measured(count / elapsed, 1e6 * (time.process_time() - cpu) / count)


async def _aiohttp_round(sink: Sink, count: int, concurrency: int, size: int) -> Measured:
    body = b"x" * size
    headers = _baseline_headers()
    # The session the notifier makes (HttpPoster): same pool size, timeout, no cookies.
    timeout = aiohttp.ClientTimeout(total=NotifierSettings().http_timeout_seconds)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        gate = asyncio.Semaphore(concurrency)

        async def post() -> None:
            async with (
                gate,
                session.post(
                    sink.url("/baseline"), data=body, headers=headers, allow_redirects=False
                ) as response,
            ):
                await response.read()
                response.raise_for_status()

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(post() for _ in range(count)))
        elapsed = time.perf_counter() - started
        return Measured(count / elapsed, 1e6 * (time.process_time() - cpu) / count)


async def run(count: int, rounds: int, concurrency: int) -> list[Round]:
    results = []
    sink = Sink()
    try:
        await _notifier_round(sink, min(count, 50), concurrency)  # warm-up (imports, pools)
        size = len(_sample_body())
        await _httpx_round(sink, min(count, 50), concurrency, size)
        await _aiohttp_round(sink, min(count, 50), concurrency, size)
        for _ in range(rounds):
            results.append(
                Round(
                    notifier=await _notifier_round(sink, count, concurrency),
                    raw_httpx=await _httpx_round(sink, count, concurrency, size),
                    raw_aiohttp=await _aiohttp_round(sink, count, concurrency, size),
                )
            )
    finally:
        sink.stop()
    return results


def _sample_body() -> bytes:
    from services.notifier.adapters.base import Outgoing
    from services.notifier.adapters.webhooks import SignedWebhookChannel
    from services.notifier.domain.rendering import render

    settings = NotifierSettings(webhook_url=SecretStr("http://x"), webhook_secret=SecretStr(SECRET))
    definition = notifier_definition(settings)
    ledger = Ledger(definition.new_processor(), definition.source)
    for event in _source_events(1):
        ledger.handle(event)
    (delivery,) = book_of(LedgerOnlyRuntime(ledger), ORGANISATION).ready()
    return SignedWebhookChannel.body(Outgoing(delivery, render(delivery)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--notifications", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    options = parser.parse_args(argv if argv is not None else [])
    configure_logging("notifier", log_format="json", level="WARNING")
    results = asyncio.run(run(options.notifications, options.rounds, options.concurrency))
    print(
        f"notifier: {options.notifications} webhook notifications x {options.rounds} rounds, "
        f"concurrency {options.concurrency}, local HTTP sink"
    )
    for number, result in enumerate(results, 1):
        notifier = result.notifier.per_second
        print(
            f"  round {number}: notifier {notifier:7.0f}/s   "
            f"raw httpx {result.raw_httpx.per_second:7.0f}/s "
            f"({notifier / result.raw_httpx.per_second:.0%})   "
            f"raw aiohttp {result.raw_aiohttp.per_second:7.0f}/s "
            f"({notifier / result.raw_aiohttp.per_second:.0%})"
        )
    sides = {
        "notifier": [r.notifier for r in results],
        "raw httpx": [r.raw_httpx for r in results],
        "raw aiohttp": [r.raw_aiohttp for r in results],
    }
    for name, measured in sides.items():
        rates = [m.per_second for m in measured]
        print(
            f"  {name:11}  min {min(rates):6.0f}/s  median {statistics.median(rates):6.0f}/s  "
            f"max {max(rates):6.0f}/s  CPU per notification (median) "
            f"{statistics.median(m.cpu_us for m in measured):5.0f} us"
        )
    notifier_median = statistics.median(m.per_second for m in sides["notifier"])
    for name in ("raw httpx", "raw aiohttp"):
        pairs = zip(sides["notifier"], sides[name], strict=True)
        ratios = [notifier.per_second / other.per_second for notifier, other in pairs]
        median = statistics.median(m.per_second for m in sides[name])
        print(
            f"  notifier at {notifier_median / median:.0%} of {name} (medians); per round min "
            f"{min(ratios):.0%}, median {statistics.median(ratios):.0%}, max {max(ratios):.0%}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
