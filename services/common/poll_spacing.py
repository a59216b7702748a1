"""How often the live consumer polls: at most once per spacing, where it is set.

A consumer that polls again as soon as it has handled a poll sends a fetch for every few
records under load, and every fetch that finds records costs the broker: the embedded one lists
each such partition's stored batches (docs/kafka.md, "Why the floor rises on the embedded
broker"). At 200 new hires a second, the matcher and the gateway, which read every onboarding
event though nobody waits for their answers within milliseconds, polled 50-80 times a second
each. A poll that finds nothing waits for records (``poll_ms``) and is not spaced further: an
idle service answers the first record at once. Someone waiting for the state to show a change
(a SCIM write, answered once the gateway's state has it) hurries the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable


class PollSpacing:
    """Polls that start at least ``seconds`` apart (0: one after the other, no wait)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last_start: float | None = None
        self._hurried = asyncio.Event()

    def left(self) -> float:
        """Seconds the next poll would wait now."""
        if self.seconds <= 0 or self._last_start is None or self._hurried.is_set():
            return 0.0
        return max(0.0, self._last_start + self.seconds - self._clock())

    async def wait(self) -> None:
        """Wait what is left of the spacing since the previous poll started, unless hurried;
        call before each poll."""
        if (left := self.left()) > 0:
            with contextlib.suppress(TimeoutError):  # the spacing is over
                await asyncio.wait_for(self._hurried.wait(), left)
        self._hurried.clear()
        self._last_start = self._clock()

    def hurry(self) -> None:
        """Start the next poll at once (someone waits for what it will bring)."""
        self._hurried.set()
