"""The words people read: why a buddy was chosen, why none could be, why a buddy changed.

Reasons are shown to the new hire and the buddy themselves, so they may name teams, departments,
offices and working hours; they never carry names or e-mail addresses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from services.common.domain.words import DAY_NAMES, describe_minutes, listing
from services.common.domain.working_hours import WEEKDAYS
from services.onboarding.domain.candidates import MemberFacts
from services.onboarding.domain.working_time import whole_months_between

WEEKDAY_NAMES: dict[str, str] = dict(zip(WEEKDAYS, DAY_NAMES, strict=True))


def common_office_days(first: MemberFacts, second: MemberFacts) -> tuple[str, ...]:
    """Days both are at the office, in week order. Different offices share no day; an office
    nobody named is taken to be the same one."""
    if first.office is not None and second.office is not None and first.office != second.office:
        return ()
    shared = first.office_days & second.office_days
    return tuple(day for day in WEEKDAYS if day in shared)


def assignment_reasons(
    new_hire: MemberFacts, buddy: MemberFacts, *, shared: timedelta, load: int, today: date
) -> tuple[str, ...]:
    """Why this buddy, most important first."""
    reasons: list[str] = []
    if buddy.volunteer:
        reasons.append("volunteered to be a buddy")
    if new_hire.same_department_other_team(buddy):
        reasons.append(f"same department ({buddy.department}), different team ({buddy.team})")
    office_days = common_office_days(new_hire, buddy)
    if office_days:
        office = buddy.office or new_hire.office
        where = f"the {office} office" if office else "the office"
        days = listing([WEEKDAY_NAMES[day] for day in office_days])
        reasons.append(f"both at {where} on {days}")
    reasons.append(
        f"works {buddy.hours.start:%H:%M} to {buddy.hours.end:%H:%M} ({buddy.hours.timezone}), "
        f"up to {describe_minutes(int(shared.total_seconds() // 60))} a day in common"
    )
    languages = ", ".join(sorted(new_hire.languages & buddy.languages))
    reasons.append(f"speaks the same language ({languages})")
    reasons.append(f"in the organisation for {tenure_words(buddy.start_date, today)}")
    reasons.append(
        "looks after no other new hire at the moment"
        if load == 0
        else f"looks after {load} other new hire{'s' if load > 1 else ''} at the moment"
    )
    return tuple(reasons)


@dataclass(frozen=True)
class Stage:
    """One rule of eligibility and how many colleagues still pass after it."""

    singular: str
    plural: str
    passing: int


def no_buddy_reason(stages: Sequence[Stage]) -> str:
    """Why nobody is eligible, as the rules narrow the colleagues down; the first stage counts
    the colleagues who take part at all."""
    if not stages or stages[0].passing == 0:
        return "No eligible buddy yet: nobody else takes part in the programme right now."
    first = stages[0]
    parts = [f"{_counted(first.passing, 'colleague')} {_verb(first)}"]
    for stage in stages[1:]:
        if stage.passing == 0:
            parts.append(f"none of them {stage.plural}")
            break
        parts.append(f"{stage.passing} of them {_verb(stage)}")
    return f"No eligible buddy yet: {listing(parts)}."


REPLACEMENT_REASONS: dict[str, str] = {
    "paused": "the previous buddy is taking a break",
    "opted_out": "the previous buddy no longer takes part in the programme",
    "left": "the previous buddy left the organisation",
    "reporting_line": "the previous buddy is now in the new hire's reporting line",
}


def tenure_words(start: date, today: date) -> str:
    months = whole_months_between(start, today)
    if months >= 24:
        return f"{months // 12} years"
    return _counted(months, "month")


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _verb(stage: Stage) -> str:
    return stage.singular if stage.passing == 1 else stage.plural
