"""Ticks for organisations: the same code for the wall clock and for a simulation."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from schemas import CloudEvent, new_event
from schemas.clock import ClockTicked

SOURCE = "/rituals/clock"


def ticks(organisations: Iterable[str], now: datetime, sequence: int) -> list[CloudEvent[Any]]:
    """One tick per organisation (record key = organisation: each instance gets the ticks of
    the organisations it owns)."""
    return [
        new_event(ClockTicked(now=now, sequence=sequence), source=SOURCE, orgid=org, time=now)
        for org in sorted(set(organisations))
    ]
