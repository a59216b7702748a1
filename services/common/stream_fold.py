"""A rebuild that folds the history as it reads it, holding a window of records rather than
the whole history (docs/runtime.md, "Streaming the rebuild").

``replay.replay_plan`` sorts everything read: the order is right for any log, but memory grows
with the history. Here each partition number's streams (one per topic) are merged by the same
key as the plan's sort, (domain time, ours after others, topic rank, offset), and each event is
folded once every stream of its number that is still being read holds ``window`` records
beyond it, or is read to its end. A stream is never in time order by promise, only in practice:
a record older than one already folded raises ``Unordered``, and the rebuild starts again by
sorting. So the result is the plan's, or nothing.

The plan also looks ahead in two ways the merge cannot: whether a cause's decision is already
in the log (its outputs come after it), and whether a decision of ours is whole. A first pass,
``DecisionIndex``, reads our outputs' topics (every topic but the clock, which carries no
decisions) for exactly that, keeping ids only; the merge checks that every output of ours it
meets was indexed.
"""

from __future__ import annotations

import heapq
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import TopicPartition

from infra.topics import TopicSettings
from schemas import CloudEvent, RejectedEvent
from schemas.sealing import PersonalDataCipher
from services.common.admission import admit
from services.common.processing import Ledgers
from services.common.records import decision_mark
from services.common.replay import Folded, StoredRecord
from services.common.snapshots import erases_personal_data

WINDOW = 1_000
"""Records held beyond the next one to fold, per stream still being read: a record may come up
to this far out of time order in its partition without the rebuild falling back to sorting
(``RITUALS_REPLAY_WINDOW``)."""


class Unordered(Exception):  # noqa: N818 (a condition the rebuild handles, not a program error)
    """The history is not in an order the merge can follow: rebuild by sorting instead."""


def _cause_of(event: CloudEvent[Any]) -> int | None:
    if event.causationid is None:
        return None
    try:
        return uuid.UUID(event.causationid).int
    except ValueError:
        return None


@dataclass
class DecisionIndex:
    """What the plan learns by looking ahead at our own outputs, by partition number: the causes
    already decided whole and the decisions a crash cut short."""

    source: str
    topics: TopicSettings
    partition_counts: Mapping[str, int]
    cipher: PersonalDataCipher | None = None
    own: set[int] = field(default_factory=set)
    """Ids of our outputs (first copies), as integers."""
    _unmarked: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    _sizes: dict[str, int] = field(default_factory=dict)
    _found: Counter[str] = field(default_factory=Counter)
    _causes: dict[str, tuple[int, set[int]]] = field(default_factory=dict)

    def take(self, records: Iterable[StoredRecord]) -> None:
        marker = f'"source":"{self.source}"'.encode()
        for record in records:
            if record.value is None or marker not in record.value:
                continue  # not ours (the merge checks every output of ours was indexed)
            try:
                event = admit(
                    record, self.topics, self.partition_counts.get(record.topic), self.cipher
                )
            except RejectedEvent:
                continue
            identity = event.id.int
            if event.source != self.source or identity in self.own:
                continue
            self.own.add(identity)
            cause = _cause_of(event)
            mark = decision_mark(record.headers)
            if mark is None:
                if cause is not None:
                    self._unmarked[record.partition].add(cause)
                continue
            decision, size = mark
            self._sizes[decision] = size
            self._found[decision] += 1
            _, causes = self._causes.setdefault(decision, (record.partition, set()))
            if cause is not None:
                causes.add(cause)

    def unfinished(self) -> set[str]:
        return {d for d, size in self._sizes.items() if self._found[d] < size}

    def decided(self) -> dict[int, set[int]]:
        """The causes whose decision is in the log, by partition number."""
        unfinished = self.unfinished()
        decided: dict[int, set[int]] = defaultdict(set)
        for number, causes in self._unmarked.items():
            decided[number] |= causes
        for decision, (number, causes) in self._causes.items():
            if decision not in unfinished:
                decided[number] |= causes
        return decided


def _micros(moment: datetime) -> int:
    """An aware time as microseconds since the epoch: ordered as the times are, and compared
    without asking a zone object for its offset each time."""
    seconds = round(moment.timestamp() - moment.microsecond / 1_000_000)
    return seconds * 1_000_000 + moment.microsecond


class MergeFold:
    """The second pass: admits records as they are read, and folds them into the ledgers in
    the plan's order as soon as no record still to come can precede them."""

    def __init__(
        self,
        ledgers: Ledgers,
        index: DecisionIndex,
        committed: Mapping[TopicPartition, int],
        topic_order: list[str],
        streams: Iterable[TopicPartition],
        partition_counts: Mapping[str, int],
        window: int = WINDOW,
    ) -> None:
        self.ledgers = ledgers
        self.index = index
        self.source = index.source
        self.result = Folded()
        self._counts = partition_counts
        self._window = window
        self._unfinished = index.unfinished()
        self._rank = {name: rank for rank, name in enumerate(topic_order)}
        self._commits = {(tp.topic, tp.partition): at for tp, at in committed.items()}
        self._heaps: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        self._last: dict[int, tuple[int, bool, int, int]] = {}
        self._held: Counter[tuple[str, int]] = Counter()
        self._holding = 0
        self.ended: set[TopicPartition] = set()
        """Streams read to their ends."""
        self.most_held = 0
        """The most records held at once (the memory a rebuild needs beyond its state)."""
        self._reading: dict[int, set[tuple[str, int]]] = defaultdict(set)
        for stream in streams:
            self._reading[stream.partition].add((stream.topic, stream.partition))
        for number, causes in index.decided().items():
            ledgers.at(number).note_decided(causes)

    def take(self, records: Iterable[StoredRecord]) -> None:
        """Admit records just read (each partition's in log order) and fold what can be."""
        for record in records:
            self._push(record)
            self._fold_ready(record.partition)

    def read_to_end(self, stream: TopicPartition) -> None:
        """Nothing more comes from this stream: its number folds without waiting for it."""
        self.ended.add(stream)
        self._reading[stream.partition].discard((stream.topic, stream.partition))
        self._fold_ready(stream.partition)

    def holding(self, stream: TopicPartition) -> int:
        return self._held[(stream.topic, stream.partition)]

    def holds_enough(self, stream: TopicPartition) -> bool:
        """Whether the stream need not be fetched for now: it holds four windows (fetched again
        below two)."""
        return self.holding(stream) >= 4 * self._window

    def wants_more(self, stream: TopicPartition) -> bool:
        return self.holding(stream) < 2 * self._window

    def finish(self) -> Folded:
        for number in sorted(self._heaps):
            self._reading[number].clear()
            self._fold_ready(number)
        rank = self._rank
        self.result.refused.sort(
            key=lambda item: (rank[item[0].topic], item[0].partition, item[0].offset)
        )
        self.result.unfinished = len(self._unfinished)
        return self.result

    def _push(self, record: StoredRecord) -> None:
        try:
            event = admit(
                record,
                self.index.topics,
                self._counts.get(record.topic),
                self.index.cipher,
            )
        except RejectedEvent as refusal:
            self.result.refused.append((record, refusal))
            return
        number = record.partition
        own = event.source == self.source
        if own and event.id.int not in self.index.own:
            raise Unordered("an output of ours that the first pass did not see")
        key = (_micros(event.time), own, self._rank[record.topic], record.offset)
        last = self._last.get(number)
        if last is not None and key < last:
            if self.ledgers.at(number).has_applied(event):
                self.result.later_copies += 1  # a copy of one folded, earlier in its partition
                return
            raise Unordered("a record older than one already folded")
        heapq.heappush(self._heaps[number], (*key, record, event))
        self._held[(record.topic, number)] += 1
        self._holding += 1
        self.most_held = max(self.most_held, self._holding)

    def _fold_ready(self, number: int) -> None:
        heap = self._heaps[number]
        reading = self._reading[number]
        held, window = self._held, self._window
        while heap and all(held[stream] >= window for stream in reading):
            micros, own, rank, offset, record, event = heapq.heappop(heap)
            held[(record.topic, number)] -= 1
            self._holding -= 1
            self._last[number] = (micros, own, rank, offset)
            self._fold(number, record, event, own)

    def _fold(self, number: int, record: StoredRecord, event: CloudEvent[Any], own: bool) -> None:
        ledger = self.ledgers.at(number)
        result = self.result
        if own and (mark := decision_mark(record.headers)) and mark[0] in self._unfinished:
            return  # decided again whole by this fold
        if ledger.has_applied(event):  # a copy (a redelivery: the same event) or in the snapshot
            result.later_copies += 1
            return
        result.events += 1
        result.folded[number] += 1
        if erases_personal_data(event):
            result.erasures.add(number)
        settled = record.offset < self._commits.get((record.topic, record.partition), 0)
        try:
            result.decisions += ledger.replay_one(event, settled=settled)
        except Exception as error:  # deciding, or folding an output in: the cause fails
            result.failures.append((record, error))
