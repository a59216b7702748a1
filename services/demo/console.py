"""What the demo prints, week by week: rounds, buddies, check-ins, notifications."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import typer

from schemas import CloudEvent
from schemas.coffee import CoffeeMatched, CoffeeRoundCompleted, CoffeeUnmatched
from schemas.notifications import NotificationFailed, NotificationSent
from schemas.onboarding import (
    BuddyAssigned,
    BuddyReassigned,
    BuddyUnavailable,
    CheckinDue,
    OnboardingCompleted,
)

SAMPLE_GROUPS = 3
MESSAGE_LINES = 14


def heading(text: str) -> None:
    typer.secho(f"\n── {text} " + "─" * max(0, 70 - len(text)), bold=True)


def week_report(
    week: int,
    monday: date,
    events: Sequence[CloudEvent[Any]],
    arrived: Sequence[CloudEvent[Any]],
    names: Mapping[str, str],
    console_messages: Sequence[str],
    outbox_files: int,
) -> None:
    """``events`` happened in the week (domain time); ``arrived`` were published while the week
    was simulated: deliveries wait for the recipients' working hours, so they are counted when
    they happen, whatever the time of the event that caused them."""
    heading(f"Week {week} · {monday:%d %b %Y}")
    _round(events, names)
    _onboarding(events, names)
    _notifications(arrived, console_messages, outbox_files)


def _name(names: Mapping[str, str], member_id: str) -> str:
    return names.get(member_id, member_id)


def _of(events: Sequence[CloudEvent[Any]], kind: type[Any]) -> list[Any]:
    return [e.data for e in events if isinstance(e.data, kind)]


def _round(events: Sequence[CloudEvent[Any]], names: Mapping[str, str]) -> None:
    for done in _of(events, CoffeeRoundCompleted):
        typer.echo(
            f"Coffee round {done.round_id}: {done.participants} people, {done.groups} groups "
            f"({done.trios} trio{'s' if done.trios != 1 else ''}), {done.unmatched} unmatched; "
            f"cross-team {done.cross_team_share:.0%}, first-time {done.first_time_share:.0%}"
        )
        groups = [g for g in _of(events, CoffeeMatched) if g.round_id == done.round_id]
        shown = sorted(groups, key=lambda g: (-len(g.participants), g.group_id))[:SAMPLE_GROUPS]
        for group in shown:
            people = " + ".join(_name(names, p.member_id) for p in group.participants)
            where = f"in person, {group.office}" if group.mode == "in_person" else "video"
            typer.echo(f"  • {people} ({where}, {group.slot_start:%a %H:%M} UTC)")
            typer.echo(f"      {'; '.join(group.reasons)}")
        for left in [u for u in _of(events, CoffeeUnmatched) if u.round_id == done.round_id]:
            typer.echo(f"  ✗ {_name(names, left.member_id)}: {left.reason}")


def _onboarding(events: Sequence[CloudEvent[Any]], names: Mapping[str, str]) -> None:
    lines: list[str] = []
    for assigned in _of(events, BuddyAssigned):
        reasons = "; ".join(assigned.reasons)
        lines.append(
            f"  ★ {_name(names, assigned.new_hire_id)} → buddy "
            f"{_name(names, assigned.buddy_id)} ({reasons})"
        )
    for changed in _of(events, BuddyReassigned):
        lines.append(
            f"  ↻ {_name(names, changed.new_hire_id)}: new buddy "
            f"{_name(names, changed.buddy_id)} ({changed.reason})"
        )
    for missing in _of(events, BuddyUnavailable):
        lines.append(f"  … {_name(names, missing.new_hire_id)}: no buddy yet ({missing.reason})")
    due = Counter(d.label for d in _of(events, CheckinDue))
    if due:
        lines.append("  check-ins due: " + ", ".join(f"{label} x{n}" for label, n in due.items()))
    for done in _of(events, OnboardingCompleted):
        lines.append(f"  ✓ onboarding of {_name(names, done.new_hire_id)} completed")
    if lines:
        typer.echo("Onboarding:")
        for line in lines:
            typer.echo(line)


def _notifications(
    events: Sequence[CloudEvent[Any]], console_messages: Sequence[str], outbox_files: int
) -> None:
    sent = Counter(n.channel for n in _of(events, NotificationSent))
    outcomes = _of(events, NotificationFailed)
    if not sent and not outcomes:
        return
    # Not attempted at all: no longer useful when it could go (a reminder whose recipient's
    # working hours began only after the ritual did). Not a failure to deliver: said apart.
    not_sent = Counter(f.reason for f in outcomes if f.attempts == 0)
    failed = len(outcomes) - sum(not_sent.values())
    channels = ", ".join(f"{channel} {count}" for channel, count in sorted(sent.items()))
    typer.echo(
        f"Notifications: {sum(sent.values())} sent ({channels}), {failed} failed; "
        f"{outbox_files} e-mails with invitations in the outbox so far"
    )
    for reason, count in sorted(not_sent.items()):
        typer.echo(f"  {count} not sent, no longer useful: {reason}")
    if console_messages:
        # Said as the latest sent: printed after the "not sent" lines, "one of them" read as
        # one of those.
        typer.echo("  The latest sent, as the console channel printed it:")
        for line in console_messages[-1].splitlines()[:MESSAGE_LINES]:
            typer.echo(f"  │ {line}")


def in_week(monday: date) -> Callable[[CloudEvent[Any]], bool]:
    def belongs(event: CloudEvent[Any]) -> bool:
        return 0 <= (event.time.date() - monday).days < 7

    return belongs
