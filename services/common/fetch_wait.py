"""How long a reader lets the broker hold a fetch: longer while the broker cannot serve it.

The embedded broker (Tansu) lists every batch a partition has stored on each fetch that brings
records, and stops listing when the fetch's wait is over. A fetch of a partition of many
batches then brings a batch or none, fetch after fetch, though thousands are there: on the
embedded broker's durable storage, a reader with a 20 ms wait read 705 of a partition's 3,000
single-record batches in 30 s, one a fetch (80 ms: all in 4.7 s), and at the partition's end a
50 ms wait never brought the next record once the partition held about 6,000 batches (four
days of one clock tick a minute). So a reader whose polls bring a partition less than a tenth
of what it still has waiting, for two whole waits in a row, doubles its wait, up to
``MOST_FETCH_WAIT_MS``.

Apache Kafka answers a fetch with what it holds at once, so there the wait does not rise; were
it raised, a fetch with records would still be answered at once. On the embedded broker a
longer wait costs latency only to a reader at the end of its partitions (it polls its storage
at half the remaining wait), which is the price of being read at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

log = structlog.get_logger("rituals.fetch")

MOST_FETCH_WAIT_MS = 5_000
"""Past this, each fetch of such a partition costs the broker seconds: a log that long wants
Apache Kafka (docs/kafka.md, "Why the floor rises on the embedded broker")."""
STARVED_WAITS = 2
"""Whole waits of starved polls before the wait is raised."""
STARVED_SHARE = 10
"""A poll is starved when it brings a partition under a tenth of what the partition still has
waiting (a fetch the broker served brings what it holds, up to a megabyte a partition)."""


class _FetchPatience:
    """When a reader's wait rises: starved polls for two whole waits in a row double it."""

    def __init__(
        self, consumer: Any, *, reader: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._consumer = consumer
        self._reader = reader
        self._clock = clock
        self._starved_since: float | None = None

    @property
    def ms(self) -> int:
        raise NotImplementedError

    def _set_ms(self, ms: int) -> None:
        raise NotImplementedError

    def _note(self, starved: bool) -> None:
        if not starved:
            self._starved_since = None
            return
        now = self._clock()
        if self._starved_since is None:
            self._starved_since = now
        elif now - self._starved_since >= STARVED_WAITS * self.ms / 1000:
            self._raise()
            self._starved_since = now

    def _fetched_ends(self, committed_only: bool) -> list[tuple[Any, int]]:
        """Each partition fetched (not paused) and where its last fetch said it ends."""
        consumer = self._consumer
        paused = consumer.paused()
        ends = []
        for partition in consumer.assignment():
            end = (
                consumer.last_stable_offset(partition)
                if committed_only
                else consumer.highwater(partition)
            )
            if partition not in paused and end is not None:
                ends.append((partition, end))
        return ends

    def _raise(self) -> None:
        before = self.ms
        if before >= MOST_FETCH_WAIT_MS:
            return
        after = min(before * 2, MOST_FETCH_WAIT_MS)
        self._set_ms(after)
        log.warning(
            "the broker answered no fetch of records it holds; fetches now wait longer",
            reader=self._reader,
            fetch_wait_ms=after,
            was_ms=before,
        )


def _short(brought: Mapping[Any, Sequence[Any]], partition: Any, waiting: int) -> bool:
    """Whether a poll brought the partition under a tenth of what it still has waiting."""
    return waiting > 0 and len(brought.get(partition, ())) * STARVED_SHARE < waiting


def _cut_short(brought: Mapping[Any, Sequence[Any]], limit: int | None) -> bool:
    return limit is not None and sum(map(len, brought.values())) >= limit


class FetchWait(_FetchPatience):
    """The fetch wait of one aiokafka consumer (the runtime's readers)."""

    def __init__(
        self,
        consumer: Any,
        *,
        committed_only: bool,
        reader: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(consumer, reader=reader, clock=clock)
        self._committed_only = committed_only

    @property
    def ms(self) -> int:
        # aiokafka reads it each time it makes a fetch request, and has no setter for it.
        return int(self._consumer._fetcher._fetch_max_wait_ms)

    def _set_ms(self, ms: int) -> None:
        self._consumer._fetcher._fetch_max_wait_ms = ms

    async def after_poll(
        self, brought: Mapping[Any, Sequence[Any]], *, limit: int | None = None
    ) -> None:
        """Note what a poll brought (records per partition; ``limit``: the most it could take,
        a poll that took that many was not starved)."""
        starved = False
        if not _cut_short(brought, limit):
            for partition, end in self._fetched_ends(self._committed_only):
                if _short(brought, partition, end - await self._consumer.position(partition)):
                    starved = True
                    break
        self._note(starved)


class PolledFetchWait(_FetchPatience):
    """The fetch wait of one kafka-python consumer (the command line's history reads)."""

    @property
    def ms(self) -> int:
        return int(self._consumer._fetcher.config["fetch_max_wait_ms"])

    def _set_ms(self, ms: int) -> None:
        self._consumer._fetcher.config["fetch_max_wait_ms"] = ms

    def after_poll(self, brought: Mapping[Any, Sequence[Any]]) -> None:
        """Note what a poll brought (records per partition)."""
        self._note(
            any(
                _short(brought, partition, end - self._consumer.position(partition))
                for partition, end in self._fetched_ends(committed_only=False)
            )
        )
