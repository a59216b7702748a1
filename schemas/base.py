"""Building blocks shared by the payload models."""

from __future__ import annotations

from datetime import time
from typing import Annotated, ClassVar, Literal
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)


class EventPayload(BaseModel):
    """Base of every event payload: frozen, and tolerant of fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    """The CloudEvents ``type`` of the event, e.g. ``rituals.member.joined``."""
    version: ClassVar[int] = 1
    """Version of the payload schema; a breaking change needs a new version and an upcaster."""


class ValueObject(BaseModel):
    """Frozen value nested inside a payload."""

    model_config = ConfigDict(frozen=True, extra="ignore")


Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
]
"""An identifier chosen by the organisation or the platform (member id, round id, ...)."""

from schemas.text import Label as Label  # noqa: E402 (one definition, re-exported here)

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
"""A BCP 47 language tag such as ``en``, ``nl`` or ``en-GB``."""

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
"""A day of the week, as the first three letters of its English name."""

Channel = Literal["email", "slack", "teams", "webhook", "console"]
"""A channel the notifier can deliver through."""

_KNOWN_TIMEZONES: frozenset[str] = frozenset()


def _check_timezone(name: str) -> str:
    global _KNOWN_TIMEZONES
    if not _KNOWN_TIMEZONES:
        _KNOWN_TIMEZONES = frozenset(available_timezones())
    if name not in _KNOWN_TIMEZONES:
        # The name is not repeated: rejection details must not echo input (personal data).
        raise ValueError("not a known IANA time zone name")
    return name


TimeZoneName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_check_timezone),
    Field(examples=["Europe/Amsterdam", "America/New_York"]),
]
"""An IANA time zone name, e.g. ``Europe/Amsterdam``."""

EmailAddress = Annotated[
    str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]
"""An e-mail address (personal data: never logged)."""


def _check_local_time(moment: time) -> time:
    if moment.tzinfo is not None:
        raise ValueError("a local time of day, without a UTC offset")
    return moment


LocalTime = Annotated[
    time,
    AfterValidator(_check_local_time),
    Field(json_schema_extra={"pattern": r"^[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$"}),
]
"""A time of day in the member's own time zone (the zone is a separate field)."""


class WorkingHours(ValueObject):
    """When a person works, in their own time zone."""

    start: LocalTime = Field(description="Local start of the working day, e.g. 09:00.")
    end: LocalTime = Field(description="Local end of the working day, e.g. 17:30; after start.")
    days: tuple[Weekday, ...] = Field(
        default=("mon", "tue", "wed", "thu", "fri"), description="Working days of the week."
    )

    @model_validator(mode="after")
    def _end_after_start(self) -> WorkingHours:
        if self.end <= self.start:
            raise ValueError("working hours must end after they start")
        return self
