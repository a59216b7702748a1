"""The retry schedule: exponential, jittered, bounded, reproducible per notification."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.backoff import RetryPolicy, delay_before_retry, retry_delays

POLICY = RetryPolicy(max_attempts=6, base_seconds=1.0, max_seconds=10.0)


def test_there_is_one_delay_between_two_attempts() -> None:
    assert len(retry_delays(POLICY, "n-1")) == 5
    assert retry_delays(RetryPolicy(max_attempts=1), "n-1") == ()


def test_each_delay_lies_between_half_and_all_of_its_exponential_ceiling() -> None:
    ceilings = [1.0, 2.0, 4.0, 8.0, 10.0]
    for delay, ceiling in zip(retry_delays(POLICY, "n-1"), ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_the_schedule_is_reproducible_for_a_notification_and_differs_between_them() -> None:
    assert retry_delays(POLICY, "n-1") == retry_delays(POLICY, "n-1")
    assert retry_delays(POLICY, "n-1") != retry_delays(POLICY, "n-2")


def test_a_receivers_retry_after_is_honoured_up_to_the_longest_delay() -> None:
    planned = delay_before_retry(POLICY, "n-1", 1)
    assert delay_before_retry(POLICY, "n-1", 1, requested_seconds=7) == 7
    assert delay_before_retry(POLICY, "n-1", 1, requested_seconds=0) == planned
    assert delay_before_retry(POLICY, "n-1", 1, requested_seconds=3600) == 10


def test_a_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(max_attempts=0)


@given(
    st.integers(1, 12),
    st.floats(0, 5),
    st.floats(0, 120),
    st.text(min_size=1, max_size=40),
)
def test_delays_never_exceed_the_longest_delay_nor_go_negative(
    attempts: int, base: float, longest: float, seed: str
) -> None:
    delays = retry_delays(RetryPolicy(attempts, base, longest), seed)
    assert len(delays) == attempts - 1
    assert all(0 <= delay <= longest for delay in delays)
