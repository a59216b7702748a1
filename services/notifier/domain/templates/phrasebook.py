"""The shape of a language's templates: every text the notifier can show, as a format string.

Placeholders (``{name}``) are filled by ``domain.rendering``; any text may use any of
``PLACEHOLDERS``. A language is a module in this package holding one ``Phrasebook`` (see
``en.py``), registered in ``__init__.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

PLACEHOLDERS = frozenset(
    {
        "name",  # the recipient
        "others",  # the other participants of a coffee, as a list ("Ada and Grace")
        "other",  # the other person of a check-in
        "new_hire",
        "buddy",
        "office",
        "when",  # a date and time in the recipient's zone
        "minutes",
        "label",  # which check-in ("week 1")
        "title",  # a ritual's title
        "starter",  # a coffee's conversation starter
        "date",  # the parts of "when", for the ``when`` format itself
        "time",
        "zone",
        "team",  # a team lead's digest: the team, its figures and the people it names
        "participants",
        "active",
        "rounds",
        "member",
        "count",
        "partner",
        "partner_team",
        "attended",  # a team lead's digest: ritual attendance of the week before
        "invited",
        "mean",  # the team's mean pulse score
    }
)


@dataclass(frozen=True)
class Texts:
    """What a message says first: its subject line and its opening sentence."""

    subject: str
    lead: str


@dataclass(frozen=True)
class Phrasebook:
    """Every text of one language. A missing field is a type error, so a language is complete."""

    language: str
    """BCP 47 tag; also the locale dates and lists are formatted in."""

    greeting: str
    sign_off: str
    when: str
    """How a moment is written, from ``{date}``, ``{time}`` and ``{zone}``."""
    duration: str

    label_when: str
    label_length: str
    label_how: str
    label_with: str
    label_where: str
    label_link: str
    reasons_heading: str

    video: str
    in_person: str
    in_person_at: str
    starter: str

    coffee_matched_video: Texts
    coffee_matched_in_person: Texts
    coffee_title: str
    coffee_unmatched: Texts
    unmatched_closing: str
    buddy_assigned_new_hire: Texts
    buddy_assigned_buddy: Texts
    buddy_reassigned_new_hire: Texts
    buddy_reassigned_buddy: Texts
    checkin_due: Texts
    checkin_title: str
    ritual_reminder: Texts
    ritual_invitation: Texts
    ritual_occurrence_cancelled: Texts
    ritual_series_cancelled: Texts
    team_digest: Texts
    label_taking_part: str
    taking_part: str
    label_quiet: str
    nobody: str
    label_new_hires: str
    new_hire_met: str
    suggestions_heading: str
    suggestion_quiet: str
    suggestion_new_hire_few_connections: str
    suggestion_only_own_team: str
    label_attendance: str
    attendance: str
    label_pulse: str
    pulse_mean: str
    pulse_too_few: str
    pulse: Texts
    pulse_closing: str


def format_strings(book: Phrasebook) -> dict[str, str]:
    """Every format string of a phrasebook by field path (``checkin_due.lead``), for checks."""
    found: dict[str, str] = {}
    for field in fields(book):
        value = getattr(book, field.name)
        if isinstance(value, Texts):
            found[f"{field.name}.subject"] = value.subject
            found[f"{field.name}.lead"] = value.lead
        elif field.name != "language":
            found[field.name] = value
    return found
