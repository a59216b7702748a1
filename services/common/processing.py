"""How a service turns events into state and decisions, independent of Kafka.

A service supplies a ``Processor``: ``apply`` folds an event into its state (including the
events it emitted itself), ``decide`` returns what to emit in response and must not change state.
The ``Ledger`` around it gives every service the same guarantees under at-least-once delivery:

- an event id is applied once: a redelivered event has no second effect. A clock tick is applied
  once by its time instead: one not after its organisation's latest tick changes nothing and is
  not decided, so the ticks of years keep no id in the state (``Ledger._clocks``);
- an event is decided once: when the log already holds this service's whole decision about it (a
  crash between publishing and committing, or a replay at start-up), it is not decided again; a
  decision that a crash cut short is left out of the rebuild (``replay.replay_plan``), so its
  cause is decided again and published whole;
- outputs carry ids derived from their cause, so a decision repeated anyway is deduplicated by
  every consumer downstream.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any, Protocol

from schemas import CloudEvent, EventPayload, new_event
from schemas.clock import ClockTicked
from schemas.envelope import CloudEventAttributes
from services.common.admission import partition_of
from services.common.tracing import current_traceparent


@dataclass(frozen=True)
class Emit:
    """One event a decision asks to publish; the ledger adds the envelope."""

    payload: EventPayload
    subject: str | None = None
    key: str | None = None
    """Names this output among its cause's outputs (its id derives from it); by default its
    position. Set it when outputs of one cause are published at different times."""
    time: datetime | None = None
    """When the output happened in domain time, when later than its cause (a delivery's
    outcome happens when it was sent, not when it was asked for)."""
    recorded: datetime | None = None
    """The organisation's domain time when it is published, when later than ``time`` (an
    outcome published long after it was due: ``CloudEventAttributes.recordedtime``)."""


@dataclass(frozen=True)
class Replayed:
    decisions: list[list[CloudEvent[Any]]]
    """Decisions made during the replay, each to be published whole, in order."""
    failures: list[tuple[CloudEvent[Any], Exception]]
    """Events the processor failed on, with the error."""
    copies: int = 0
    """Events skipped as applied already: ticks not after their organisation's latest (a plan
    keeps only the first copy of each id, but ticks are told apart by time)."""


class Processor(Protocol):
    def apply(self, event: CloudEvent[Any]) -> None:
        """Fold an event into the state."""

    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        """What to emit in response to an event already applied; no state change."""

    def measures(self) -> Mapping[str, float]:
        """Sizes of the state, exported as metrics (e.g. members by status)."""


class Ledger:
    """A processor plus the bookkeeping that makes its handling idempotent."""

    def __init__(self, processor: Processor, source: str) -> None:
        self.processor = processor
        self.source = source
        self._applied: set[int] = set()
        """Ids of the events applied, as integers: a long history's set is kept (and written
        to a snapshot, and read back) several times faster than one of UUID objects."""
        self._decided: set[int] = set()
        """Ids of the causes whose decision is in the log, as integers (as ``_applied``)."""
        self._clocks: dict[str, datetime] = {}
        """Organisation -> ``now`` of its latest tick applied. Ticks are most of a long
        history (one per organisation per minute) and keep no id: domain time never goes back,
        so a tick not after the latest is a copy or too late to change anything."""
        self._ticks = 0
        """Ticks applied (``applied_count``)."""

    def has_applied(self, event: CloudEvent[Any]) -> bool:
        """Whether the event was applied; for a tick, whether one as late or later was."""
        if event.type == _TICKED:
            latest = self._clocks.get(event.orgid)
            return latest is not None and event.data.now <= latest
        return event.id.int in self._applied

    def applied_count(self) -> int:
        return len(self._applied) + self._ticks

    def note_outputs(self, event: CloudEvent[Any]) -> None:
        """Remember that the event's cause was already decided, if the event is one of ours."""
        if event.source == self.source and event.causationid is not None:
            cause = uuid_int(event.causationid)
            if cause is not None:
                self._decided.add(cause)

    def handle(self, event: CloudEvent[Any], *, settled: bool = False) -> list[CloudEvent[Any]]:
        """Apply a new event and return the outputs still to publish (none for a duplicate).
        ``settled``: the event was decided before (its whole decision, maybe none, is in the
        log): only applied."""
        if self.has_applied(event):
            return []
        self.processor.apply(event)
        identity = event.id.int
        if event.type == _TICKED:
            self._clocks[event.orgid] = event.data.now
            self._ticks += 1
        else:
            self._applied.add(identity)
            if event.source == self.source:  # most events are not ours: no call for them
                self.note_outputs(event)
        if settled or identity in self._decided:
            return []
        emits = self.processor.decide(event)
        return self.outputs(event, emits) if emits else []

    def record_published(self, outputs: Sequence[CloudEvent[Any]]) -> list[CloudEvent[Any]]:
        """Fold our own published outputs in at once, before they come back from the log, and
        return what they in turn ask to publish (a scheduled round request asks for its round)."""
        return [
            follow_up for decision in self.decisions_following(outputs) for follow_up in decision
        ]

    def decisions_following(
        self, outputs: Sequence[CloudEvent[Any]]
    ) -> list[list[CloudEvent[Any]]]:
        """``record_published`` with the follow-ups grouped by the output that asked for them:
        each group is one decision, to be published whole."""
        return [decision for output in outputs if (decision := self.handle(output))]

    def replay(
        self, events: Sequence[CloudEvent[Any]], settled: Sequence[bool] | None = None
    ) -> Replayed:
        """Fold a rebuild's events (``replay.replay_plan``) into this fresh ledger and return the
        decisions still to publish, in order: causes whose whole decision the log lacks, and what
        those outputs ask for in turn. ``settled`` events (before the group's commit: every
        decision of theirs is whole in the log, or was nothing) are only applied: deciding them
        again would be thrown away; ``settled[i]`` says it of ``events[i]``. An event the
        processor fails on is skipped here (the live consumer dead-letters it when it reaches
        it)."""
        for event in events:
            self.note_outputs(event)
        decisions: list[list[CloudEvent[Any]]] = []
        failures: list[tuple[CloudEvent[Any], Exception]] = []
        copies = 0
        for event, was_settled in zip(events, settled or repeat(False, len(events)), strict=True):
            if self.has_applied(event):
                copies += 1
                continue
            try:
                self.replay_one(event, settled=was_settled, decisions=decisions)
            except Exception as error:  # deciding, or folding an output in: the cause fails
                failures.append((event, error))
        return Replayed(decisions, failures, copies)

    def replay_one(
        self,
        event: CloudEvent[Any],
        *,
        settled: bool,
        decisions: list[list[CloudEvent[Any]]],
    ) -> None:
        """Fold one event of a rebuild in, after every output of ours in the history read was
        noted (``note_outputs`` or ``note_decided``), adding the decisions still to publish,
        with what they ask for in turn, to ``decisions`` in order. A decision is added before
        its outputs are folded in: if folding one fails, the decision is still published (and
        its output dead-lettered when it comes back)."""
        outputs = self.handle(event, settled=settled)
        if not outputs:
            return  # most events of a rebuild are settled
        pending = [outputs]
        while pending:
            decision = pending.pop(0)
            decisions.append(decision)
            pending.extend(self.decisions_following(decision))

    def note_decided(self, causes: Iterable[int]) -> None:
        """Remember causes (ids as integers) whose decision the log holds whole."""
        self._decided.update(causes)

    def outputs(self, cause: CloudEventAttributes, emits: Sequence[Emit]) -> list[CloudEvent[Any]]:
        """The envelopes of what a cause asks to emit: same source, organisation, domain time
        and correlation as the cause, ids derived from it, and the trace of the current span
        (or the cause's)."""
        return [
            new_event(
                emit.payload,
                source=self.source,
                orgid=cause.orgid,
                time=cause.time if emit.time is None else max(cause.time, emit.time),
                subject=emit.subject,
                cause=cause,
                output_index=index if emit.key is None else emit.key,
                traceparent=current_traceparent(fallback=cause.traceparent),
                recorded=emit.recorded,
            )
            for index, emit in enumerate(emits)
        ]


_TICKED = ClockTicked.event_type


def uuid_int(text: str) -> int | None:
    """A causation id as the integer of its UUID (None if it is no UUID: no event has that id)."""
    try:
        return uuid.UUID(text).int
    except ValueError:
        return None


class Ledgers:
    """The state of an instance: one ``Ledger`` per partition number it owns.

    Every record of an organisation is keyed by its id, so one partition number holds whole
    organisations on every topic a service reads (range assignment gives an instance the same
    numbers of each topic). Keeping a ledger per number lets a number's state be snapshotted,
    restored and dropped on its own when partitions move between instances."""

    def __init__(
        self, new_processor: Callable[[], Processor], source: str, partition_count: int
    ) -> None:
        self.new_processor = new_processor
        self.source = source
        self.partition_count = partition_count
        self._ledgers: dict[int, Ledger] = {}

    @classmethod
    def single(cls, ledger: Ledger) -> Ledgers:
        """One ledger for every organisation (tests and benchmarks without partitions)."""
        ledgers = cls(lambda: ledger.processor, ledger.source, 1)
        ledgers.put(0, ledger)
        return ledgers

    def partition_of(self, organisation: str) -> int:
        return partition_of(organisation.encode(), self.partition_count)

    def of(self, organisation: str) -> Ledger:
        """The ledger an organisation's events go to (made empty when first needed)."""
        return self.at(self.partition_of(organisation))

    def at(self, partition: int) -> Ledger:
        ledger = self._ledgers.get(partition)
        if ledger is None:
            ledger = self._ledgers[partition] = Ledger(self.new_processor(), self.source)
        return ledger

    def put(self, partition: int, ledger: Ledger) -> None:
        self._ledgers[partition] = ledger

    def drop(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._ledgers.pop(partition, None)

    def partitions(self) -> list[int]:
        return sorted(self._ledgers)

    def processors(self) -> list[Processor]:
        return [self._ledgers[number].processor for number in sorted(self._ledgers)]

    def has_applied(self, event: CloudEvent[Any]) -> bool:
        return self.of(event.orgid).has_applied(event)

    def handle(self, event: CloudEvent[Any]) -> list[CloudEvent[Any]]:
        return self.of(event.orgid).handle(event)

    def decisions_following(
        self, outputs: Sequence[CloudEvent[Any]]
    ) -> list[list[CloudEvent[Any]]]:
        if not outputs:
            return []
        return self.of(outputs[0].orgid).decisions_following(outputs)

    def outputs(self, cause: CloudEventAttributes, emits: Sequence[Emit]) -> list[CloudEvent[Any]]:
        return self.of(cause.orgid).outputs(cause, emits)

    def measures(self) -> dict[str, float]:
        """Every partition's measures, summed (they are sizes and counts)."""
        total: Counter[str] = Counter()
        for processor in self.processors():
            total.update(processor.measures())
        return {name: float(value) for name, value in total.items()}
