"""The cyclic garbage collector waits while one event is handled.

A coffee round for a large organisation allocates hundreds of thousands of short-lived, acyclic
objects (groups, reasons, payloads, envelopes). Each allocation burst makes the collector walk
every live object again, which cost about a quarter of a 100,000-member round. Reference counting
frees those objects anyway; the collector runs again as soon as the event is handled.
"""

from __future__ import annotations

import gc
import threading
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
    lived a while) is not walked. A rebuild makes millions of objects that live to its end,
    and each full collection walked all of them again (half of the time of admitting a long
    history), while the cyclic garbage a fold leaves (a decision and the search it holds, each
    referring to the other) dies young: pausing the collector altogether kept all of it, twice
    the memory of the events folded."""
    young, middle, oldest = gc.get_threshold()
    gc.set_threshold(young, middle, OLDEST_NEVER)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, oldest)
