"""How patiently a transient failure is retried: a schedule of waits, with jitter.

A channel that is down for an hour must not lose the notices sent into it. The default schedule
is the one webhook senders use (Standard Webhooks, Svix): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
10 h, about 27.5 hours in all, so an outage of a day still delivers. Each wait is spread by up
to ``JITTER`` either way, so notifications that failed together (a receiver that was down) do not
come back as one wave; the spread is drawn from a generator seeded with the notification id and
the attempt, so a schedule is reproducible and notifications differ.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

STANDARD_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
JITTER = 0.1


@dataclass(frozen=True)
class RetryPolicy:
    schedule: tuple[float, ...] = STANDARD_SCHEDULE
    """The wait before each retry, in seconds: retry n waits ``schedule[n - 1]``."""

    def __post_init__(self) -> None:
        if any(wait < 0 for wait in self.schedule):
            raise ValueError("a wait cannot be negative")

    @property
    def max_attempts(self) -> int:
        """Attempts in all, the first included."""
        return len(self.schedule) + 1

    @property
    def longest(self) -> float:
        return max(self.schedule, default=0.0)


def retry_delays(policy: RetryPolicy, seed: str) -> tuple[float, ...]:
    """The waits between consecutive attempts of one notification (``max_attempts - 1``)."""
    return tuple(delay_before_retry(policy, seed, retry) for retry in range(1, policy.max_attempts))


def delay_before_retry(
    policy: RetryPolicy, seed: str, retry: int, requested_seconds: float | None = None
) -> float:
    """The wait before retry number ``retry`` (from 1); a receiver's ``Retry-After`` is honoured
    up to the schedule's longest wait."""
    planned = policy.schedule[retry - 1]
    planned *= 1 + random.Random(f"{seed}#{retry}").uniform(-JITTER, JITTER)
    if requested_seconds is None:
        return planned
    return min(max(policy.longest, planned), max(planned, requested_seconds))
