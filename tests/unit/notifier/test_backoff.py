"""The retry schedule: the waits of the standard schedule, jitter, Retry-After."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.backoff import (
    JITTER,
    STANDARD_SCHEDULE,
    RetryPolicy,
    delay_before_retry,
    retry_delays,
)

POLICY = RetryPolicy((1.0, 2.0, 4.0, 10.0))


def test_the_default_schedule_keeps_trying_for_more_than_a_day() -> None:
    default = RetryPolicy()
    assert default.schedule == STANDARD_SCHEDULE
    assert default.max_attempts == 8
    assert sum(retry_delays(default, "n-1")) > 24 * 3600


def test_each_wait_is_its_scheduled_wait_give_or_take_the_jitter() -> None:
    delays = retry_delays(POLICY, "n-1")
    assert len(delays) == POLICY.max_attempts - 1 == 4
    for delay, planned in zip(delays, POLICY.schedule, strict=True):
        assert planned * (1 - JITTER) <= delay <= planned * (1 + JITTER)


def test_waits_are_reproducible_per_notification_and_differ_between_them() -> None:
    assert retry_delays(POLICY, "n-1") == retry_delays(POLICY, "n-1")
    assert retry_delays(POLICY, "n-1") != retry_delays(POLICY, "n-2")


def test_a_retry_after_is_honoured_up_to_the_longest_wait() -> None:
    planned = delay_before_retry(POLICY, "n-1", 1)
    assert delay_before_retry(POLICY, "n-1", 1, requested_seconds=7) == 7
    assert delay_before_retry(POLICY, "n-1", 1, requested_seconds=0) == planned
    assert delay_before_retry(POLICY, "n-1", 1, requested_seconds=3600) == 10


def test_a_policy_refuses_a_negative_wait() -> None:
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy((1.0, -1.0))


@given(
    st.lists(st.floats(0, 100_000), max_size=10).map(tuple),
    st.text(min_size=1, max_size=40),
)
def test_waits_stay_near_the_schedule_and_never_go_negative(
    schedule: tuple[float, ...], seed: str
) -> None:
    delays = retry_delays(RetryPolicy(schedule), seed)
    assert len(delays) == len(schedule)
    assert all(
        0 <= delay <= planned * (1 + JITTER)
        for delay, planned in zip(delays, schedule, strict=True)
    )
