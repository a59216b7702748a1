"""The weekly pulse ("How connected did you feel to your colleagues this week?", 1-5): which
answer counts and what may be shown of a group's answers. Pure.

- A member's **latest** answer of a week counts (in the order the history is read: domain time,
  then the history's own order): someone who clicks 2 and then 4 has answered 4. Clicking the
  same link twice is one event (the gateway derives its id from the link).
- A group's answers are shown only as an aggregate, and only when the group has at least
  ``MIN_ANSWERS`` answers in the week; below that there is no figure at all ("fewer than 5
  answers"), so no answer can be traced to a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

MIN_ANSWERS = 5
"""Fewer answers than this in a group: no figure."""
FEWER_THAN_MIN = f"fewer than {MIN_ANSWERS} answers"


@dataclass(frozen=True)
class PulseFigure:
    """A group's pulse in one week: how many answered and, from MIN_ANSWERS on, the mean."""

    answers: int
    mean: float | None

    @property
    def shown(self) -> bool:
        return self.mean is not None


def pulse_figure(scores: Iterable[int]) -> PulseFigure:
    """The aggregate of a group's scores: the mean (2 decimals) only for MIN_ANSWERS or more."""
    counted = list(scores)
    if len(counted) < MIN_ANSWERS:
        return PulseFigure(len(counted), None)
    return PulseFigure(len(counted), round(sum(counted) / len(counted), 2))


@dataclass
class PulseAnswers:
    """Every member's counted answer per week, folded in history order (the latest counts)."""

    by_week: dict[date, dict[str, int]] = field(default_factory=dict)

    def record(self, week: date, member_id: str, score: int) -> None:
        self.by_week.setdefault(week, {})[member_id] = score

    def weeks(self) -> list[date]:
        return sorted(self.by_week)

    def scores(self, week: date, members: Iterable[str] | None = None) -> list[int]:
        """The counted scores of a week, of ``members`` only when given."""
        answers = self.by_week.get(week, {})
        if members is None:
            return list(answers.values())
        return [answers[m] for m in members if m in answers]

    def forget(self, member_id: str) -> None:
        """An erased member's answers leave the figures."""
        for answers in self.by_week.values():
            answers.pop(member_id, None)
