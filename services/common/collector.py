"""The cyclic garbage collector waits while one event is handled.

A coffee round for a large organisation allocates hundreds of thousands of short-lived, acyclic
objects (groups, reasons, payloads, envelopes). Each allocation burst makes the collector walk
every live object again, which cost about a quarter of a 100,000-member round. Reference counting
frees those objects anyway; the collector runs again as soon as the event is handled.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block (nested use keeps it paused to the outermost)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
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
