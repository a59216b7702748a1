"""Commands that publish events: members, rounds, rituals, feedback."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent
from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched, CoffeeRoundRequested
from schemas.members import (
    MemberErased,
    MemberLeft,
    MemberOptedOut,
    MemberPaused,
    MemberProfile,
    MemberResumed,
)
from schemas.rituals import RitualCancelled, RitualHeld, RitualKind, RitualScheduled
from schemas.sealing import erased_profile
from services.cli.context import (
    SOURCE,
    directory_of,
    envelope,
    fail,
    history,
    key_store_errors_explained,
    now_or,
    publish,
)
from services.cli.erasure import purge_outbox
from services.cli.member_data import SECTIONS, UnknownMemberError, member_data
from services.cli.rituals import (
    RefusedError,
    cancelled_occurrence,
    ended_schedule,
    held_occurrence,
    local_first_start,
    schedule_refusal,
    schedule_warnings,
    validation_message,
    zone_of,
)
from services.cli.roster import parse_roster
from services.common.adapters.history import partition_count
from services.common.domain.working_hours import week_monday
from services.common.member_changes import changes, member_events
from services.common.privacy import configured_vault
from services.common.snapshots import shred_snapshots
from services.notifier.settings import NotifierSettings

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
    events = member_events(payloads, org, moment, SOURCE)
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


@members_app.command("erase")
def erase(member_id: str, org: Org, at: At = None) -> None:
    """Erase a person (GDPR Art. 17): publish member.erased, then destroy their data key (and
    the keys of the services' snapshots that may hold them), so their sealed name, e-mail and
    profile can never be read again, and delete the local
    outbox's e-mails that mention them (docs/privacy.md). Refused (exit code 2, nothing
    changed): an unknown member, one already erased, no key-encryption key configured, a key
    store that cannot be used."""
    with key_store_errors_explained():
        vault = configured_vault()
        if vault is None:
            fail("no key-encryption key configured (RITUALS_KEY_ENCRYPTION_KEY): nothing is sealed")
        profiles = _profiles_of(org, member_id)
        if not profiles:
            fail(f"no member {member_id!r} in organisation {org!r}")
        if profiles[-1].erased and not vault.holds_key(org, member_id):
            fail(f"member {member_id!r} of {org!r} is already erased")
        if not profiles[-1].erased:
            publish([envelope(MemberErased(member_id=member_id), org, now_or(at), member_id)])
        destroyed = vault.erase(org, member_id)
        topics = TopicSettings()
        shred_snapshots(vault, org, partition_count(KafkaSettings(), topics.name(Topic.MEMBERS)))
    outbox = NotifierSettings().email_outbox_dir
    if outbox is not None:
        texts = {text for p in profiles for text in (p.display_name, p.email) if not p.erased}
        typer.echo(f"deleted {purge_outbox(outbox, texts)} e-mail(s) mentioning them from {outbox}")
    if not destroyed:
        typer.secho(
            f"warning: {member_id} has no data key: events written before encryption hold their "
            "data in clear and cannot be shredded (docs/privacy.md)",
            fg=typer.colors.YELLOW,
            err=True,
        )
    typer.echo(f"erased {member_id}" + ("; data key destroyed" if destroyed else ""))


def _profiles_of(org: str, member_id: str) -> list[MemberProfile]:
    """Every profile the member had, oldest first (opened while their key exists)."""
    profiles: list[MemberProfile] = []
    for event in history(org, only=(Topic.MEMBERS,)):
        payload = event.data
        if getattr(payload, "member_id", None) != member_id:
            continue
        if isinstance(payload, MemberProfile):
            profiles.append(payload)
        elif isinstance(payload, MemberErased) and profiles:
            profiles.append(erased_profile(profiles[-1]))
    return profiles


@members_app.command("export-data")
def export_data(
    member_id: str,
    org: Org,
    out: Annotated[Path, typer.Option(help="JSON file to write.", dir_okay=False, writable=True)],
) -> None:
    """Everything held about one person (GDPR Art. 15): profile, status changes, coffee groups
    and feedback, onboarding, team rituals and attendance, notifications; other people appear
    by id only. Refused (exit code 2, nothing written): a member the organisation never had."""
    try:
        document = member_data(history(org), org, member_id, datetime.now(UTC))
    except UnknownMemberError as error:
        fail(str(error))
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = ", ".join(f"{len(document[section])} {section}" for section in SECTIONS.values())
    typer.echo(f"wrote what is held about {member_id} to {out}: {counts}")


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


RITUAL_TOPICS = (Topic.MEMBERS, Topic.RITUALS)
"""What the ritual commands check against: the teams and the ritual's own history."""

TIMES_READ = (
    "Without an offset, local to the ritual's time zone; with one (2026-05-06T16:00+05:00), "
    "that instant, converted to the ritual's zone."
)


@ritual_app.command("schedule")
def schedule_ritual(
    org: Org,
    ritual_id: Annotated[str, typer.Option(help="Id of the ritual (same id reschedules).")],
    team: Annotated[str, typer.Option(help="The team it belongs to (it must have members).")],
    title: Annotated[str, typer.Option(help="e.g. 'Friday drinks'.")],
    rrule: Annotated[
        str,
        typer.Option(
            help="RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=FR: at most daily (DAILY, WEEKLY, "
            "MONTHLY or YEARLY), firing within a year; UNTIL=...Z (UTC), local, or a date."
        ),
    ],
    first_start: Annotated[
        datetime,
        typer.Option(
            help=f"Start of the first occurrence, at most a year ago. {TIMES_READ} A local time "
            "the zone skips (spring forward) is refused; an ambiguous one is the first."
        ),
    ],
    timezone: Annotated[str, typer.Option(help="IANA time zone of the rule.")] = "UTC",
    kind: Annotated[str, typer.Option(help="checkin, drinks, lunch, daily or other.")] = "other",
    duration: Annotated[int, typer.Option(help="Minutes.")] = 30,
    online_url: Annotated[str | None, typer.Option(help="Link for online occurrences.")] = None,
    office: Annotated[str | None, typer.Option(help="Office for in-person ones.")] = None,
    remind: Annotated[int, typer.Option(help="Reminder, minutes before.")] = 60,
    at: At = None,
) -> None:
    """Schedule (or reschedule) a team's recurring ritual. Refused (exit code 2, nothing
    published): a rule a ritual may not have (more than daily, never firing, unreadable), a
    first start that does not exist or is more than a year ago, a team without members."""
    moment = now_or(at)
    try:
        payload = RitualScheduled(
            ritual_id=ritual_id,
            team=team,
            title=title,
            kind=_kind(kind),
            rrule=rrule,
            timezone=zone_of(timezone).key,
            first_start=local_first_start(first_start, timezone),
            duration_minutes=duration,
            online_url=online_url,
            office=office,
            remind_minutes_before=remind,
        )
    except ValidationError as error:
        fail(f"{validation_message(error)}: nothing was published")
    except RefusedError as error:
        fail(f"{error}: nothing was published")
    refusal = schedule_refusal(history(org, RITUAL_TOPICS), org, payload, moment)
    if refusal is not None:
        fail(f"{refusal}: nothing was published")
    for warning in schedule_warnings(payload, moment):
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    publish([envelope(payload, org, moment, subject=ritual_id)])
    typer.echo(
        f"scheduled {ritual_id} ({title}) for {team}, first start "
        f"{payload.first_start.isoformat(timespec='minutes')} {payload.timezone}"
    )


def _kind(kind: str) -> RitualKind:
    if kind not in ("checkin", "drinks", "lunch", "daily", "other"):
        fail(f"unknown ritual kind {kind!r}: checkin, drinks, lunch, daily or other")
    return kind  # type: ignore[return-value]


@ritual_app.command("held")
def ritual_held(
    org: Org,
    ritual_id: Annotated[str, typer.Option(help="The ritual (it must be scheduled).")],
    occurrence: Annotated[
        datetime,
        typer.Option(
            help=f"Start of the occurrence: one of the ritual's, not after now. {TIMES_READ}"
        ),
    ],
    attendees: Annotated[
        str, typer.Option(help="Member ids, comma-separated: members of the ritual's team.")
    ] = "",
    at: At = None,
) -> None:
    """Record that an occurrence took place and who attended. Refused (exit code 2, nothing
    published): an unknown ritual, a time that is not one of its occurrences, a future, cancelled
    or already recorded occurrence, an attendee who is not a member of the ritual's team."""
    moment = now_or(at)
    ids = [a.strip() for a in attendees.split(",") if a.strip()]
    try:
        held = held_occurrence(history(org, RITUAL_TOPICS), org, ritual_id, occurrence, ids, moment)
    except RefusedError as error:
        fail(f"{error}: nothing was published")
    payload = RitualHeld(
        ritual_id=ritual_id,
        occurrence_start=held.occurrence_start,
        attendee_ids=held.attendee_ids,
    )
    publish([envelope(payload, org, moment, subject=ritual_id)])
    typer.echo(
        f"recorded {ritual_id} at {held.local_start.isoformat(timespec='minutes')} "
        f"({held.occurrence_start.isoformat(timespec='minutes')}) with {len(ids)} attendee(s)"
    )


@ritual_app.command("cancel")
def ritual_cancel(
    org: Org,
    ritual_id: Annotated[str, typer.Option(help="The ritual (it must be scheduled).")],
    occurrence: Annotated[
        datetime | None,
        typer.Option(
            help=f"Start of the one occurrence to cancel (a coming one); without it, the whole "
            f"series. {TIMES_READ}"
        ),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, for the participants.")] = "",
    at: At = None,
) -> None:
    """Cancel one coming occurrence of a team ritual, or the whole series: nobody is reminded of
    it. Refused (exit code 2, nothing published): an unknown ritual, a series cancelled already,
    a time that is not a coming occurrence, an occurrence cancelled or held already."""
    moment = now_or(at)
    try:
        start = cancelled_occurrence(
            history(org, RITUAL_TOPICS), org, ritual_id, occurrence, moment
        )
    except RefusedError as error:
        fail(f"{error}: nothing was published")
    payload = RitualCancelled(ritual_id=ritual_id, occurrence_start=start, reason=reason)
    publish([envelope(payload, org, moment, subject=ritual_id)])
    what = "the whole series" if start is None else start.isoformat(timespec="minutes")
    typer.echo(f"cancelled {ritual_id}: {what}")


@ritual_app.command("end")
def ritual_end(
    org: Org,
    ritual_id: Annotated[str, typer.Option(help="The ritual (it must be scheduled).")],
    last_day: Annotated[
        datetime,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="The series' last day (a date in the ritual's time zone), today or later.",
        ),
    ],
    at: At = None,
) -> None:
    """End a team ritual's series after a day: occurrences after it are not held, nobody is
    reminded of them, and people's calendars end the series there. The ritual is rescheduled with
    the same settings and the rule's end (COUNT or UNTIL) replaced. Refused (exit code 2,
    nothing published): an unknown or cancelled ritual, a last day already past (cancel the
    series instead), an end before the first occurrence."""
    moment = now_or(at)
    try:
        payload = ended_schedule(
            history(org, RITUAL_TOPICS), org, ritual_id, last_day.date(), moment
        )
    except RefusedError as error:
        fail(f"{error}: nothing was published")
    for warning in schedule_warnings(payload, moment):
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    publish([envelope(payload, org, moment, subject=ritual_id)])
    typer.echo(f"{ritual_id} ends after {last_day.date()} ({payload.timezone}): {payload.rrule}")


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
    refusal = feedback_refusal(history(org, (Topic.COFFEE,)), round_id, group_id, member_id)
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
