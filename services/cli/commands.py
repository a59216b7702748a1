"""Commands that publish events: members, rounds, rituals, feedback."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from schemas import CloudEvent
from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched, CoffeeRoundRequested
from schemas.members import MemberLeft, MemberOptedOut, MemberPaused, MemberResumed
from schemas.rituals import RitualHeld, RitualKind, RitualScheduled
from services.cli.context import directory_of, envelope, fail, history, now_or, publish
from services.cli.roster import changes, parse_roster
from services.common.domain.working_hours import week_monday

members_app = typer.Typer(help="Members of an organisation's programme.", no_args_is_help=True)
round_app = typer.Typer(help="Coffee rounds.", no_args_is_help=True)
ritual_app = typer.Typer(help="Team rituals.", no_args_is_help=True)

Org = Annotated[str, typer.Option("--org", help="Organisation id.")]
At = Annotated[
    datetime | None,
    typer.Option("--at", help="Domain time of the event (default: now, UTC)."),
]


@members_app.command("import")
def import_members(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV file, one member per row.", exists=True, dir_okay=False, readable=True
        ),
    ],
    org: Org,
    at: At = None,
    dry_run: Annotated[bool, typer.Option(help="Show the changes, publish nothing.")] = False,
) -> None:
    """Validate every row, then publish joined / profile_updated / left for the differences
    against the current directory. A file with any error publishes nothing."""
    roster = parse_roster(file.read_text(encoding="utf-8-sig"))
    if roster.errors:
        for error in roster.errors:
            typer.secho(f"{file.name}: {error}", fg=typer.colors.RED, err=True)
        fail(f"{len(roster.errors)} error(s) in {file.name}: nothing was published")
    payloads = changes(directory_of(org), org, roster.profiles)
    counts: dict[str, int] = {}
    for payload in payloads:
        kind = payload.event_type.rsplit(".", 1)[-1]
        counts[kind] = counts.get(kind, 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no changes"
    if dry_run or not payloads:
        typer.echo(f"{len(roster.profiles)} rows valid; {summary}{' (dry run)' if dry_run else ''}")
        return
    moment = now_or(at)
    events = [envelope(p, org, moment, subject=getattr(p, "member_id", None)) for p in payloads]
    with typer.progressbar(length=len(events), label="publishing", file=sys.stderr) as progress:
        for start in range(0, len(events), 500):
            chunk = events[start : start + 500]
            publish(chunk)
            progress.update(len(chunk))
    typer.echo(f"{len(roster.profiles)} rows valid; published {summary}")


def _known_member(org: str, member_id: str) -> None:
    if directory_of(org).member(org, member_id) is None:
        fail(f"no member {member_id!r} in organisation {org!r}")


@members_app.command("pause")
def pause(
    member_id: str,
    org: Org,
    until: Annotated[
        date | None, typer.Option(help="First day back (default: until resumed).")
    ] = None,
    at: At = None,
) -> None:
    """Pause a member (holiday, leave, busy period): not matched meanwhile."""
    _known_member(org, member_id)
    publish([envelope(MemberPaused(member_id=member_id, until=until), org, now_or(at), member_id)])
    typer.echo(f"paused {member_id}" + (f" until {until}" if until else ""))


@members_app.command("resume")
def resume(member_id: str, org: Org, at: At = None) -> None:
    """End a member's pause or opt-out."""
    _known_member(org, member_id)
    publish([envelope(MemberResumed(member_id=member_id), org, now_or(at), member_id)])
    typer.echo(f"resumed {member_id}")


@members_app.command("opt-out")
def opt_out(member_id: str, org: Org, at: At = None) -> None:
    """A member stops taking part (stays in the organisation)."""
    _known_member(org, member_id)
    publish([envelope(MemberOptedOut(member_id=member_id), org, now_or(at), member_id)])
    typer.echo(f"opted out {member_id}")


@members_app.command("leave")
def leave(
    member_id: str,
    org: Org,
    last_day: Annotated[date | None, typer.Option(help="Last working day.")] = None,
    at: At = None,
) -> None:
    """A member leaves the organisation."""
    _known_member(org, member_id)
    payload = MemberLeft(member_id=member_id, last_day=last_day)
    publish([envelope(payload, org, now_or(at), member_id)])
    typer.echo(f"{member_id} left")


@round_app.command("request")
def request_round(
    org: Org,
    week: Annotated[
        date | None, typer.Option(help="Any day of the round's week (default: this week).")
    ] = None,
    round_id: Annotated[str | None, typer.Option(help="Default: coffee-<Monday>.")] = None,
    group_size: Annotated[int, typer.Option(min=2, max=4)] = 2,
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    department: Annotated[str | None, typer.Option(help="Only this department.")] = None,
    programme: Annotated[str | None, typer.Option(help="Only members with this interest.")] = None,
    at: At = None,
) -> None:
    """Request a coffee round now; the matcher answers with the groups."""
    moment = now_or(at)
    day = week or moment.date()
    monday = week_monday(day)
    payload = CoffeeRoundRequested(
        round_id=round_id or f"coffee-{monday.isoformat()}",
        week_starting=monday,
        group_size=group_size,
        team=team,
        department=department,
        programme=programme,
    )
    publish([envelope(payload, org, moment, subject=payload.round_id)])
    typer.echo(f"requested round {payload.round_id} for the week of {monday}")


@ritual_app.command("schedule")
def schedule_ritual(
    org: Org,
    ritual_id: Annotated[str, typer.Option(help="Id of the ritual (same id reschedules).")],
    team: Annotated[str, typer.Option(help="The team it belongs to.")],
    title: Annotated[str, typer.Option(help="e.g. 'Friday drinks'.")],
    rrule: Annotated[str, typer.Option(help="RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=FR.")],
    first_start: Annotated[datetime, typer.Option(help="Local start of the first occurrence.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone of the rule.")] = "UTC",
    kind: Annotated[str, typer.Option(help="checkin, drinks, lunch, daily or other.")] = "other",
    duration: Annotated[int, typer.Option(help="Minutes.")] = 30,
    online_url: Annotated[str | None, typer.Option(help="Link for online occurrences.")] = None,
    office: Annotated[str | None, typer.Option(help="Office for in-person ones.")] = None,
    remind: Annotated[int, typer.Option(help="Reminder, minutes before.")] = 60,
    at: At = None,
) -> None:
    """Schedule (or reschedule) a team's recurring ritual."""
    try:
        payload = RitualScheduled(
            ritual_id=ritual_id,
            team=team,
            title=title,
            kind=_kind(kind),
            rrule=rrule,
            timezone=timezone,
            first_start=first_start.replace(tzinfo=None),
            duration_minutes=duration,
            online_url=online_url,
            office=office,
            remind_minutes_before=remind,
        )
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        fail(f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}")
    publish([envelope(payload, org, now_or(at), subject=ritual_id)])
    typer.echo(f"scheduled {ritual_id} ({title}) for {team}")


def _kind(kind: str) -> RitualKind:
    if kind not in ("checkin", "drinks", "lunch", "daily", "other"):
        fail(f"unknown ritual kind {kind!r}: checkin, drinks, lunch, daily or other")
    return kind  # type: ignore[return-value]


@ritual_app.command("held")
def ritual_held(
    org: Org,
    ritual_id: Annotated[str, typer.Option(help="The ritual.")],
    occurrence: Annotated[
        datetime, typer.Option(help="Start of the occurrence (UTC if no offset).")
    ],
    attendees: Annotated[str, typer.Option(help="Member ids, comma-separated.")] = "",
    at: At = None,
) -> None:
    """Record that an occurrence took place and who attended."""
    ids = tuple(a.strip() for a in attendees.split(",") if a.strip())
    payload = RitualHeld(ritual_id=ritual_id, occurrence_start=now_or(occurrence), attendee_ids=ids)
    publish([envelope(payload, org, now_or(at), subject=ritual_id)])
    typer.echo(f"recorded {ritual_id} at {payload.occurrence_start} with {len(ids)} attendee(s)")


def feedback(
    org: Org,
    round_id: Annotated[str, typer.Option("--round", help="The round.")],
    group_id: Annotated[str, typer.Option("--group", help="The group.")],
    member_id: Annotated[str, typer.Option("--member", help="Who gives the feedback.")],
    met: Annotated[bool, typer.Option("--met/--did-not-meet", help="Did the meeting happen?")],
    rating: Annotated[int | None, typer.Option(min=1, max=5, help="1 (poor) to 5.")] = None,
    at: At = None,
) -> None:
    """Feedback on a coffee: it feeds the matcher's history and the insights. Only the group's
    participants can answer for it."""
    refusal = feedback_refusal(history(org), round_id, group_id, member_id)
    if refusal is not None:
        fail(f"{refusal}: nothing was published")
    payload = CoffeeFeedbackGiven(
        round_id=round_id, group_id=group_id, member_id=member_id, met=met, rating=rating
    )
    publish([envelope(payload, org, now_or(at), subject=group_id)])
    typer.echo(f"feedback recorded for {group_id}")


def feedback_refusal(
    events: Iterable[CloudEvent[Any]], round_id: str, group_id: str, member_id: str
) -> str | None:
    """Why feedback cannot be taken (None: it can): only a participant of a matched group can
    say whether it happened."""
    participants: tuple[str, ...] | None = None
    for event in events:
        group = event.data
        if isinstance(group, CoffeeMatched) and (group.round_id, group.group_id) == (
            round_id,
            group_id,
        ):
            participants = tuple(p.member_id for p in group.participants)
    if participants is None:
        return f"no group {group_id!r} was matched in round {round_id!r}"
    if member_id not in participants:
        return (
            f"{member_id!r} was not in group {group_id!r} of round {round_id!r}: only its "
            "participants can answer for it"
        )
    return None
