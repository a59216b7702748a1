"""What an organisation's clock says to its coffee policy: the round week due and the pulse week.
Worked out once for the span of time in which both answers hold, and reused for every tick in
it: ticks come every minute, the answers change a few times a week, and a replay reads hundreds
of thousands of ticks. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from services.matcher.domain.cadence import due_week_span
from services.matcher.domain.policy import CoffeePolicy
from services.matcher.domain.pulse import pulse_week_span


@dataclass(frozen=True, slots=True)
class ClockReading:
    """The answers of ``due_week`` and ``pulse_week`` for every moment in [start, end)."""

    start: datetime
    end: datetime
    round_week: date | None
    pulse_week: date | None

    def holds_at(self, now: datetime) -> bool:
        return self.start <= now < self.end


def clock_reading(policy: CoffeePolicy, now: datetime) -> ClockReading:
    """The reading of ``now`` for the policy, reused while it holds (one per policy object)."""
    known = _READINGS.get(id(policy))
    if known is not None and known[0] is policy and known[1].holds_at(now):
        return known[1]
    reading = read_clock(policy, now)
    if known is not None or len(_READINGS) < 4_096:
        _READINGS[id(policy)] = (policy, reading)  # the policy kept: its id is not reused
    return reading


_READINGS: dict[int, tuple[CoffeePolicy, ClockReading]] = {}


def read_clock(policy: CoffeePolicy, now: datetime) -> ClockReading:
    round_week, round_start, round_end = due_week_span(policy.cadence, now)
    pulse, pulse_start, pulse_end = pulse_week_span(policy.pulse, policy.cadence.timezone, now)
    zone = now.tzinfo  # bounds in the ticks' own zone object compare ten times faster
    return ClockReading(
        start=max(round_start, pulse_start).astimezone(zone),
        end=min(round_end, pulse_end).astimezone(zone),
        round_week=round_week,
        pulse_week=pulse,
    )
