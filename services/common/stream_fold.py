"""A rebuild that folds the history as it reads it, holding a window of records rather than
the whole history (docs/runtime.md, "Streaming the rebuild").

``replay.replay_plan`` sorts everything read: the order is right for any log, but memory grows
with the history. Here each partition number's streams (one per topic) are merged by the same
key as the plan's sort, (domain time, ours after others, topic rank, offset), and each event is
folded once every stream of its number that is still being read has come ``slack`` of domain
time past it, or is read to its end. A stream is never in time order by promise, only in practice:
a record older than one already folded raises ``Unordered``, and the rebuild starts again by
sorting. So the result is the plan's, or nothing.

The plan also looks ahead in two ways the merge cannot: whether a cause's decision is already
in the log (its outputs come after it), and whether a decision of ours is whole. A first pass,
``DecisionIndex``, reads our outputs' topics (every topic but the clock, which carries no
decisions) for exactly that, keeping ids only. It parses each output of ours with pydantic's
JSON parser (its id, source and cause; half the cost of ``json.loads``), not through
admission: after a notifier's backlog, a sixth of the log is its own outcomes, each admitted
twice (the first pass took 3.9 s of CPU at 1,000,000 events, 2.7-2.9 s with ``json.loads``).
The merge admits every record anyway, and checks that the index saw what admission sees: an
output of ours it admits was indexed, and a record it refuses was not indexed as ours. Either
check failing means the index was told something admission does not say, and the rebuild
sorts.
"""

from __future__ import annotations

import heapq
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import pydantic_core
from aiokafka import TopicPartition

from infra.topics import TopicSettings
from schemas import RejectedEvent
from schemas.sealing import PersonalDataCipher
from services.common.admission import admit
from services.common.processing import Ledger, Ledgers, uuid_int
from services.common.records import decision_mark
from services.common.replay import Folded, ReadRecord
from services.common.snapshots import erases_personal_data

SLACK = timedelta(hours=1)
"""How much older than the latest record of its partition a record may come without the merge
giving up (``RITUALS_REPLAY_SLACK_SECONDS``): events are held that long in domain time."""
PAUSE_AT = 5_000
"""A stream holding this many records is not fetched (unless the merge waits for it) until it
holds half as many."""
ORDER = "the event's replay_time, an aware datetime"
"""Events are ordered by their time as the plan's sort orders them. Times read from JSON in UTC
share pydantic's one zone object, and two datetimes with the same zone object compare by their
fields at once; ``timestamp()`` asked that zone for its offset every time (about 0.5 us a
record). A time with another zone compares correctly, only slower."""
FOLD_EVERY = 64
"""Records admitted between two folds: the same order as folding after each record (the
heap's), a fold's own cost paid once per this many records rather than every other one, and
at most this many records held beyond the window."""
MIN_MARK = datetime.min.replace(tzinfo=UTC)
"""The mark of a stream nothing was read from yet: older than every time admitted."""


class Unordered(Exception):  # noqa: N818 (a condition the rebuild handles, not a program error)
    """The history is not in an order the merge can follow: rebuild by sorting instead."""


@dataclass
class DecisionIndex:
    """What the plan learns by looking ahead at our own outputs, by partition number: the causes
    already decided whole and the decisions a crash cut short."""

    source: str
    own: set[int] = field(default_factory=set)
    """Ids of our outputs (first copies), as integers."""
    _unmarked: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    _sizes: dict[str, int] = field(default_factory=dict)
    _found: Counter[str] = field(default_factory=Counter)
    _causes: dict[str, tuple[int, set[int]]] = field(default_factory=dict)

    def take(self, records: Iterable[ReadRecord]) -> None:
        for record in records:
            ours = self._read(record.value)  # None: not ours (the merge checks it was not)
            if ours is None or ours[0] in self.own:
                continue
            identity, cause = ours
            self.own.add(identity)
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

    def indexed(self, record: ReadRecord) -> bool:
        """Whether the record reads as an output of ours that was indexed."""
        ours = self._read(record.value)
        return ours is not None and ours[0] in self.own

    @cached_property
    def _marker(self) -> bytes:
        return f'"source":"{self.source}"'.encode()

    def _read(self, value: bytes | None) -> tuple[int, int | None] | None:
        """The id and cause (as integers) of an event of ours, or None: not ours, or unreadable
        (admission refuses it). A record without our source's bytes is not parsed at all."""
        if value is None or self._marker not in value:
            return None
        try:
            envelope = pydantic_core.from_json(value)
            if envelope["source"] != self.source:
                return None
            cause = envelope.get("causationid")
            return uuid.UUID(envelope["id"]).int, uuid_int(cause) if cause else None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None  # RecursionError: JSON nested deeper than the interpreter's stack

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


@dataclass(eq=False)
class _Number:
    """One partition number's merge: its streams' marks, the events held, and its ledger. Its
    streams are named by their topics (the partition is the number's)."""

    partition: int
    ledger: Ledger
    commits: dict[str, int]
    """The group's committed offset of each stream: what lies before it is only applied."""
    reading: set[str]
    """Its streams still being read."""
    marks: dict[str, datetime]
    """Each stream's latest domain time read (``ORDER``)."""
    held: dict[str, int]
    heap: list[tuple[Any, ...]] = field(default_factory=list)
    low: datetime | None = MIN_MARK
    """The lowest mark of the streams still being read when it last folded: nothing older can
    come (None: none was being read)."""
    last: tuple[datetime, bool, int, int] | None = None
    """The key of the event folded last."""

    def lowest_mark(self) -> datetime | None:
        marks = self.marks
        return min([marks[topic] for topic in self.reading], default=None)


class MergeFold:
    """The second pass: admits records as they are read, and folds them into the ledgers in
    the plan's order as soon as no record still to come can precede them.

    Each stream's *mark* is the latest domain time read from it. An event is folded once it is
    older than every mark of its number's streams still being read, by ``slack``: a record may
    come that much older than the latest of its partition without the merge giving up."""

    def __init__(
        self,
        ledgers: Ledgers,
        index: DecisionIndex,
        committed: Mapping[TopicPartition, int],
        topic_order: list[str],
        streams: Iterable[TopicPartition],
        partition_counts: Mapping[str, int],
        slack: timedelta = SLACK,
        *,
        topics: TopicSettings,
        cipher: PersonalDataCipher | None = None,
    ) -> None:
        self.index = index
        self.source = index.source
        self.result = Folded()
        self._counts = partition_counts
        self._slack = slack
        self._unfinished = index.unfinished()
        self._rank = {name: rank for rank, name in enumerate(topic_order)}
        self._topics, self._cipher, self._own = topics, cipher, index.own
        self.most_held = 0
        """The most records held at once (the memory a rebuild needs beyond its state)."""
        self._numbers: dict[int, _Number] = {}
        for topic, partition in streams:
            number = self._numbers.get(partition)
            if number is None:
                number = self._numbers[partition] = _Number(
                    partition, ledgers.at(partition), {}, set(), {}, {}
                )
            number.commits[topic] = committed.get(TopicPartition(topic, partition), 0)
            number.reading.add(topic)
            number.marks[topic] = MIN_MARK
            number.held[topic] = 0
        for partition, causes in index.decided().items():
            ledgers.at(partition).note_decided(causes)

    def take(self, records: Iterable[ReadRecord], ended: Iterable[TopicPartition] = ()) -> None:
        """Admit records just read (each partition's in log order) and fold what can be;
        ``ended``: streams whose every record was taken before, read to their ends."""
        for stream in ended:
            self.read_to_end(stream)
        push, records = self._push, list(records)
        for start in range(0, len(records), FOLD_EVERY):
            part = records[start : start + FOLD_EVERY]
            taken = {number for record in part if (number := push(record)) is not None}
            holding = sum(len(number.heap) for number in self._numbers.values())
            self.most_held = max(self.most_held, holding)  # the most, before folding
            for number in taken:
                self._fold_ready(number)

    def read_to_end(self, stream: TopicPartition) -> None:
        """Nothing more comes from this stream: its number folds without waiting for it."""
        number = self._numbers[stream.partition]
        number.reading.discard(stream.topic)
        self._fold_ready(number)

    def to_pause(self, streams: Iterable[TopicPartition]) -> set[TopicPartition]:
        """Streams not to fetch for now: each holds ``PAUSE_AT`` records, and another stream of
        its number lags behind it (the one furthest behind is always fetched: the merge waits
        for it)."""
        return {s for s in streams if self._held(s) >= PAUSE_AT and not self._lags(s)}

    def to_resume(self, streams: Iterable[TopicPartition]) -> set[TopicPartition]:
        return {s for s in streams if self._held(s) < PAUSE_AT // 2 or self._lags(s)}

    def _held(self, stream: TopicPartition) -> int:
        return self._numbers[stream.partition].held[stream.topic]

    def _lags(self, stream: TopicPartition) -> bool:
        number = self._numbers[stream.partition]
        return number.low is None or number.marks[stream.topic] <= number.low

    def finish(self) -> Folded:
        for partition in sorted(self._numbers):
            number = self._numbers[partition]
            number.reading.clear()
            number.low = None
            self._fold_ready(number)
        rank = self._rank
        self.result.refused.sort(
            key=lambda item: (rank[item[0].topic], item[0].partition, item[0].offset)
        )
        self.result.unfinished = len(self._unfinished)
        return self.result

    def _push(self, record: ReadRecord) -> _Number | None:
        """Admit a record and hold its event; the number holding it, or None if refused."""
        topic = record.topic
        try:
            event = admit(record, self._topics, self._counts.get(topic), self._cipher)
        except RejectedEvent as refusal:
            if self.index.indexed(record):
                raise Unordered("an output of ours that the first pass took is refused") from None
            self.result.refused.append((record, refusal))
            return None
        number = self._numbers[record.partition]
        own = event.source == self.source
        if own and event.id.int not in self._own:
            raise Unordered("an output of ours that the first pass did not see")
        moment = event.replay_time  # see ORDER
        offset = record.offset
        key = (moment, own, self._rank[topic], offset)
        last = number.last
        if last is not None and key < last:
            if number.ledger.has_applied(event):
                self.result.later_copies += 1  # a copy of one folded, earlier in its partition
                return None
            raise Unordered("a record older than one already folded, by more than the slack")
        marks = number.marks
        if moment > marks[topic]:
            marks[topic] = moment  # the number's low mark is worked out when it folds
        heapq.heappush(number.heap, (*key, offset < number.commits[topic], record, event))
        number.held[topic] += 1
        return number

    def _fold_ready(self, number: _Number) -> None:
        low = number.low = number.lowest_mark()
        heap, held, ledger = number.heap, number.held, number.ledger
        limit = None if low is None else _earlier(low, self._slack)
        unfinished, result = self._unfinished, self.result
        folded = copies = 0
        entry = None
        pop = heapq.heappop
        while heap and (limit is None or heap[0][0] < limit):
            entry = pop(heap)
            _, own, _, _, settled, record, event = entry
            held[record.topic] -= 1
            if own and (mark := decision_mark(record.headers)) and mark[0] in unfinished:
                continue  # decided again whole by this fold
            if ledger.has_applied(event):  # a copy (a redelivery) or in the snapshot
                copies += 1
                continue
            folded += 1
            if erases_personal_data(event):
                result.erasures.add(record.partition)
            try:
                ledger.replay_one(event, settled=settled, decisions=result.decisions)
            except Exception as error:  # deciding, or folding an output in: the cause fails
                result.failures.append((record, error))
        if entry is not None:
            number.last = entry[:4]
            result.events += folded
            result.later_copies += copies
            result.folded[number.partition] += folded


def _earlier(moment: datetime, slack: timedelta) -> datetime:
    """``moment - slack``, or the earliest mark when that is before the first year."""
    try:
        return moment - slack
    except OverflowError:  # a slack of millennia: nothing folds before its stream ends
        return MIN_MARK
