"""What ``ritual schedule`` and ``ritual held`` check before publishing anything: pure functions
of the organisation's history and of the command's now (tested in
tests/unit/cli/test_ritual_commands.py, end to end in tests/integration/test_cli_commands.py).

Times are read the same way by both commands (``schemas.recurrence.local_time``): a time without
offset is local to the ritual's zone, a time with an offset is that instant, converted to the
ritual's zone. What a rule may be is ``schemas.recurrence``'s one rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from schemas import CloudEvent
from schemas.members import MemberJoined, MemberProfileUpdated
from schemas.recurrence import (
    RecurrenceError,
    ending_on,
    local_time,
    parse_recurrence,
    stale_first_start_refusal,
)
from schemas.rituals import RitualCancelled, RitualHeld, RitualScheduled
from services.common.domain.directory import MemberDirectory, MemberStatus


class RefusedError(Exception):
    """A command's input it will not publish; the message says why, for a person."""


def validation_message(error: ValidationError) -> str:
    """The first problem of a payload, readable: ``field: why`` (``why`` alone for the whole)."""
    problem = error.errors(include_url=False)[0]
    message = str(problem["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {message}" if where else message


def zone_of(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RefusedError(f"timezone: unknown time zone {timezone!r} (an IANA name)") from None


def local_first_start(first_start: datetime, timezone: str) -> datetime:
    """``--first-start`` as the local time the event carries: local to ``--timezone`` without
    an offset, converted to it with one."""
    try:
        return local_time(first_start, zone_of(timezone), what="first start")
    except RecurrenceError as error:
        raise RefusedError(str(error)) from None


def teams(events: Iterable[CloudEvent[Any]], org: str) -> set[str]:
    """Teams of the organisation's members who have not left."""
    directory = MemberDirectory()
    for event in events:
        if event.type.startswith("rituals.member."):
            directory.apply(event)
    return {m.profile.team for m in directory.members(org) if m.status is not MemberStatus.LEFT}


def schedule_refusal(
    events: Sequence[CloudEvent[Any]], org: str, ritual: RitualScheduled, now: datetime
) -> str | None:
    """Why a (re)schedule is refused, None when it is not: the team must have members, and a new
    series may not start more than a year before now (a reschedule keeping the first start of
    the ritual may). The rule itself was checked by the payload's schema."""
    known = teams(events, org)
    if ritual.team not in known:
        listed = ", ".join(sorted(known)) or "none: import the members first"
        return f"team {ritual.team!r} has no members in organisation {org!r} (teams: {listed})"
    earlier = [
        s for s in schedules(events, ritual.ritual_id) if s.first_start == ritual.first_start
    ]
    start = ritual.first_start.replace(tzinfo=ZoneInfo(ritual.timezone)).astimezone(UTC)
    return None if earlier else stale_first_start_refusal(start, now)


def schedule_warnings(ritual: RitualScheduled, now: datetime) -> list[str]:
    """What is accepted but probably not meant: a series with no occurrence after now."""
    recurrence = parse_recurrence(ritual.rrule, ritual.first_start, ritual.timezone)
    if not recurrence.fires_after(now):
        return [
            f"the rule {ritual.rrule!r} has no occurrence after now ({now.isoformat()}): "
            "nobody will be reminded"
        ]
    return []


def schedules(events: Iterable[CloudEvent[Any]], ritual_id: str) -> list[RitualScheduled]:
    return [
        e.data
        for e in events
        if isinstance(e.data, RitualScheduled) and e.data.ritual_id == ritual_id
    ]


@dataclass(frozen=True)
class HeldOccurrence:
    """What ``ritual held`` publishes once it is accepted."""

    occurrence_start: datetime
    """UTC."""
    local_start: datetime
    """Local to the ritual's zone, naive: for the command's answer."""
    attendee_ids: tuple[str, ...]


def held_occurrence(
    events: Sequence[CloudEvent[Any]],
    org: str,
    ritual_id: str,
    occurrence: datetime,
    attendees: Sequence[str],
    now: datetime,
) -> HeldOccurrence:
    """Check a ``ritual held`` against the history; RefusedError saying why. The ritual must be
    scheduled; ``occurrence`` (local to its zone unless it has an offset) one of its occurrences
    under any of its schedules, not after ``now``, not cancelled, not recorded as held already;
    every attendee a member of the organisation who is or was in the ritual's team."""
    versions = _scheduled(events, org, ritual_id)
    latest = versions[-1]
    zone = ZoneInfo(latest.timezone)
    local, start, shown = _occurrence_of(occurrence, latest)
    if start > now:
        raise RefusedError(f"the occurrence {shown} is after now ({now.isoformat()}): not held yet")
    recurrences = [parse_recurrence(v.rrule, v.first_start, v.timezone) for v in versions]
    if not any(r.is_occurrence(start) for r in recurrences):
        before = max(
            (p for r in recurrences if (p := r.last_before(now)) is not None), default=None
        )
        hint = (
            f" (the latest by now: {before.astimezone(zone).replace(tzinfo=None).isoformat()})"
            if before
            else ""
        )
        raise RefusedError(f"{shown} is not an occurrence of {ritual_id!r}{hint}")
    _check_not_cancelled_nor_held(events, ritual_id, start, shown)
    ids = tuple(attendees)
    duplicates = sorted({a for a in ids if ids.count(a) > 1})
    if duplicates:
        raise RefusedError(f"attendees given twice: {', '.join(duplicates)}")
    team_history = _teams_of_members(events, org)
    for member_id in ids:
        if member_id not in team_history:
            raise RefusedError(f"no member {member_id!r} in organisation {org!r}")
        if latest.team not in team_history[member_id]:
            raise RefusedError(
                f"{member_id!r} is not in team {latest.team!r} of {ritual_id!r} "
                f"(in {', '.join(sorted(team_history[member_id]))})"
            )
    return HeldOccurrence(start, local, ids)


def cancelled_occurrence(
    events: Sequence[CloudEvent[Any]],
    org: str,
    ritual_id: str,
    occurrence: datetime | None,
    now: datetime,
) -> datetime | None:
    """Check a ``ritual cancel`` against the history; the occurrence's UTC start (None: the
    whole series), or RefusedError saying why. The ritual must be scheduled and its series not
    cancelled; an occurrence (read as for ``held``) must be one of its coming occurrences, not
    cancelled nor held already."""
    latest = _scheduled(events, org, ritual_id)[-1]
    if _series_cancelled_at(events, ritual_id) is not None:
        raise RefusedError(f"the series {ritual_id!r} is cancelled already")
    if occurrence is None:
        return None
    _local, start, shown = _occurrence_of(occurrence, latest)
    if start <= now:
        raise RefusedError(f"the occurrence {shown} has started already (now {now.isoformat()})")
    if not parse_recurrence(latest.rrule, latest.first_start, latest.timezone).is_occurrence(start):
        raise RefusedError(f"{shown} is not an occurrence of {ritual_id!r}")
    _check_not_cancelled_nor_held(events, ritual_id, start, shown)
    return start


def ended_schedule(
    events: Sequence[CloudEvent[Any]], org: str, ritual_id: str, last_day: date, now: datetime
) -> RitualScheduled:
    """The ritual's latest schedule, ending after ``last_day`` (a local date of its zone); or
    RefusedError saying why: an unknown ritual, a cancelled series, a last day already past (to
    stop a series now, cancel it), or an end that leaves no occurrence at all."""
    latest = _scheduled(events, org, ritual_id)[-1]
    if _series_cancelled_at(events, ritual_id) is not None:
        raise RefusedError(f"the series {ritual_id!r} is cancelled already")
    today = now.astimezone(ZoneInfo(latest.timezone)).date()
    if last_day < today:
        raise RefusedError(
            f"{last_day} is past (today is {today} in {latest.timezone}): to stop the series "
            "now, cancel it"
        )
    rule = ending_on(latest.rrule, last_day)
    try:
        return RitualScheduled.model_validate({**latest.model_dump(), "rrule": rule})
    except ValidationError as error:  # e.g. an end before the first occurrence
        raise RefusedError(validation_message(error)) from None


def _scheduled(
    events: Iterable[CloudEvent[Any]], org: str, ritual_id: str
) -> list[RitualScheduled]:
    """Every schedule of the ritual, oldest first; RefusedError when it was never scheduled."""
    versions = schedules(events, ritual_id)
    if not versions:
        raise RefusedError(f"no ritual {ritual_id!r} was scheduled in organisation {org!r}")
    return versions


def _occurrence_of(occurrence: datetime, ritual: RitualScheduled) -> tuple[datetime, datetime, str]:
    """An occurrence as given (local to the ritual's zone unless it has an offset): its local
    start, its UTC start, and how a message shows it."""
    zone = ZoneInfo(ritual.timezone)
    try:
        local = local_time(occurrence, zone, what="occurrence")
    except RecurrenceError as error:
        raise RefusedError(str(error)) from None
    shown = f"{local.isoformat(timespec='minutes')} {ritual.timezone}"
    return local, local.replace(tzinfo=zone).astimezone(UTC), shown


def _series_cancelled_at(events: Iterable[CloudEvent[Any]], ritual_id: str) -> datetime | None:
    """When the whole series was last cancelled, unless it was scheduled again since."""
    cancelled_at: datetime | None = None
    for event in events:
        data = event.data
        if getattr(data, "ritual_id", None) != ritual_id:
            continue
        if isinstance(data, RitualScheduled):
            cancelled_at = None  # scheduled again
        elif isinstance(data, RitualCancelled) and data.occurrence_start is None:
            cancelled_at = event.time
    return cancelled_at


def _check_not_cancelled_nor_held(
    events: Sequence[CloudEvent[Any]], ritual_id: str, start: datetime, shown: str
) -> None:
    for event in events:
        data = event.data
        if getattr(data, "ritual_id", None) != ritual_id:
            continue
        if isinstance(data, RitualHeld) and data.occurrence_start == start:
            raise RefusedError(f"{ritual_id!r} at {shown} is already recorded as held")
        if isinstance(data, RitualCancelled) and data.occurrence_start == start:
            raise RefusedError(f"{ritual_id!r} at {shown} was cancelled")
    series_cancelled_at = _series_cancelled_at(events, ritual_id)
    if series_cancelled_at is not None and series_cancelled_at < start:
        raise RefusedError(f"the series {ritual_id!r} was cancelled before {shown}")


def _teams_of_members(events: Iterable[CloudEvent[Any]], org: str) -> dict[str, set[str]]:
    """Every team each member of the organisation was ever in."""
    found: dict[str, set[str]] = {}
    for event in events:
        data = event.data
        if event.orgid == org and isinstance(data, MemberJoined | MemberProfileUpdated):
            found.setdefault(data.member_id, set()).add(data.team)
    return found
