"""Histories for the insights tests: small hand-built ones and a generated organisation."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas import CloudEvent, EventPayload, new_event
from schemas.clock import ClockTicked
from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched, CoffeeRoundRequested, Participant
from schemas.onboarding import BuddyAssigned
from schemas.rituals import RitualHeld, RitualScheduled
from services.demo.script import DemoShape, feedback_for, script
from tests.factories import ORG, SOURCE, T0, member_joined_event

WEEK = timedelta(weeks=1)


def at(payload: EventPayload, time: datetime, org: str = ORG) -> CloudEvent[Any]:
    return new_event(payload, source=SOURCE, orgid=org, time=time)


def joined(member_id: str, team: str, time: datetime = T0, **profile: Any) -> CloudEvent[Any]:
    profile.setdefault("start_date", date(2024, 1, 15))
    return member_joined_event(member_id=member_id, time=time, team=team, **profile)


def tick(now: datetime, sequence: int = 1) -> CloudEvent[Any]:
    return at(ClockTicked(now=now, sequence=sequence), now)


def requested(round_id: str, time: datetime, **filters: Any) -> CloudEvent[Any]:
    monday = time.date() - timedelta(days=time.weekday())
    return at(CoffeeRoundRequested(round_id=round_id, week_starting=monday, **filters), time)


def matched(
    round_id: str, group_id: str, members: tuple[str, ...], time: datetime
) -> CloudEvent[Any]:
    participants = tuple(
        Participant(member_id=m, timezone="UTC", local_start=time.isoformat()) for m in members
    )
    payload = CoffeeMatched(
        round_id=round_id,
        group_id=group_id,
        participants=participants,
        mode="video",
        slot_start=time,
        score=1.0,
    )
    return at(payload, time)


def feedback(
    round_id: str, group_id: str, member_id: str, met: bool, time: datetime
) -> CloudEvent[Any]:
    payload = CoffeeFeedbackGiven(
        round_id=round_id, group_id=group_id, member_id=member_id, met=met
    )
    return at(payload, time)


def scheduled(ritual_id: str, team: str, time: datetime = T0) -> CloudEvent[Any]:
    payload = RitualScheduled(
        ritual_id=ritual_id,
        team=team,
        title=f"{team} drinks",
        kind="drinks",
        rrule="FREQ=WEEKLY;BYDAY=FR",
        timezone="UTC",
        first_start=datetime(2025, 3, 7, 16, 0),
    )
    return at(payload, time)


def held(ritual_id: str, start: datetime, attendees: tuple[str, ...]) -> CloudEvent[Any]:
    payload = RitualHeld(ritual_id=ritual_id, occurrence_start=start, attendee_ids=attendees)
    return at(payload, start + timedelta(hours=1))


def buddy(new_hire_id: str, buddy_id: str, time: datetime) -> CloudEvent[Any]:
    return at(BuddyAssigned(new_hire_id=new_hire_id, buddy_id=buddy_id), time)


def generated_history(shape: DemoShape) -> list[CloudEvent[Any]]:
    """The demo's scripted organisation (members, new hires, pauses, departures, rituals) with
    weekly coffee rounds of seeded random pairs and their feedback, and a daily clock."""
    rng = random.Random(shape.seed)
    org = shape.organisation
    events = [
        new_event(s.payload, source=SOURCE, orgid=org, time=s.at, subject=s.subject)
        for s in script(shape)
    ]
    left = {e.data.member_id: e.time for e in events if e.type == "rituals.member.left"}
    arrived = {e.data.member_id: e.time for e in events if e.type == "rituals.member.joined"}
    founders = sorted(m for m, t in arrived.items() if t <= shape.start)
    for event in events[:]:
        if event.type == "rituals.member.joined" and event.data.new_hire:
            mentor = rng.choice(founders)
            events.append(
                buddy(event.data.member_id, mentor, event.time).model_copy(update={"orgid": org})
            )
    for week in range(shape.weeks):
        monday = datetime.combine(shape.first_monday, datetime.min.time(), UTC) + week * WEEK
        round_id = f"coffee-{monday.date().isoformat()}"
        events.append(requested(round_id, monday).model_copy(update={"orgid": org}))
        present = sorted(
            m for m, t in arrived.items() if t <= monday and left.get(m, monday) >= monday
        )
        rng.shuffle(present)
        for number in range(len(present) // 2):
            pair = (present[2 * number], present[2 * number + 1])
            event = matched(round_id, f"g-{number}", pair, monday + timedelta(days=2))
            events.append(event.model_copy(update={"orgid": org}))
            events += [
                new_event(s.payload, source=SOURCE, orgid=org, time=s.at, subject=s.subject)
                for s in feedback_for(event.data)
            ]
    for day in range(shape.weeks * 7):
        now = shape.start + timedelta(days=day)
        events.append(tick(now, day).model_copy(update={"orgid": org}))
    return events
