"""The buddy policy: who may be a buddy, who is preferred, how the load is shared and when the
check-ins are. One policy per organisation, with a platform-wide default."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

CheckinLabel = Annotated[str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True)]


class CheckinPoint(BaseModel):
    """One check-in of the rhythm: a label people read and its distance from the start date."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: CheckinLabel = Field(description="What people read, e.g. 'week 4'.")
    after_days: int = Field(ge=0, le=3650, description="Days after the start date (0 = day 1).")

    @property
    def checkin_id(self) -> str:
        """The label as an identifier: 'week 4' becomes 'week-4'."""
        return re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-") or "checkin"


DEFAULT_RHYTHM: tuple[CheckinPoint, ...] = tuple(
    CheckinPoint(label=label, after_days=days)
    for label, days in (
        ("day 1", 0),
        ("week 1", 7),
        ("week 2", 14),
        ("week 4", 28),
        ("week 8", 56),
        ("week 12", 84),
    )
)


class BuddyPolicy(BaseModel):
    """The rules of one organisation. Every field has the default the issue asks for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_tenure_months: int = Field(
        default=6, ge=0, le=600, description="A buddy has been in the organisation this long."
    )
    min_overlap_hours: float = Field(
        default=2.0,
        ge=0,
        le=24,
        description="A buddy and the new hire share a stretch of working time this long on at "
        "least one day of the week.",
    )
    max_active_buddies: int = Field(
        default=2, ge=1, le=100, description="New hires one person looks after at the same time."
    )
    volunteers_only: bool = Field(
        default=False, description="Only members who volunteered may be chosen."
    )
    new_hire_window_days: int = Field(
        default=90,
        ge=0,
        le=3650,
        description="A member joining with the new-hire flag is onboarded when their start date "
        "is at most this many days ago (a stale flag does not start an onboarding).",
    )
    checkin_rhythm: tuple[CheckinPoint, ...] = Field(
        default=DEFAULT_RHYTHM, min_length=1, description="The check-ins, in order."
    )
    checkin_minutes_after_start: int = Field(
        default=60,
        ge=0,
        le=720,
        description="A check-in is due this long after the new hire's working day starts "
        "(at the start when the working day is shorter).",
    )

    @model_validator(mode="after")
    def _distinct_checkins(self) -> BuddyPolicy:
        ids = [point.checkin_id for point in self.checkin_rhythm]
        if len(set(ids)) != len(ids):
            raise ValueError("check-in labels must be distinct")
        return self


@dataclass(frozen=True)
class PolicyBook:
    """The default policy and the organisations that differ from it."""

    default: BuddyPolicy = field(default_factory=BuddyPolicy)
    organisations: Mapping[str, BuddyPolicy] = field(default_factory=dict)

    def for_org(self, org_id: str) -> BuddyPolicy:
        return self.organisations.get(org_id, self.default)
