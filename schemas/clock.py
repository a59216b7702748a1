"""Clock events (topic ``rituals.clock``): time is an event.

Services decide from ticks, never from the wall clock, so a simulation can run weeks in seconds
and a replay makes the same decisions. Ticks are published per organisation (record key = org id),
so every instance sees the ticks of the organisations it owns.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from schemas.base import EventPayload


class ClockTicked(EventPayload):
    """Domain time advanced to ``now`` for an organisation."""

    event_type: ClassVar[str] = "rituals.clock.ticked"

    now: AwareDatetime = Field(description="The current domain time.")
    sequence: int = Field(ge=0, description="Tick number since the clock started; increases by 1.")
