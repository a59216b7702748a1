"""What happens in the demo organisation, decided from a seed before the clock starts.

Everything is an event at a domain time: the members who are there at the start, the new hires
arriving over the weeks, pauses and departures, the teams' rituals and who attends each
occurrence. Feedback on coffees depends on the matcher's groups, so it is decided as they come
(``feedback_for``), from the group's id.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from schemas import EventPayload
from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched
from schemas.members import MemberJoined, MemberLeft, MemberPaused
from schemas.recurrence import parse_recurrence
from schemas.rituals import RitualHeld, RitualScheduled
from services.common.simulation import OrganisationShape, generate_members

DEMO_ZONES = ("Europe/Amsterdam", "Europe/London", "America/New_York", "Europe/Lisbon")
EMAIL_SHARE = 0.25
"""Members who prefer e-mail (written with their invitations to the outbox); the others get the
console, the demo's default channel."""


@dataclass(frozen=True)
class DemoShape:
    seed: int = 7
    organisation: str = "demo-org"
    members: int = 150
    teams: int = 10
    weeks: int = 12
    new_hires: int = 8
    pauses: int = 4
    departures: int = 3
    first_monday: date = date(2026, 3, 2)

    @property
    def start(self) -> datetime:
        """The clock starts the Sunday before the first week."""
        return datetime.combine(self.first_monday - timedelta(days=1), time(0), UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.first_monday + timedelta(weeks=self.weeks), time(0), UTC)


@dataclass(frozen=True)
class Scripted:
    at: datetime
    payload: EventPayload
    subject: str | None = None


def script(shape: DemoShape) -> list[Scripted]:
    rng = random.Random(shape.seed)
    people = generate_members(
        shape.seed,
        OrganisationShape(
            members=shape.members,
            teams=shape.teams,
            timezones=DEMO_ZONES,
            email_share=EMAIL_SHARE,
            today=shape.first_monday,
        ),
    )
    founders, newcomers = people[: shape.members - shape.new_hires], people[-shape.new_hires :]
    events = [Scripted(shape.start - timedelta(days=6), m, m.member_id) for m in founders]
    events += _new_hires(shape, rng, newcomers)
    events += _pauses_and_departures(shape, rng, founders)
    rituals = _rituals(shape, founders)
    events += [Scripted(shape.start, r, r.ritual_id) for r in rituals]
    events += _occurrences(shape, rng, rituals, people, events)
    return sorted(events, key=lambda e: e.at)


def _new_hires(
    shape: DemoShape, rng: random.Random, newcomers: list[MemberJoined]
) -> list[Scripted]:
    arrivals = []
    span = max(1, (shape.weeks - 3) * 7, shape.weeks * 7 // 2)
    for number, person in enumerate(newcomers):
        joins = shape.start + timedelta(days=1 + (number * span) // len(newcomers), hours=9)
        start_date = (joins + timedelta(days=rng.choice((0, 1, 7)))).date()
        hire = person.model_copy(update={"new_hire": True, "start_date": start_date})
        arrivals.append(Scripted(joins, hire, hire.member_id))
    return arrivals


def _pauses_and_departures(
    shape: DemoShape, rng: random.Random, founders: list[MemberJoined]
) -> list[Scripted]:
    chosen = rng.sample(founders, shape.pauses + shape.departures)
    events = []
    for person in chosen[: shape.pauses]:
        at = shape.start + timedelta(days=rng.randint(3, max(3, shape.weeks * 7 - 21)), hours=10)
        until = (at + timedelta(days=rng.choice((14, 21)))).date()
        events.append(
            Scripted(at, MemberPaused(member_id=person.member_id, until=until), person.member_id)
        )
    for person in chosen[shape.pauses :]:
        at = shape.start + timedelta(days=rng.randint(4, max(4, shape.weeks * 7 - 7)), hours=17)
        events.append(
            Scripted(
                at, MemberLeft(member_id=person.member_id, last_day=at.date()), person.member_id
            )
        )
    return events


RITUAL_KINDS = (
    ("Monday check-in", "checkin", "FREQ=WEEKLY;BYDAY=MO", time(9, 30), 30),
    ("Friday drinks", "drinks", "FREQ=WEEKLY;BYDAY=FR", time(16, 30), 60),
    ("Shared lunch", "lunch", "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", time(12, 30), 60),
)


def _rituals(shape: DemoShape, founders: list[MemberJoined]) -> list[RitualScheduled]:
    teams = list(dict.fromkeys(m.team for m in founders))
    rituals = []
    for number, team in enumerate(teams):
        title, kind, rule, start, minutes = RITUAL_KINDS[number % len(RITUAL_KINDS)]
        zone = next(m.timezone for m in founders if m.team == team)
        office = next((m.office for m in founders if m.team == team and m.office), None)
        rituals.append(
            RitualScheduled(
                ritual_id=f"{team.lower().replace(' ', '-')}-{kind}",
                team=team,
                title=title,
                kind=kind,
                rrule=rule,
                timezone=zone,
                first_start=datetime.combine(shape.first_monday, start),
                duration_minutes=minutes,
                online_url=None if kind == "lunch" else f"https://meet.example/{team.lower()}",
                office=office if kind == "lunch" else None,
                remind_minutes_before=60,
            )
        )
    return rituals


def occurrences(ritual: RitualScheduled, until: datetime) -> list[datetime]:
    """Starts (UTC) of a ritual's occurrences before ``until``, as every service reads them."""
    recurrence = parse_recurrence(ritual.rrule, ritual.first_start, ritual.timezone)
    begin = recurrence.instant(recurrence.first_start) - timedelta(seconds=1)
    if until <= begin:
        return []
    return recurrence.occurrences_between(begin, until, limit=100_000)


def _occurrences(
    shape: DemoShape,
    rng: random.Random,
    rituals: list[RitualScheduled],
    people: list[MemberJoined],
    scripted: list[Scripted],
) -> list[Scripted]:
    gone = {e.payload.member_id: e.at for e in scripted if isinstance(e.payload, MemberLeft)}
    arrived = {e.payload.member_id: e.at for e in scripted if isinstance(e.payload, MemberJoined)}
    held = []
    for ritual in rituals:
        team = [p.member_id for p in people if p.team == ritual.team]
        for start in occurrences(ritual, shape.end):
            present = [m for m in team if arrived.get(m, start) <= start < gone.get(m, shape.end)]
            attendees = tuple(sorted(m for m in present if rng.random() < 0.75))
            payload = RitualHeld(
                ritual_id=ritual.ritual_id, occurrence_start=start, attendee_ids=attendees
            )
            held.append(
                Scripted(
                    start + timedelta(minutes=ritual.duration_minutes), payload, ritual.ritual_id
                )
            )
    return held


def feedback_for(matched: CoffeeMatched) -> list[Scripted]:
    """Two days after the slot, every participant says whether the coffee happened: most do."""
    draw = random.Random(int(hashlib.sha256(matched.group_id.encode()).hexdigest()[:12], 16))
    met = draw.random() < 0.85
    at = matched.slot_start + timedelta(days=2)
    return [
        Scripted(
            at,
            CoffeeFeedbackGiven(
                round_id=matched.round_id,
                group_id=matched.group_id,
                member_id=p.member_id,
                met=met,
                rating=draw.randint(3, 5) if met else None,
            ),
            matched.group_id,
        )
        for p in matched.participants
    ]


def take_due(
    pending: list[Scripted], moment: datetime, departed: set[str]
) -> tuple[list[Scripted], list[Scripted]]:
    """What the script says by this moment, in order, and what is left for later. Feedback comes
    two days after the slot: someone who left meanwhile gives none."""
    due = sorted((s for s in pending if s.at <= moment), key=lambda s: s.at)
    departed.update(s.payload.member_id for s in due if isinstance(s.payload, MemberLeft))
    given = [
        s
        for s in due
        if not (isinstance(s.payload, CoffeeFeedbackGiven) and s.payload.member_id in departed)
    ]
    return given, [s for s in pending if s.at > moment]
