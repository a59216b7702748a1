"""What an organisation decides about its coffee rounds: weights, constraints and cadence.

Every number here is a setting (see docs/matcher.md): the defaults express the product's view
that meeting someone new matters most, then meeting across teams, then comfort (overlapping
hours, shared interests, an office day in common).
"""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import Identifier, TimeZoneName, Weekday


class MatchingWeights(BaseModel):
    """Points a pair earns; a group's score is the mean over its pairs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_time: float = Field(default=100.0, description="The two never met in a round.")
    repeat_base: float = Field(
        default=10.0, description="They met before (outside the forbidden window)..."
    )
    repeat_per_round: float = Field(
        default=2.0, description="...plus this per round since, up to half of first_time."
    )
    cross_team: float = Field(default=30.0, description="They work in different teams.")
    cross_department: float = Field(default=10.0, description="...and different departments.")
    overlap: float = Field(default=10.0, description="For overlap_cap_minutes of shared hours.")
    overlap_cap_minutes: int = Field(default=600, ge=1, description="Overlap worth full points.")
    shared_interest: float = Field(default=5.0, description="Per shared interest, at most 3.")
    office_day: float = Field(default=15.0, description="Same office on a shared office day.")
    new_hire_cross_team: float = Field(
        default=25.0, description="A new hire meets someone from another team."
    )
    new_hire_same_team: float = Field(
        default=-25.0, description="A new hire meets their own team (they do anyway)."
    )


class Priority(BaseModel):
    """Who is matched first: points added to every pair of a member the matcher finds left out,
    and to pairs that join two teams with few links. The matcher decides from its own history
    of rounds (no clock), so a replay decides the same (see docs/matcher.md, "Priority")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    quiet_rounds: int = Field(
        default=4, ge=1, description="Rounds in a row without a coffee that make a member quiet."
    )
    quiet: float = Field(default=40.0, ge=0, description="Per pair of a quiet member.")
    new_hire_connections: int = Field(
        default=5, ge=0, description="A new hire who has met fewer people than this..."
    )
    new_hire_few_connections: float = Field(
        default=40.0, ge=0, description="...earns this per pair."
    )
    team_pair_links: int = Field(
        default=3, ge=0, description="Two teams with fewer coffees between them than this..."
    )
    few_team_links: float = Field(
        default=20.0,
        ge=0,
        description="...earn up to this for a pair across them (all of it with no link yet).",
    )


class Cadence(BaseModel):
    """When the scheduler requests a round for the organisation (driven by clock ticks)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    every: Literal["off", "week", "two_weeks", "month"] = Field(
        default="week", description="How often: two_weeks = even ISO weeks; month = first weekday."
    )
    weekday: Weekday = Field(default="mon", description="Day of the week rounds are requested.")
    at: time = Field(default=time(8, 0), description="Local time of day of the request.")
    timezone: TimeZoneName = Field(default="UTC", description="Time zone of weekday and at.")
    group_size: int = Field(default=2, ge=2, le=4, description="People per group.")


class PulseSetting(BaseModel):
    """The weekly pulse question ("How connected did you feel to your colleagues this week?",
    1-5): off unless the organisation turns it on. Asked once a week, at ``weekday`` ``at`` in
    the cadence's time zone, of every member taking part that day (not paused, not opted out)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=False, description="Ask the weekly pulse question.")
    weekday: Weekday = Field(default="fri", description="Day of the week it is asked.")
    at: time = Field(default=time(14, 0), description="Local time of day it is asked.")


class CoffeePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: MatchingWeights = MatchingWeights()
    cadence: Cadence = Cadence()
    pulse: PulseSetting = PulseSetting()
    priority: Priority = Priority()
    repeat_window_rounds: int = Field(
        default=6,
        ge=0,
        description="A pair that met within this many rounds is not paired again "
        "while anybody else is available.",
    )
    missed_window_rounds: int = Field(
        default=1, ge=0, description="The same for a pair whose meeting did not happen (feedback)."
    )
    min_overlap_minutes: int = Field(
        default=30, ge=0, description="Shared working time a pair needs in the round's week."
    )
    slot_minutes: int = Field(default=30, ge=5, le=240, description="Length of a coffee.")
    notice_hours: int = Field(
        default=20,
        ge=0,
        description="A suggested slot starts at least this long after the request.",
    )
    new_hire_days: int = Field(
        default=90, ge=0, description="How long after the start date someone is a new hire."
    )
    exclude_manager_pairs: bool = Field(
        default=True, description="Never pair a manager with a direct report."
    )
    do_not_pair: tuple[tuple[Identifier, Identifier], ...] = Field(
        default=(), description="Pairs of member ids that are never matched."
    )
