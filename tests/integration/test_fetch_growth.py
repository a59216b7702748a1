"""The fetch-growth diagnostic (``benchmarks/fetch_growth.py``) measures what it says on a real
broker: the partition holds the batches named, and the last record is fetched at each size."""

from __future__ import annotations

import pytest

from benchmarks.fetch_growth import fetch_times
from infra.kafka import KafkaSettings

pytestmark = pytest.mark.broker


async def test_the_last_record_is_fetched_at_each_size_of_the_partition(
    kafka: KafkaSettings,
) -> None:
    rows = await fetch_times(kafka, (3, 12))
    assert [stored for stored, _, _ in rows] == [3, 12]
    assert all(0 < p50 <= p90 for _, p50, p90 in rows)
