"""A stand-in for the parts of an aiokafka consumer that the readers' fetch wait looks at."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka import TopicPartition


@dataclass
class FakeFetcher:
    _fetch_max_wait_ms: int


@dataclass
class FakeConsumer:
    """Partitions assigned, where each one is (``at``) and ends (``ends``, as the last fetch
    said), which are paused, and the fetch wait aiokafka would ask the broker for."""

    ends: dict[TopicPartition, int | None] = field(default_factory=dict)
    at: dict[TopicPartition, int] = field(default_factory=dict)
    stable: dict[TopicPartition, int | None] = field(default_factory=dict)
    paused_now: set[TopicPartition] = field(default_factory=set)
    fetch_wait_ms: int = 20

    def __post_init__(self) -> None:
        self._fetcher = FakeFetcher(self.fetch_wait_ms)

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def paused(self) -> set[TopicPartition]:
        return set(self.paused_now)

    def highwater(self, place: TopicPartition) -> int | None:
        return self.ends.get(place)

    def last_stable_offset(self, place: TopicPartition) -> int | None:
        return self.stable.get(place)

    async def position(self, place: TopicPartition) -> int:
        return self.at.get(place, 0)


@dataclass
class PolledFakeFetcher:
    config: dict[str, int]


@dataclass
class PolledFakeConsumer:
    """The same, as kafka-python has them: ``position`` is a call, the wait is in a config."""

    ends: dict[TopicPartition, int | None] = field(default_factory=dict)
    at: dict[TopicPartition, int] = field(default_factory=dict)
    fetch_wait_ms: int = 500

    def __post_init__(self) -> None:
        self._fetcher = PolledFakeFetcher({"fetch_max_wait_ms": self.fetch_wait_ms})

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def paused(self) -> set[TopicPartition]:
        return set()

    def highwater(self, place: TopicPartition) -> int | None:
        return self.ends.get(place)

    def position(self, place: TopicPartition) -> int:
        return self.at.get(place, 0)
