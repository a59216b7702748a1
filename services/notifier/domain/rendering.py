"""From a delivery to a message in the recipient's language, with times in their time zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.numbers import format_decimal

from schemas.coffee import CoffeeMatched, CoffeeTeamDigestCompiled, CoffeeUnmatched
from schemas.onboarding import BuddyAssigned, BuddyReassigned, CheckinDue
from schemas.rituals import RitualCancelled, RitualScheduled
from services.notifier.domain.message import Attendee, Fact, Invitation, Message, Series
from services.notifier.domain.notices import Delivery, Template
from services.notifier.domain.rituals import next_occurrence
from services.notifier.domain.templates import PHRASEBOOKS, Phrasebook, Texts

CHECKIN_MINUTES = 30
"""Length of the calendar slot of an onboarding check-in."""


class _Values(dict[str, str]):
    """Placeholder values; an unknown placeholder renders empty rather than failing a send (the
    phrasebook tests catch typos)."""

    def __missing__(self, key: str) -> str:
        return ""


class _Renderer:
    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.book: Phrasebook = PHRASEBOOKS[delivery.language]
        self.zone = ZoneInfo(delivery.recipient.timezone)
        self.values = _Values(name=delivery.recipient.display_name)

    def name(self, member_id: str) -> str:
        profile = self.delivery.people.get(member_id)
        return profile.display_name if profile is not None else member_id

    def names(self, member_ids: list[str]) -> str:
        return format_list([self.name(m) for m in member_ids], locale=self.book.language)

    def when(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone)
        return self.book.when.format(
            date=format_date(local, "full", locale=self.book.language),
            time=format_time(local, "short", locale=self.book.language),
            zone=self.zone.key,
        )

    def text(self, template: str) -> str:
        return template.format_map(self.values)

    def attendee(self, member_id: str) -> Attendee | None:
        profile = self.delivery.people.get(member_id)
        return Attendee(profile.display_name, profile.email) if profile is not None else None

    def attendees(self, member_ids: list[str]) -> tuple[Attendee, ...]:
        found = (self.attendee(member_id) for member_id in member_ids)
        return tuple(attendee for attendee in found if attendee is not None)

    def message(self, texts: Texts, **parts: Any) -> Message:
        book = self.book
        return Message(
            template=self.delivery.notice.template.value,
            language=book.language,
            subject=self.text(texts.subject),
            greeting=self.text(book.greeting),
            lead=self.text(texts.lead),
            reasons_heading=parts.pop("reasons_heading", book.reasons_heading),
            sign_off=self.text(book.sign_off),
            **parts,
        )


def render(delivery: Delivery) -> Message:
    """The message of a delivery (pure: the same delivery always gives the same message)."""
    renderer = _Renderer(delivery)
    return _RENDERERS[delivery.notice.template](renderer)


def _coffee_matched(r: _Renderer) -> Message:
    matched: CoffeeMatched = r.delivery.notice.source.data
    book = r.book
    others = [
        p.member_id for p in matched.participants if p.member_id != r.delivery.recipient.member_id
    ]
    r.values.update(
        others=r.names(others),
        when=r.when(matched.slot_start),
        minutes=str(matched.slot_minutes),
        office=matched.office or "",
        starter=matched.conversation_starter,
    )
    if matched.mode == "video":
        texts, how = book.coffee_matched_video, book.video
    else:
        texts = book.coffee_matched_in_person
        how = book.in_person_at if matched.office else book.in_person
    everyone = [p.member_id for p in matched.participants]
    invitation = Invitation(
        uid=f"coffee-{matched.round_id}-{matched.group_id}@{r.delivery.notice.org_id}.rituals",
        start=matched.slot_start,
        minutes=matched.slot_minutes,
        summary=r.text(book.coffee_title),
        description=r.text(texts.lead),
        location=matched.office if matched.mode == "in_person" else r.text(book.video),
        attendees=r.attendees(everyone),
        stamp=r.delivery.notice.source.time,
    )
    return r.message(
        texts,
        facts=(
            Fact(book.label_when, r.values["when"]),
            Fact(book.label_length, r.text(book.duration)),
            Fact(book.label_how, r.text(how)),
            Fact(book.label_with, r.values["others"]),
        ),
        reasons=matched.reasons,
        closing=r.text(book.starter) if matched.conversation_starter else "",
        invitation=invitation,
    )


def _coffee_unmatched(r: _Renderer) -> Message:
    unmatched: CoffeeUnmatched = r.delivery.notice.source.data
    return r.message(
        r.book.coffee_unmatched, reasons=(unmatched.reason,), closing=r.book.unmatched_closing
    )


def _team_digest(r: _Renderer) -> Message:
    """The lead's digest: figures, the quiet and the new hires by name, what the round does."""
    digest: CoffeeTeamDigestCompiled = r.delivery.notice.source.data
    book = r.book
    r.values.update(
        team=digest.team,
        participants=str(digest.participants),
        active=str(digest.active),
        rounds=str(digest.quiet_rounds),
    )
    hires = [
        book.new_hire_met.format_map(_Values(member=r.name(h.member_id), count=str(h.people_met)))
        for h in digest.new_hires
    ]
    facts = [
        Fact(book.label_taking_part, r.text(book.taking_part)),
        Fact(r.text(book.label_quiet), r.names(list(digest.quiet)) or book.nobody),
    ]
    if hires:
        facts.append(Fact(book.label_new_hires, format_list(hires, locale=book.language)))
    facts += _team_week_facts(r, digest)
    suggestions = tuple(
        getattr(book, f"suggestion_{s.why}").format_map(
            _Values(
                member=r.name(s.member_id),
                partner=r.name(s.partner_id),
                partner_team=s.partner_team,
                team=digest.team,
            )
        )
        for s in digest.suggestions
    )
    return r.message(
        book.team_digest,
        facts=tuple(facts),
        reasons=suggestions,
        reasons_heading=book.suggestions_heading,
    )


def _pulse(r: _Renderer) -> Message:
    """The weekly pulse question; its answers are the five score links (answer_links)."""
    return r.message(r.book.pulse, closing=r.book.pulse_closing)


def _team_week_facts(r: _Renderer, digest: CoffeeTeamDigestCompiled) -> list[Fact]:
    """The team's week before: its rituals' attendance and its pulse (a mean only from 5
    answers on)."""
    book = r.book
    facts = []
    if digest.rituals_held:
        attendance = _Values(
            attended=str(digest.ritual_attended),
            invited=str(digest.ritual_invited),
            count=str(digest.rituals_held),
        )
        facts.append(Fact(book.label_attendance, book.attendance.format_map(attendance)))
    if digest.pulse_week is not None:
        count = _Values(count=str(digest.pulse_answers))
        if digest.pulse_mean is None:
            shown = book.pulse_too_few.format_map(count)
        else:
            mean = format_decimal(digest.pulse_mean, format="0.0", locale=book.language)
            shown = book.pulse_mean.format_map(_Values(mean=mean, count=count["count"]))
        facts.append(Fact(book.label_pulse, shown))
    return facts


def _buddy_message(r: _Renderer, texts: Texts) -> Message:
    payload: BuddyAssigned | BuddyReassigned = r.delivery.notice.source.data
    r.values.update(new_hire=r.name(payload.new_hire_id), buddy=r.name(payload.buddy_id))
    reasons = payload.reasons
    if isinstance(payload, BuddyReassigned):
        reasons = (payload.reason, *payload.reasons)
    return r.message(texts, reasons=reasons)


def _checkin_due(r: _Renderer) -> Message:
    due: CheckinDue = r.delivery.notice.source.data
    book = r.book
    recipient = r.delivery.recipient.member_id
    other = due.buddy_id if recipient == due.new_hire_id else due.new_hire_id
    r.values.update(
        other=r.name(other),
        new_hire=r.name(due.new_hire_id),
        buddy=r.name(due.buddy_id),
        label=due.label,
        when=r.when(due.due_at),
        minutes=str(CHECKIN_MINUTES),
    )
    invitation = Invitation(
        uid=f"checkin-{due.new_hire_id}-{due.checkin_id}@{r.delivery.notice.org_id}.rituals",
        start=due.due_at,
        minutes=CHECKIN_MINUTES,
        summary=r.text(book.checkin_title),
        description=r.text(book.checkin_due.lead),
        location=None,
        attendees=r.attendees([due.new_hire_id, due.buddy_id]),
        stamp=r.delivery.notice.source.time,
    )
    return r.message(
        book.checkin_due,
        facts=(
            Fact(book.label_when, r.values["when"]),
            Fact(book.label_length, r.text(book.duration)),
            Fact(book.label_with, r.values["other"]),
        ),
        invitation=invitation,
    )


def _ritual_reminder(r: _Renderer) -> Message:
    ritual: RitualScheduled = r.delivery.notice.source.data
    occurrence = r.delivery.notice.occurrence or r.delivery.notice.source.time
    facts, link = _ritual_facts(r, ritual, occurrence)
    return r.message(r.book.ritual_reminder, facts=facts, link=link, link_label=r.book.label_link)


def _ritual_series(r: _Renderer) -> Message:
    """A change of a team ritual's series, with the series as it now stands for the calendar."""
    notice = r.delivery.notice
    plan = notice.series
    assert plan is not None, "a series notice carries its series"
    ritual = plan.ritual
    cause = notice.source.data
    shown = notice.occurrence or next_occurrence(plan, notice.source.time)
    facts, link = _ritual_facts(r, ritual, shown)
    texts = {
        Template.RITUAL_INVITATION: r.book.ritual_invitation,
        Template.RITUAL_OCCURRENCE_CANCELLED: r.book.ritual_occurrence_cancelled,
        Template.RITUAL_SERIES_CANCELLED: r.book.ritual_series_cancelled,
    }[notice.template]
    first = plan.recurrence.first_occurrence() or plan.recurrence.instant(
        plan.recurrence.first_start
    )
    invitation = Invitation(
        uid=f"ritual-{ritual.ritual_id}@{notice.org_id}.rituals",
        start=first,
        minutes=ritual.duration_minutes,
        summary=ritual.title,
        description=r.text(r.book.ritual_invitation.lead),
        location=ritual.office or safe_link(ritual.online_url),
        attendees=r.attendees([r.delivery.recipient.member_id]),
        stamp=notice.source.time,
        series=Series(
            rule=plan.recurrence.calendar_rule(),
            timezone=ritual.timezone,
            excluded=tuple(sorted(plan.cancelled)),
            sequence=plan.sequence,
            cancelled=plan.series_cancelled,
        ),
    )
    reason = cause.reason if isinstance(cause, RitualCancelled) else ""
    return r.message(
        texts,
        facts=facts if notice.template is not Template.RITUAL_SERIES_CANCELLED else (),
        reasons=(reason,) if reason else (),
        link=link if notice.template is Template.RITUAL_INVITATION else None,
        link_label=r.book.label_link,
        invitation=invitation,
    )


def _ritual_facts(
    r: _Renderer, ritual: RitualScheduled, occurrence: datetime | None
) -> tuple[tuple[Fact, ...], str | None]:
    """When (one occurrence), how long, where, and the link to join."""
    r.values.update(
        title=ritual.title,
        when=r.when(occurrence) if occurrence is not None else "",
        minutes=str(ritual.duration_minutes),
        office=ritual.office or "",
    )
    facts = [Fact(r.book.label_length, r.text(r.book.duration))]
    if occurrence is not None:
        facts.insert(0, Fact(r.book.label_when, r.values["when"]))
    if ritual.office:
        facts.append(Fact(r.book.label_where, ritual.office))
    return tuple(facts), safe_link(ritual.online_url)


def safe_link(url: str | None) -> str | None:
    """A link worth showing: http(s) only (a ``javascript:`` link in a message is an attack)."""
    if url is None or not url.lower().startswith(("https://", "http://")):
        return None
    return url


_RENDERERS: dict[Template, Callable[[_Renderer], Message]] = {
    Template.COFFEE_MATCHED: _coffee_matched,
    Template.COFFEE_UNMATCHED: _coffee_unmatched,
    Template.TEAM_DIGEST: _team_digest,
    Template.PULSE: _pulse,
    Template.BUDDY_ASSIGNED_NEW_HIRE: lambda r: _buddy_message(r, r.book.buddy_assigned_new_hire),
    Template.BUDDY_ASSIGNED_BUDDY: lambda r: _buddy_message(r, r.book.buddy_assigned_buddy),
    Template.BUDDY_REASSIGNED_NEW_HIRE: lambda r: _buddy_message(
        r, r.book.buddy_reassigned_new_hire
    ),
    Template.BUDDY_REASSIGNED_BUDDY: lambda r: _buddy_message(r, r.book.buddy_reassigned_buddy),
    Template.CHECKIN_DUE: _checkin_due,
    Template.RITUAL_REMINDER: _ritual_reminder,
    Template.RITUAL_INVITATION: _ritual_series,
    Template.RITUAL_OCCURRENCE_CANCELLED: _ritual_series,
    Template.RITUAL_SERIES_CANCELLED: _ritual_series,
}
