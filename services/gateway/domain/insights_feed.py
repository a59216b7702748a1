"""What the insights report is computed from, kept as it comes: every event of the families the
report reads (members, coffee, rituals, onboarding, pulse answers), and of the clock only each
organisation's latest tick (the report's "now"; the rest is thousands of ticks it does not
need). The report itself is ``services.insights.domain.project`` over these, as ``rituals
insights`` computes it over the whole history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas import CloudEvent
from schemas.clock import ClockTicked

REPORTED_FAMILIES = (
    "rituals.member.",
    "rituals.coffee.",
    "rituals.ritual.",
    "rituals.onboarding.",
    "rituals.pulse.answered",
)


class InsightsFeed:
    def __init__(self) -> None:
        self._events: dict[str, list[CloudEvent[Any]]] = {}
        self._latest_tick: dict[str, CloudEvent[Any]] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, ClockTicked):
            latest = self._latest_tick.get(event.orgid)
            if latest is None or event.data.now > latest.data.now:
                self._latest_tick[event.orgid] = event
        elif event.type.startswith(REPORTED_FAMILIES):
            self._events.setdefault(event.orgid, []).append(event)

    def events(self, org_id: str) -> list[CloudEvent[Any]]:
        """The organisation's reported events and its latest tick (a copy: the report is
        computed off the event loop while the consumer goes on)."""
        tick = self._latest_tick.get(org_id)
        return [*self._events.get(org_id, ()), *([tick] if tick is not None else [])]

    def now_of(self, org_id: str) -> datetime | None:
        """The organisation's domain time: its latest tick (None before the first)."""
        tick = self._latest_tick.get(org_id)
        return None if tick is None else tick.data.now
