"""Events in, domain calls, events out: the matcher's processor.

State (folded by ``apply`` from every event, the matcher's own included): the member directory,
who is being onboarded, each organisation's rounds and pair history, and the latest clock tick.
Decisions (``decide``): a round request becomes groups, unplaced members and statistics; a clock
tick may request the organisation's next scheduled round.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from schemas import CloudEvent
from schemas.clock import ClockTicked
from schemas.coffee import (
    CoffeeFeedbackGiven,
    CoffeeMatched,
    CoffeeRoundCompleted,
    CoffeeRoundRequested,
    CoffeeUnmatched,
    Participant,
)
from schemas.members import MemberErased
from schemas.onboarding import BuddyAssigned, OnboardingCompleted
from schemas.pulse import PulseAnswered, PulseAsked
from schemas.rituals import RitualHeld, RitualScheduled
from services.common.domain.directory import Member
from services.common.domain.projection import DirectoryProcessor
from services.common.domain.pulse import PulseAnswers
from services.common.domain.working_hours import WeeklyHours
from services.common.processing import Emit
from services.matcher.domain.cadence import scheduled_round_id
from services.matcher.domain.clock_reading import clock_reading
from services.matcher.domain.digest import HeldOccurrence, team_digests, with_last_week
from services.matcher.domain.history import OrganisationHistory
from services.matcher.domain.policy import CoffeePolicy
from services.matcher.domain.pool import Candidate
from services.matcher.domain.pulse import asked
from services.matcher.domain.rounds import RoundPlan, RoundRequest, plan_round
from services.matcher.settings import Policies

ROUND_TOTALS = ("participants", "groups", "trios", "unmatched")
"""Measures summed over completed rounds: ``increase()`` of them per round completed gives a
round's size and how many were left unmatched."""


class MatcherProcessor(DirectoryProcessor):
    def __init__(self, policies: Policies | None = None) -> None:
        super().__init__()
        self.policies = policies or Policies(CoffeePolicy())
        self.histories: dict[str, OrganisationHistory] = {}
        self.onboarding: dict[str, set[str]] = {}
        self.first_requests: dict[tuple[str, str], str] = {}
        self.requested_weeks: dict[str, set[date]] = {}
        self.round_totals: Counter[str] = Counter()
        """Summed over completed rounds: participants, groups, trios, unmatched (metrics)."""
        self.pulse_asked: dict[tuple[str, date], set[str]] = {}
        self.pulse_answers: dict[str, PulseAnswers] = {}
        self.ritual_teams: dict[tuple[str, str], str] = {}
        self.held: dict[str, dict[tuple[str, datetime], HeldOccurrence]] = {}
        """Per organisation, the held occurrences of team rituals (the latest report counts)."""

    def history(self, organisation: str) -> OrganisationHistory:
        return self.histories.setdefault(organisation, OrganisationHistory())

    # --- state ---------------------------------------------------------------------------

    def apply(self, event: CloudEvent[Any]) -> None:
        super().apply(event)
        org, payload = event.orgid, event.data
        match payload:
            case ClockTicked():
                pass  # most events by far: matched first, for each case costs an isinstance
            case BuddyAssigned(new_hire_id=new_hire):
                self.onboarding.setdefault(org, set()).add(new_hire)
            case OnboardingCompleted(new_hire_id=new_hire):
                self.onboarding.setdefault(org, set()).discard(new_hire)
            case CoffeeRoundRequested():
                self.history(org).open_round(payload.round_id)
                self.first_requests.setdefault((org, payload.round_id), str(event.id))
                if _whole_organisation(payload):
                    self.requested_weeks.setdefault(org, set()).add(payload.week_starting)
            case CoffeeMatched():
                members = (p.member_id for p in payload.participants)
                self.history(org).record_group(payload.round_id, payload.group_id, members)
            case CoffeeRoundCompleted():
                record = self.history(org).open_round(payload.round_id)
                if not record.completed:
                    self.round_totals.update(
                        participants=payload.participants,
                        groups=payload.groups,
                        trios=payload.trios,
                        unmatched=payload.unmatched,
                    )
                record.completed = True
            case CoffeeFeedbackGiven():
                self.history(org).record_feedback(
                    payload.round_id, payload.group_id, payload.member_id, payload.met
                )
            case PulseAsked():
                key = (org, payload.week_starting)
                self.pulse_asked.setdefault(key, set()).add(payload.member_id)
            case PulseAnswered():
                answers = self.pulse_answers.setdefault(org, PulseAnswers())
                answers.record(payload.week_starting, payload.member_id, payload.score)
            case MemberErased(member_id=member_id):
                self.pulse_answers.get(org, PulseAnswers()).forget(member_id)
            case RitualScheduled():
                self.ritual_teams[(org, payload.ritual_id)] = payload.team
            case RitualHeld():
                team = self.ritual_teams.get((org, payload.ritual_id))
                if team is not None:
                    self.held.setdefault(org, {})[(payload.ritual_id, payload.occurrence_start)] = (
                        HeldOccurrence(
                            team, payload.occurrence_start, frozenset(payload.attendee_ids)
                        )
                    )

    def measures(self) -> Mapping[str, float]:
        histories = self.histories.values()
        return {
            **super().measures(),
            "rounds": float(sum(len(h.rounds) for h in histories)),
            "feedback_met": float(sum(h.feedback["met"] for h in histories)),
            "feedback_did_not_meet": float(sum(h.feedback["did_not_meet"] for h in histories)),
            "rounds_completed": float(
                sum(r.completed for h in histories for r in h.rounds.values())
            ),
            **{f"round_{name}": float(self.round_totals[name]) for name in ROUND_TOTALS},
        }

    # --- decisions -----------------------------------------------------------------------

    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        match event.data:
            case CoffeeRoundRequested():
                return self._round(event, event.data)
            case ClockTicked():
                org, now = event.orgid, event.data.now
                policy = self.policies.of(org)
                reading = clock_reading(policy, now)
                return [
                    *self._schedule(org, now, policy, reading.round_week),
                    *self._pulse(org, now, reading.pulse_week),
                ]
        return ()

    def _round(self, event: CloudEvent[Any], request: CoffeeRoundRequested) -> Sequence[Emit]:
        org = event.orgid
        record = self.history(org).rounds[request.round_id]
        if self.first_requests[(org, request.round_id)] != str(event.id) or record.completed:
            return ()  # the round was requested before: one round per round id
        policy = self.policies.of(org)
        candidates = self.candidates(org, request, event.time, policy)
        plan = plan_round(
            candidates,
            RoundRequest(
                organisation=org,
                round_id=request.round_id,
                week_starting=request.week_starting,
                group_size=request.group_size,
                ordinal=record.ordinal,
                requested_at=event.time,
            ),
            self.history(org),
            policy,
        )
        emits = _announce(request.round_id, plan)
        if _whole_organisation(request):
            digests = team_digests(
                request.round_id,
                candidates,
                plan,
                self.history(org),
                record.ordinal,
                policy.priority,
            )
            team_members: dict[str, list[str]] = {}
            for candidate in candidates:
                team_members.setdefault(candidate.team, []).append(candidate.member_id)
            held = list(self.held.get(org, {}).values())
            answers = self.pulse_answers.get(org, PulseAnswers())
            emits += [
                Emit(
                    with_last_week(
                        digest, team_members[digest.team], request.week_starting, answers, held
                    ),
                    subject=digest.lead_id,
                )
                for digest in digests
            ]
        return emits

    def candidates(
        self, org: str, request: CoffeeRoundRequested, requested_at: datetime, policy: CoffeePolicy
    ) -> list[Candidate]:
        """Active members of the round's scope who joined before it was requested and have
        started by the end of its week."""
        week_end = request.week_starting + timedelta(days=6)
        onboarding = self.onboarding.get(org, set())
        return [
            _candidate(member, onboarding, request.week_starting, policy)
            for member in self.directory.taking_part(org, request.week_starting, requested_at)
            if member.profile.start_date <= week_end and _in_scope(member, request)
        ]

    def _schedule(
        self, org: str, now: datetime, policy: CoffeePolicy, week: date | None
    ) -> Sequence[Emit]:
        """Request the round of ``week`` (``due_week``) unless requested or too late."""
        if week is None or week in self.requested_weeks.get(org, ()):
            return ()
        if now.date() > week + timedelta(days=4):
            return ()  # the clock jumped past the week's working days: too late to meet
        if sum(1 for _ in self.directory.taking_part(org, week, now)) < 2:
            return ()
        request = CoffeeRoundRequested(
            round_id=scheduled_round_id(week),
            week_starting=week,
            group_size=policy.cadence.group_size,
        )
        return (Emit(request, subject=request.round_id),)

    def _pulse(self, org: str, now: datetime, week: date | None) -> Sequence[Emit]:
        """The pulse question of ``week`` (``pulse_week``) to every member taking part now
        (started, not paused, not opted out) who was not asked yet."""
        if week is None:
            return ()
        already = self.pulse_asked.get((org, week), set())
        taking_part = (
            m.profile.member_id
            for m in self.directory.taking_part(org, now.date(), now)
            if m.profile.start_date <= now.date()  # someone who has not started is not asked
        )
        return [
            Emit(PulseAsked(week_starting=week, member_id=member), subject=member)
            for member in asked(taking_part, already)
        ]


def _whole_organisation(request: CoffeeRoundRequested) -> bool:
    return request.team is None and request.department is None and request.programme is None


def _in_scope(member: Member, request: CoffeeRoundRequested) -> bool:
    profile = member.profile
    return (
        (request.team is None or profile.team == request.team)
        and (request.department is None or profile.department == request.department)
        and (request.programme is None or request.programme in profile.interests)
    )


def _candidate(
    member: Member, onboarding: set[str], week_starting: date, policy: CoffeePolicy
) -> Candidate:
    profile = member.profile
    days_in = (week_starting - profile.start_date).days
    return Candidate(
        member_id=profile.member_id,
        team=profile.team,
        department=profile.department,
        manager_id=profile.manager_id,
        hours=WeeklyHours.of(profile),
        languages=tuple(profile.languages),
        interests=tuple(profile.interests),
        office=profile.office,
        office_days=tuple(profile.office_days),
        new_hire=profile.member_id in onboarding or days_in < policy.new_hire_days,
    )


def _announce(round_id: str, plan: RoundPlan) -> list[Emit]:
    emits = [
        Emit(
            CoffeeMatched(
                round_id=round_id,
                group_id=group.group_id,
                participants=tuple(
                    Participant(
                        member_id=p.member_id, timezone=p.timezone, local_start=p.local_start
                    )
                    for p in group.participants
                ),
                mode=group.mode,
                office=group.office,
                slot_start=group.slot_start,
                slot_minutes=group.slot_minutes,
                reasons=group.reasons,
                conversation_starter=group.conversation_starter,
                score=group.score,
            ),
            subject=group.group_id,
        )
        for group in plan.groups
    ]
    emits += [
        Emit(
            CoffeeUnmatched(round_id=round_id, member_id=u.member_id, reason=u.reason), u.member_id
        )
        for u in plan.unplaced
    ]
    emits.append(
        Emit(
            CoffeeRoundCompleted(
                round_id=round_id,
                participants=plan.participants,
                groups=len(plan.groups),
                trios=plan.trios,
                unmatched=len(plan.unplaced),
                cross_team_share=round(plan.cross_team_share, 4),
                first_time_share=round(plan.first_time_share, 4),
                mean_score=round(plan.mean_score, 3),
            ),
            subject=round_id,
        )
    )
    return emits
