"""Pulse events (topic ``rituals.pulse``): a short, optional weekly question, "How connected did
you feel to your colleagues this week?", answered 1-5 with one click."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from schemas.base import EventPayload, Identifier

PULSE_SCORES = (1, 2, 3, 4, 5)


class PulseAsked(EventPayload):
    """A member is asked the week's pulse question (decided by the matcher on the clock, for
    members taking part that week, when the organisation has the pulse on)."""

    event_type: ClassVar[str] = "rituals.pulse.asked"

    week_starting: date = Field(description="Monday of the week the question is about.")
    member_id: Identifier = Field(description="The member asked.")


class PulseAnswered(EventPayload):
    """A member answered the week's pulse question. A member's latest answer of a week counts;
    insights show only aggregates of groups of at least 5 answers."""

    event_type: ClassVar[str] = "rituals.pulse.answered"

    week_starting: date = Field(description="Monday of the week the answer is about.")
    member_id: Identifier = Field(description="Who answered.")
    score: int = Field(ge=1, le=5, description="1 (not connected at all) to 5 (very connected).")
