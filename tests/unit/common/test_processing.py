"""The ledger's guarantees, without a broker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from schemas import CloudEvent
from schemas.members import MemberJoined
from schemas.onboarding import BuddyUnavailable
from services.clock.ticks import ticks
from services.common.domain.projection import DirectoryProcessor
from services.common.processing import Emit, Ledger
from tests.factories import T0, member_joined_event

SOURCE = "/rituals/answering"


class Answering(DirectoryProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.decisions = 0

    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        if not isinstance(event.data, MemberJoined):
            return ()
        self.decisions += 1
        return (
            Emit(BuddyUnavailable(new_hire_id=event.data.member_id, reason="r1")),
            Emit(BuddyUnavailable(new_hire_id=event.data.member_id, reason="r2")),
        )


def test_outputs_are_enveloped_with_their_cause() -> None:
    cause = member_joined_event(member_id="ada")
    outputs = Ledger(Answering(), SOURCE).handle(cause)

    assert [o.data.reason for o in outputs] == ["r1", "r2"]
    assert {o.source for o in outputs} == {SOURCE}
    assert {o.causationid for o in outputs} == {str(cause.id)}
    assert {o.correlationid for o in outputs} == {cause.correlationid}
    assert {o.time for o in outputs} == {cause.time}  # domain time, never the wall clock
    assert {o.orgid for o in outputs} == {cause.orgid}
    assert len({o.id for o in outputs}) == 2


def test_the_same_decision_made_again_yields_the_same_ids() -> None:
    cause = member_joined_event(member_id="ada")
    first = Ledger(Answering(), SOURCE).handle(cause)
    again = Ledger(Answering(), SOURCE).handle(cause)
    assert [o.id for o in first] == [o.id for o in again]


def test_a_duplicate_is_neither_applied_nor_decided_twice() -> None:
    processor = Answering()
    ledger = Ledger(processor, SOURCE)
    cause = member_joined_event(member_id="ada")

    assert ledger.handle(cause)
    assert ledger.handle(cause) == []
    assert processor.decisions == 1
    assert processor.measures()["members_active"] == 1


def test_an_event_whose_outputs_are_in_the_log_is_applied_but_not_decided_again() -> None:
    cause = member_joined_event(member_id="ada")
    outputs = Ledger(Answering(), SOURCE).handle(cause)
    processor = Answering()
    replaying = Ledger(processor, SOURCE)
    for output in outputs:
        replaying.note_outputs(output)

    assert replaying.handle(cause) == []
    assert processor.decisions == 0
    assert processor.measures()["members_active"] == 1


def test_outputs_of_another_service_do_not_count_as_decided() -> None:
    cause = member_joined_event(member_id="ada")
    outputs = Ledger(Answering(), "/rituals/someone-else").handle(cause)
    ledger = Ledger(Answering(), SOURCE)
    for output in outputs:
        ledger.note_outputs(output)
    assert len(ledger.handle(cause)) == 2


def test_published_outputs_are_applied_at_once_and_skipped_when_they_come_back() -> None:
    ledger = Ledger(Answering(), SOURCE)
    outputs = ledger.handle(member_joined_event(member_id="ada"))
    ledger.record_published(outputs)
    assert all(ledger.has_applied(output) for output in outputs)
    assert ledger.handle(outputs[0]) == []


class FoldingBreaksOnItsOutput(Answering):
    """Decides, then cannot fold its own output back in: a bug nobody foresaw."""

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, BuddyUnavailable):
            raise RuntimeError("cannot fold this output")
        super().apply(event)


def test_a_rebuild_keeps_a_decision_whose_output_it_could_not_fold_in() -> None:
    """The decision is published (its output is dead-lettered when it comes back) and the cause
    is reported as failed; the rebuild goes on with the next event."""
    cause, later = member_joined_event(member_id="ada"), member_joined_event(member_id="bob")
    replayed = Ledger(FoldingBreaksOnItsOutput(), SOURCE).replay([cause, later])

    assert [[o.causationid for o in d] for d in replayed.decisions] == [
        [str(cause.id)] * 2,
        [str(later.id)] * 2,
    ]
    assert [event for event, _ in replayed.failures] == [cause, later]


class Ticking(DirectoryProcessor):
    """Counts the ticks it folds and decides."""

    def __init__(self) -> None:
        super().__init__()
        self.folded: list[tuple[str, int]] = []
        self.decided: list[tuple[str, int]] = []

    def apply(self, event: CloudEvent[Any]) -> None:
        super().apply(event)
        self.folded.append((event.orgid, event.data.sequence))

    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        self.decided.append((event.orgid, event.data.sequence))
        return ()


def test_a_tick_is_applied_once_by_its_time_not_its_id() -> None:
    """Domain time never goes back: a tick not after its organisation's latest, a copy or
    another at the same or an earlier time, is neither folded nor decided."""
    processor = Ticking()
    ledger = Ledger(processor, SOURCE)
    (first,) = ticks(["acme"], T0 + timedelta(minutes=1), 1)
    (same_time,) = ticks(["acme"], T0 + timedelta(minutes=1), 2)
    (earlier,) = ticks(["acme"], T0, 3)
    (other_org,) = ticks(["globex"], T0, 4)
    (later,) = ticks(["acme"], T0 + timedelta(minutes=2), 5)

    for tick in (first, first, same_time, earlier, other_org, later):
        ledger.handle(tick)

    assert processor.folded == processor.decided == [("acme", 1), ("globex", 4), ("acme", 5)]
    assert all(ledger.has_applied(tick) for tick in (first, same_time, earlier, later))
    assert ledger.applied_count() == 3
