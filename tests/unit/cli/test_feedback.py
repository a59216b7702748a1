"""Who may give feedback on a coffee: only the group's participants (the rest is refused before
anything is published; end to end in tests/integration/test_cli_commands.py)."""

from __future__ import annotations

from services.cli.commands import feedback_refusal
from tests.factories import T0
from tests.unit.insights.support import matched

HISTORY = [matched("r1", "g1", ("a1", "b1"), T0), matched("r1", "g2", ("a2", "b2"), T0)]


def test_a_participant_may_answer_for_their_group() -> None:
    assert feedback_refusal(HISTORY, "r1", "g1", "a1") is None
    assert feedback_refusal(HISTORY, "r1", "g1", "b1") is None


def test_someone_outside_the_group_is_refused() -> None:
    refusal = feedback_refusal(HISTORY, "r1", "g1", "a2")
    assert refusal == (
        "'a2' was not in group 'g1' of round 'r1': only its participants can answer for it"
    )


def test_a_group_that_was_never_matched_is_refused() -> None:
    assert feedback_refusal(HISTORY, "r2", "g1", "a1") == (
        "no group 'g1' was matched in round 'r2'"
    )
    assert feedback_refusal([], "r1", "g1", "a1") is not None
