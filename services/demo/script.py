"""What happens in the demo organisation, decided from a seed before the clock starts.

Everything is an event at a domain time: the members who are there at the start, the new hires
arriving over the weeks, pauses and departures, the teams' rituals and who attends each
occurrence. Feedback on coffees depends on the matcher's groups, so it is decided as they come
(``feedback_for``), from the group's id; so is the pause of the first new hire's buddy
(``buddy_pause``).

The organisation has the problems a leader acting as connector looks for: remote members who
skip coffees and rituals and drift (``drifting_members``); a team in a time zone with little
overlap (``far_team``) and a team none of whose hours meet it (``other_side_team``), so the two
have no link; a new hire whose buddy pauses; and a team whose ritual attendance falls
(``fading_team``).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from schemas import EventPayload
from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched
from schemas.members import MemberJoined, MemberLeft, MemberPaused
from schemas.onboarding import BuddyAssigned
from schemas.pulse import PulseAnswered, PulseAsked
from schemas.recurrence import parse_recurrence
from schemas.rituals import RitualHeld, RitualScheduled
from services.common.simulation import OrganisationShape, generate_members
from services.notifier.domain.notices import USEFUL_FOR, Template

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
    far_team: tuple[str, str] = ("Design", "Asia/Tokyo")
    """A team whose working hours barely meet the others' (an hour or so with Europe)."""
    other_side_team: tuple[str, str] = ("Support", "America/New_York")
    """A team with no working hour in common with ``far_team``: the two cannot meet."""
    fading_team: str = "Sales"
    """A team whose ritual attendance falls week by week."""
    pulse: bool = False
    """Whether the organisation asks the weekly pulse (``rituals demo --pulse``)."""
    drifting_share: float = 0.05
    """Remote members (no office) who skip most coffees and rituals (at least one)."""

    @property
    def drifting(self) -> int:
        return max(1, round(self.members * self.drifting_share))

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
    people = _placed(shape, people)
    founders, newcomers = people[: shape.members - shape.new_hires], people[-shape.new_hires :]
    events = [Scripted(shape.start - timedelta(days=6), m, m.member_id) for m in founders]
    events += _new_hires(shape, rng, newcomers)
    events += _pauses_and_departures(shape, rng, founders)
    rituals = _rituals(shape, founders)
    events += [Scripted(shape.start, r, r.ritual_id) for r in rituals]
    events += _occurrences(shape, rng, rituals, people, events)
    return sorted(events, key=lambda e: e.at)


def _placed(shape: DemoShape, people: list[MemberJoined]) -> list[MemberJoined]:
    """The far team and the team on the other side live in their zones; drifting members work
    remotely (no office)."""
    zones = dict((shape.far_team, shape.other_side_team))
    drifting = drifting_members(shape, people)
    placed = []
    for person in people:
        update: dict[str, object] = {}
        if person.team in zones:
            update = {"timezone": zones[person.team], "office": None}
        if person.member_id in drifting:
            update["office"] = None
        placed.append(person.model_copy(update=update) if update else person)
    return placed


def drifting_members(shape: DemoShape, people: list[MemberJoined] | None = None) -> frozenset[str]:
    """Founders outside the special teams chosen by the seed: the remote members who drift."""
    if people is None:
        people = generate_members(
            shape.seed, OrganisationShape(members=shape.members, teams=shape.teams)
        )
    special = {shape.far_team[0], shape.other_side_team[0], shape.fading_team}
    founders = people[: shape.members - shape.new_hires]
    eligible = sorted(p.member_id for p in founders if p.team not in special)
    return frozenset(random.Random(f"drifting/{shape.seed}").sample(eligible, shape.drifting))


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
    drifting = drifting_members(shape, people)
    for ritual in rituals:
        team = [p.member_id for p in people if p.team == ritual.team]
        for start in occurrences(ritual, shape.end):
            present = [m for m in team if arrived.get(m, start) <= start < gone.get(m, shape.end)]
            share = _attendance(shape, ritual.team, start)
            attendees = tuple(
                sorted(m for m in present if rng.random() < (0.2 if m in drifting else share))
            )
            payload = RitualHeld(
                ritual_id=ritual.ritual_id, occurrence_start=start, attendee_ids=attendees
            )
            held.append(
                Scripted(
                    start + timedelta(minutes=ritual.duration_minutes), payload, ritual.ritual_id
                )
            )
    return held


def _attendance(shape: DemoShape, team: str, start: datetime) -> float:
    """Three in four attend; in the fading team, from nine in ten down to one in five."""
    if team != shape.fading_team:
        return 0.75
    progress = (start - shape.start) / (shape.end - shape.start)
    return 0.9 - 0.7 * min(1.0, max(0.0, progress))


ANSWERING_HOUR = time(23)
"""When the demo's people answer their messages: the last hour of a Sunday, which the demo
settles before the next day starts (so every run dates an answer alike)."""


def answering_evening(moment: datetime, after: timedelta = timedelta(days=1)) -> datetime:
    """The Sunday evening at least ``after`` a coffee's slot or a question: people answer the
    week's messages at the end of the week (one evening a week keeps the demo quick)."""
    earliest = moment + after
    sunday = earliest.date() + timedelta(days=(6 - earliest.weekday()) % 7)
    evening = datetime.combine(sunday, ANSWERING_HOUR, UTC)
    return evening if evening >= earliest else evening + timedelta(weeks=1)


def pulse_answer(asked: PulseAsked, drifting: frozenset[str], at: datetime) -> list[Scripted]:
    """Most people answer the week's pulse, the drifting less often; those who drift feel less
    connected (1-2), the others 3-5, drawn from who and which week. They answer on the first
    Sunday evening after every question has surely arrived (a message waits for its recipient's
    working hours up to the pulse's useful life), so every run answers on the same evening;
    a team lead's Monday digest, which shows the week before's pulse, therefore shows none."""
    member = asked.member_id
    draw = random.Random(
        int(hashlib.sha256(f"{member}/{asked.week_starting}".encode()).hexdigest()[:12], 16)
    )
    drifts = member in drifting
    if draw.random() >= (0.3 if drifts else 0.7):
        return []
    score = draw.randint(1, 2) if drifts else draw.randint(3, 5)
    answer = PulseAnswered(week_starting=asked.week_starting, member_id=member, score=score)
    arrived = USEFUL_FOR[Template.PULSE]
    return [Scripted(answering_evening(at, arrived), answer, member)]


BUDDY_PAUSE_AFTER = timedelta(days=3)
BUDDY_PAUSE_FOR = timedelta(days=28)


def buddy_pause(assigned: BuddyAssigned, at: datetime) -> Scripted:
    """The buddy of the first new hire pauses three days after being assigned, for four weeks:
    the onboarding service has to find the new hire another buddy."""
    pause_at = at + BUDDY_PAUSE_AFTER
    until = (pause_at + BUDDY_PAUSE_FOR).date()
    return Scripted(
        pause_at, MemberPaused(member_id=assigned.buddy_id, until=until), assigned.buddy_id
    )


def feedback_for(matched: CoffeeMatched, drifting: frozenset[str] = frozenset()) -> list[Scripted]:
    """On the Sunday evening after the slot, every participant says whether the coffee
    happened (with the links of the match's message): most do; a group with a drifting member
    mostly does not meet."""
    draw = random.Random(int(hashlib.sha256(matched.group_id.encode()).hexdigest()[:12], 16))
    skips = any(p.member_id in drifting for p in matched.participants)
    met = draw.random() < (0.3 if skips else 0.85)
    at = answering_evening(matched.slot_start)
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
    """What the script says by this moment, in order, and what is left for later. Answers come
    days after their question: someone who left meanwhile gives none."""
    due = sorted((s for s in pending if s.at <= moment), key=lambda s: s.at)
    departed.update(s.payload.member_id for s in due if isinstance(s.payload, MemberLeft))
    answers = CoffeeFeedbackGiven | PulseAnswered
    given = [
        s for s in due if not (isinstance(s.payload, answers) and s.payload.member_id in departed)
    ]
    return given, [s for s in pending if s.at > moment]
