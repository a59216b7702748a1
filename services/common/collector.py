"""When the cyclic garbage collector runs, and what it walks.

- It waits while one event is handled (``collector_paused``). A coffee round for a large
  organisation allocates hundreds of thousands of short-lived, acyclic objects (groups, reasons,
  payloads, envelopes). Each allocation burst makes the collector walk every live object again,
  which cost about a quarter of a 100,000-member round. Reference counting frees those objects
  anyway; the collector runs again as soon as the event is handled.
- It waits while a rebuild folds the history, whose every object lives on (a fold leaves no
  cyclic garbage); what the rebuild made is then set aside (``set_aside_what_lives_on``).
  Encoding a snapshot collects only the young generations (``young_collections_only``).
- While a service runs, a full collection walks what is new since the last one
  (``full_collections_walk_the_new``), not the whole state again; a state restored from
  snapshots is set aside at once (``set_aside_what_lives_on``).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    """How many blocks keep the collector paused now, and whether it ran before the first."""

    lock = threading.Lock()
    count = 0
    resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block. Blocks may overlap, nested or in threads: it
    runs again when the last one ends (if it ran before the first). Restores decode their
    states side by side in threads; the first to finish had turned the collector back on while
    the others still decoded, and a decoding then walked everything restored so far again and
    again: restoring 38 MB of notifier state took 8.6 s of decoding, one state 3.6 s alone."""
    with _Pauses.lock:
        if _Pauses.count == 0:
            _Pauses.resume = gc.isenabled()
            gc.disable()
        _Pauses.count += 1
    try:
        yield
    finally:
        with _Pauses.lock:
            _Pauses.count -= 1
            if _Pauses.count == 0 and _Pauses.resume:
                gc.enable()


OLDEST_NEVER = 1 << 30
"""A threshold the oldest generation's count never reaches while a rebuild runs."""


@contextmanager
def young_collections_only() -> Iterator[None]:
    """Only the young generations are collected during the block; the oldest (everything that
    lived a while) is not walked: each full collection walked all of a state again. Writing a
    snapshot runs this way (a rebuild used to, until its folds were shown to leave no cyclic
    garbage: docs/runtime.md "Rebuild cost")."""
    young, middle, oldest = gc.get_threshold()
    gc.set_threshold(young, middle, OLDEST_NEVER)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, oldest)


THAW_SECONDS = 600.0
"""How long objects that survived a full collection stay out of the next ones."""


class _OldObjects:
    """Whether survivors of full collections are set aside (``gc.freeze``) for this process,
    by how many running services, and when they were last put back."""

    users = 0
    thawed_at = 0.0
    thaw_seconds = THAW_SECONDS


def _after_a_collection(phase: str, info: dict[str, int]) -> None:
    if phase != "stop" or info["generation"] != 2:
        return
    now = time.monotonic()
    if now - _OldObjects.thawed_at >= _OldObjects.thaw_seconds:
        thaw()
    else:
        gc.freeze()


def set_aside_what_lives_on() -> None:
    """Set aside everything alive now (``gc.freeze``), as the next full collection would, while
    survivors are set aside at all (``full_collections_walk_the_new``): a state just restored
    from snapshots is millions of objects that live on, and the first collections after it
    walked every one of them, young as they were (the notifier's state at 1,000,000 events:
    0.8 s, then 0.4 s, on its first two collections)."""
    if _OldObjects.users:
        gc.freeze()


def thaw() -> None:
    """Put what was set aside back into the oldest generation: the next full collection walks
    everything again, and frees whatever of it has become cyclic garbage meanwhile."""
    gc.unfreeze()
    _OldObjects.thawed_at = time.monotonic()


@contextmanager
def full_collections_walk_the_new(thaw_seconds: float = THAW_SECONDS) -> Iterator[None]:
    """While the block runs, a full collection walks only what survived since the last one.

    A running service's state grows with every event (members, applied ids, decisions), and
    each full collection walked all of it: onboarding's stopped its event loop for 90-160 ms
    every ten seconds at 200 new hires a second, and those stops were the latency's p99. Here
    the survivors of each full collection are set aside (``gc.freeze``): they were just found
    alive, and the next full collection walks only what came after them. What is set aside is
    freed as usual when its last reference goes; only a cycle among it waits, until everything
    is put back (``thaw``): every ``thaw_seconds``, when a rebuild replaces a state, and when
    the block ends (so a stopped runtime's state is freed)."""
    if _OldObjects.users == 0:
        _OldObjects.thaw_seconds = thaw_seconds
        _OldObjects.thawed_at = time.monotonic()
        gc.callbacks.append(_after_a_collection)
    _OldObjects.users += 1
    try:
        yield
    finally:
        _OldObjects.users -= 1
        if _OldObjects.users == 0:
            gc.callbacks.remove(_after_a_collection)
        thaw()
