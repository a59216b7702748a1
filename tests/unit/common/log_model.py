"""A Kafka log in memory, written the way the runtime writes it (records, keys, partitions and
decision marks), for tests of what a rebuild makes of it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from infra.topics import TopicSettings
from schemas import CloudEvent, decode_event
from services.common.admission import partition_of
from services.common.processing import Ledger, Processor
from services.common.records import OutgoingRecord, decision_records, event_record
from services.common.replay import History, StoredRecord, replay_plan
from services.common.snapshots import decode_ledger, encode_ledger, shared_configuration

PARTITIONS = 6
TOPICS = TopicSettings()


class MemoryLog:
    def __init__(self) -> None:
        self.records: list[StoredRecord] = []
        self._next: dict[tuple[str, int], int] = defaultdict(int)

    def append(self, record: OutgoingRecord, partition: int | None = None) -> None:
        if partition is None:
            partition = partition_of(record.key, PARTITIONS)
        offset = self._next[(record.topic, partition)]
        self._next[(record.topic, partition)] += 1
        self.records.append(
            StoredRecord(record.topic, partition, offset, record.key, record.value, record.headers)
        )

    def history(self, starts: dict[tuple[str, int], int] | None = None) -> History:
        """The records, or with ``starts`` only those at or after each partition's start."""
        topics = {record.topic for record in self.records}
        kept = [
            record
            for record in self.records
            if record.offset >= (starts or {}).get((record.topic, record.partition), 0)
        ]
        return History(kept, dict.fromkeys(topics, PARTITIONS))

    def ends(self) -> dict[tuple[str, int], int]:
        """Where each partition ends now (the next offset)."""
        return dict(self._next)

    def events_by_id(self, source: str) -> dict[str, bytes]:
        """The first copy of every event of ``source`` in the log, by id."""
        found: dict[str, bytes] = {}
        for record in self.records:
            event = decode_event(record.value or b"")
            if event.source == source:
                found.setdefault(str(event.id), record.value or b"")
        return found


class Instance:
    """One service instance over a ``MemoryLog``, doing what the runtime does: apply and decide
    each input, publish every decision whole (marked), fold outputs back in; and rebuild."""

    def __init__(
        self,
        log: MemoryLog,
        new_processor: Callable[[], Processor],
        source: str,
        topic_order: Sequence[str],
    ) -> None:
        self.log = log
        self.new_processor = new_processor
        self.source = source
        self.topic_order = list(topic_order)
        self.ledger = Ledger(new_processor(), source)

    def receive(
        self, event: CloudEvent[Any], *, crash_after: int | None = None
    ) -> list[list[CloudEvent[Any]]]:
        """Write an input to the log and handle it; with ``crash_after`` the instance dies after
        writing that many outputs (in the order the runtime sends them)."""
        self.log.append(event_record(event, TOPICS))
        outputs = self.ledger.handle(event)
        decisions = [outputs] if outputs else []
        sent = 0
        done: list[list[CloudEvent[Any]]] = []
        while decisions:
            decision = decisions.pop(0)
            for record in decision_records(decision, TOPICS):
                if crash_after is not None and sent == crash_after:
                    raise Crashed
                self.log.append(record)
                sent += 1
            done.append(decision)
            decisions.extend(self.ledger.decisions_following(decision))
        return done

    def restart(self) -> int:
        """A fresh instance rebuilt from the log, publishing what it decides; returns how many
        decisions the rebuild made."""
        plan = replay_plan(self.log.history(), TOPICS, self.topic_order, self.source)
        self.ledger = Ledger(self.new_processor(), self.source)
        replayed = self.ledger.replay(plan.events)
        for decision in replayed.decisions:
            for record in decision_records(decision, TOPICS):
                self.log.append(record)
        return len(replayed.decisions)

    def snapshot(self) -> Snapshot:
        """The state as a snapshot holds it, with where the log ends now."""
        state = encode_ledger(self.ledger, shared_configuration(self.new_processor))
        return Snapshot(state, self.log.ends())

    def restart_from(self, snapshot: Snapshot) -> tuple[int, int]:
        """A fresh instance restored from a snapshot and the log after it, publishing what it
        decides; returns how many events it replayed and how many decisions it made."""
        plan = replay_plan(self.log.history(snapshot.ends), TOPICS, self.topic_order, self.source)
        self.ledger = decode_ledger(snapshot.state, shared_configuration(self.new_processor))
        replayed = self.ledger.replay(plan.events)
        for decision in replayed.decisions:
            for record in decision_records(decision, TOPICS):
                self.log.append(record)
        return len(plan.events), len(replayed.decisions)


@dataclass(frozen=True)
class Snapshot:
    state: bytes
    ends: dict[tuple[str, int], int]


class Crashed(Exception):  # noqa: N818 (a simulated kill, not a program error)
    """The instance died (kill -9) in the middle of publishing a decision."""
