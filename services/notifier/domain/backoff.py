"""How often and how patiently a transient failure is retried: exponential backoff with jitter.

The jitter spreads the retries of many notifications that failed together (a receiver that was
down) so they do not come back as one wave. It is drawn from a generator seeded with the
notification id: the schedule of one notification is reproducible, different notifications differ.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    """Attempts in all, the first included (1 = no retry)."""
    base_seconds: float = 1.0
    """Delay before the first retry, before jitter."""
    max_seconds: float = 60.0
    """No delay is longer than this."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_seconds < 0 or self.max_seconds < 0:
            raise ValueError("attempts must be positive and delays not negative")


def retry_delays(policy: RetryPolicy, seed: str) -> tuple[float, ...]:
    """The waits between consecutive attempts (``max_attempts - 1`` of them).

    Retry ``n`` (from 1) waits between half and all of ``min(max, base * 2**(n-1))``
    ("equal jitter"): the delay keeps growing while no two notifications share a schedule.
    """
    generator = random.Random(seed)
    delays = []
    for retry in range(1, policy.max_attempts):
        ceiling = min(policy.max_seconds, policy.base_seconds * 2 ** (retry - 1))
        delays.append(ceiling / 2 + generator.uniform(0, ceiling / 2))
    return tuple(delays)


def delay_before_retry(
    policy: RetryPolicy, seed: str, retry: int, requested_seconds: float | None = None
) -> float:
    """The wait before retry number ``retry`` (from 1); a receiver's ``Retry-After`` is honoured
    up to the policy's longest delay."""
    planned = retry_delays(policy, seed)[retry - 1]
    if requested_seconds is None:
        return planned
    return min(policy.max_seconds, max(planned, requested_seconds))
