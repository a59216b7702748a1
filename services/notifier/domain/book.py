"""The notifier's state: what is still to be delivered, what was, and the time per organisation.

Everything here is folded from the log, the notifier's own ``notification.sent`` and
``notification.failed`` events included; that is what makes the deduplication durable. After a
restart the replay rebuilds the same book: the notices of every source event, minus the
notifications the log shows as done.

- A source event (coffee, onboarding) makes one notice per recipient; a clock tick makes the
  ritual reminders that became due. A notice expands to one delivery per channel of the
  recipient when it is ready.
- ``notification.sent`` / ``failed`` mark a notification id done; a notice whose every channel is
  done leaves the book (its id is kept, so a replayed tick does not make it again).
- A notice is *released* by the first moment of the organisation's time (its latest clock tick)
  inside the recipient's working hours: that is how quiet hours wait for the morning. Once
  released, its deliveries are ready until done, and it no longer expires: the worker may get to
  it after the clock moved on (seconds in production; a simulated clock runs faster than any
  delivery), and it was due while it was still useful.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, get_args
from zoneinfo import ZoneInfo

from schemas import CloudEvent
from schemas.base import Channel
from schemas.clock import ClockTicked
from schemas.members import (
    MemberErased,
    MemberJoined,
    MemberLeft,
    MemberProfileUpdated,
    MemberResumed,
)
from schemas.notifications import (
    NotificationFailed,
    NotificationRedeliveryRequested,
    NotificationRetryScheduled,
    NotificationSent,
)
from schemas.rituals import RitualCancelled, RitualScheduled
from services.common.domain.directory import Member, MemberDirectory, MemberStatus
from services.notifier.domain.notices import (
    Delivery,
    Notice,
    due_from,
    notice_id_of,
    notices_for,
    people_named,
    reminder_notice,
    series_notice,
)
from services.notifier.domain.policy import PolicyLookup, channels_for
from services.notifier.domain.quiet_hours import next_working_time
from services.notifier.domain.rituals import RitualPlan, plan_ritual, reminders_due
from services.notifier.domain.templates import language_for


class Waiting(StrEnum):
    """Why a notice is not delivered yet."""

    MEMBER_UNKNOWN = "member_unknown"
    """The recipient's member.joined has not been seen (another topic, read independently)."""
    QUIET_HOURS = "quiet_hours"
    NO_CLOCK = "no_clock"


@dataclass(frozen=True)
class RetryState:
    """A delivery that failed for now: attempts made, and when the next may go (wall clock)."""

    attempts: int
    not_before: datetime


@dataclass(frozen=True)
class NoticeStatus:
    notice: Notice
    waiting: Waiting | None
    """None when ready."""
    ready_at: datetime | None = None
    """When quiet hours end (UTC), for a notice waiting for them."""


DELIVERY_OUTCOMES = ("sent", "retry", "failed")


@dataclass(frozen=True)
class TeamEntry:
    team: str
    event: CloudEvent[Any]


class _Type:
    """The event types the book folds by kind, matched by the event's ``type`` (its payload's
    model is chosen by it): a ``case`` on a payload's class is an ``isinstance`` through
    pydantic's metaclass, 0.28 us a miss, and a match passed nine of them before a round's
    matches fell through to their notices. A type whose payload subclasses another's is named
    beside it (``tests/unit/notifier/test_book.py`` finds any such type)."""

    TICKED = ClockTicked.event_type
    SENT = NotificationSent.event_type
    FAILED = NotificationFailed.event_type
    RETRY_SCHEDULED = NotificationRetryScheduled.event_type
    REDELIVERY_REQUESTED = NotificationRedeliveryRequested.event_type
    RITUAL_SCHEDULED = RitualScheduled.event_type
    RITUAL_CANCELLED = RitualCancelled.event_type
    JOINED = MemberJoined.event_type
    PROFILE_UPDATED = MemberProfileUpdated.event_type
    RESUMED = MemberResumed.event_type
    LEFT = MemberLeft.event_type
    ERASED = MemberErased.event_type
    """An erasure is a leave (``MemberErased`` is a ``MemberLeft``), and folded as one."""


class NotificationBook:
    def __init__(self, directory: MemberDirectory, policy: PolicyLookup) -> None:
        self.directory = directory
        self.policy = policy
        self.pending: dict[str, Notice] = {}
        self.done: set[str] = set()
        """Notification ids delivered or failed for good."""
        self.settled: set[str] = set()
        """Notices that left the book because every channel is done."""
        self.released: set[str] = set()
        """Pending notices whose recipient's working hours were reached."""
        self.held: dict[str, dict[str, Notice]] = {}
        """Organisation -> its pending notices not released yet, in the order they came in: what
        a clock tick looks at (a tick looking at every pending notice of every organisation made
        a long history's rebuild quadratic)."""
        self.rituals: dict[str, dict[str, RitualPlan]] = {}
        """Organisation -> ritual id -> its plan: a clock tick looks at its organisation's
        rituals only."""
        self.team_entries: dict[tuple[str, str], TeamEntry] = {}
        """(Organisation, member) -> the team they are in and the event that put them there (or
        made them take part again): the cause of their calendar invitations from then on."""
        self.clocks: dict[str, datetime] = {}
        """Organisation -> ``now`` of its latest clock tick."""
        self.event_times: dict[str, datetime] = {}
        """Organisation -> domain time of its latest source event (the clock before any tick)."""
        self.calm_until: dict[str, datetime] = {}
        """Organisation -> the time before which a tick changes none of its held notices (each
        one is released when its recipient's working time starts, or expires, later): ticks
        before it skip them. Forgotten on every other event of the organisation and whenever a
        notice is held. Before it, every minute tick looked at every held notice. Kept in the
        zone of the tick that set it: a time compares with one of the same zone object without
        asking the zone for its offset (``timestamp()`` asked it at every tick)."""
        self.counts: Counter[str] = Counter()
        self.outcomes: Counter[tuple[str, str]] = Counter()
        """(Channel, outcome) -> how many attempts came to it: sent, retry (a retry scheduled)
        or failed (for good). What the dashboard shows by channel."""
        self.retries: dict[str, RetryState] = {}
        """Notification id -> its retry, while it is neither delivered nor failed for good."""
        self.failures: dict[str, tuple[datetime, Notice]] = {}
        """Notification id -> when it failed for good and its notice (what a redelivery needs)."""
        self.redeliveries: Counter[str] = Counter()
        """Notification id -> how often it was asked to be delivered again."""
        self.lapsed: dict[str, Notice] = {}
        """Reminders whose occurrence started while their recipient was outside working hours:
        not sent, and each channel's ``notification.failed`` says so."""
        self.due_at: dict[str, datetime] = {}
        """Notice id -> the domain time it became due: its reminder moment or source event's
        time, moved to the recipient's next working time. What happens to it happens then, in
        domain time, however late the worker gets to it: a replay gives the same times."""

    # -- folding events in -------------------------------------------------------------------

    def apply(self, event: CloudEvent[Any]) -> None:
        """Fold one event in (the directory was already updated with member events)."""
        payload = event.data
        if event.type != _Type.TICKED:
            self.calm_until.pop(event.orgid, None)  # members, notices, rituals: look again
        match event.type:
            case _Type.TICKED:
                self._tick(event.orgid, payload.now)
            case _Type.SENT | _Type.FAILED:
                self._done(payload, event.time)
            case _Type.RETRY_SCHEDULED:
                self.outcomes[(payload.channel, "retry")] += 1
                if payload.notification_id not in self.done:
                    self.retries[payload.notification_id] = RetryState(
                        payload.attempts, payload.not_before
                    )
            case _Type.REDELIVERY_REQUESTED:
                self._redeliver(event.orgid, payload, event.time)
            case _Type.RITUAL_SCHEDULED:
                self._schedule(event, payload)
            case _Type.RITUAL_CANCELLED:
                self._cancel(event, payload)
            case _Type.JOINED | _Type.PROFILE_UPDATED | _Type.RESUMED:
                self._enter_team(event, payload.member_id)
            case _Type.LEFT | _Type.ERASED:
                self.team_entries.pop((event.orgid, payload.member_id), None)
                self._drop(
                    lambda n: n.org_id == event.orgid and n.recipient_id == payload.member_id,
                    at=event.time,
                )
            case _:
                for notice in notices_for(event):
                    self._add(notice)

    def _add(self, notice: Notice) -> None:
        org_id, time = notice.org_id, notice.source.time
        self.event_times[org_id] = max(self.event_times.get(org_id, time), time)
        if notice.notice_id in self.pending or notice.notice_id in self.settled:
            return
        member = self.directory.member(notice.org_id, notice.recipient_id)
        if member is not None and (member.status is MemberStatus.LEFT or member.profile.erased):
            return  # nothing is sent to someone who left, nor to an erased person (placeholders)
        self.pending[notice.notice_id] = notice
        self.held.setdefault(org_id, {})[notice.notice_id] = notice
        self.calm_until.pop(org_id, None)
        self._release_if_working_time(notice)
        self._settle_if_complete(notice)

    def _release_if_working_time(self, notice: Notice) -> datetime | None:
        """Release the notice if its recipient's working time has come; if not, when it comes
        (None: released, or not known)."""
        if notice.notice_id in self.released:
            return None
        status, member = self._clock_status(notice)
        if status.waiting is None and member is not None:
            self._release(notice)
            profile = member.profile
            self.due_at[notice.notice_id] = next_working_time(
                due_from(notice), profile.working_hours, ZoneInfo(profile.timezone)
            )
        return status.ready_at

    def _done(self, payload: NotificationSent | NotificationFailed, at: datetime) -> None:
        if payload.notification_id in self.done:
            return
        delivered = isinstance(payload, NotificationSent)
        self.outcomes[(payload.channel, "sent" if delivered else "failed")] += 1
        self.done.add(payload.notification_id)
        self.retries.pop(payload.notification_id, None)
        self.counts["sent" if delivered else "failed"] += 1
        notice_id = notice_id_of(payload.notification_id)
        lapsed = self.lapsed.get(notice_id)
        if lapsed is not None:
            self._settle_lapsed(lapsed)
            return
        notice = self.pending.get(notice_id)
        if notice is not None:
            if not delivered:
                self.failures[payload.notification_id] = (at, notice)
            self._settle_if_complete(notice)

    def _redeliver(
        self, org_id: str, request: NotificationRedeliveryRequested, at: datetime
    ) -> None:
        """What failed for good in the organisation (since a moment, on a channel) is pending
        again, due at once, with a fresh series of attempts."""
        for notification_id, (failed_at, notice) in list(self.failures.items()):
            if (
                notice.org_id != org_id
                or (request.failed_since is not None and failed_at < request.failed_since)
                or (
                    request.channel is not None
                    and notice.notification_id(request.channel) != notification_id
                )
            ):
                continue
            del self.failures[notification_id]
            self.done.discard(notification_id)
            self.redeliveries[notification_id] += 1
            self.counts["redelivered"] += 1
            self.settled.discard(notice.notice_id)
            self.pending.setdefault(notice.notice_id, notice)
            self._release(notice)  # due again, now
            self.due_at[notice.notice_id] = at

    def _settle_if_complete(self, notice: Notice) -> None:
        """Take a notice out once every channel of its recipient is done."""
        member = self.directory.member(notice.org_id, notice.recipient_id)
        if member is None:
            return
        channels = channels_for(member.profile, self.policy(notice.org_id))
        if all(notice.notification_id(channel) in self.done for channel in channels):
            self._remove(notice.notice_id)
            self.settled.add(notice.notice_id)

    def _settle_lapsed(self, notice: Notice) -> None:
        member = self.directory.member(notice.org_id, notice.recipient_id)
        channels = channels_for(member.profile, self.policy(notice.org_id)) if member else []
        if all(notice.notification_id(channel) in self.done for channel in channels):
            del self.lapsed[notice.notice_id]
            self.settled.add(notice.notice_id)

    def _tick(self, org_id: str, now: datetime) -> None:
        self.clocks[org_id] = now = max(now, self.clocks.get(org_id, now))
        calm = self.calm_until.get(org_id)
        if calm is None or now >= calm:
            calm = self._tick_held(org_id, now)
            if calm is None:
                self.calm_until.pop(org_id, None)
            else:
                self.calm_until[org_id] = calm
        for ritual_id, plan in self.rituals.get(org_id, {}).items():
            self._remind(plan, ritual_id, now)

    def _tick_held(self, org_id: str, now: datetime) -> datetime | None:
        """Expire and release the organisation's held notices as the tick says; the time (in
        ``now``'s zone) before which no later tick changes those left (None: not known, look
        every tick). A notice waiting for working time is released at the same moment by every
        tick until then, unless its recipient changes (another event: forgotten then)."""
        held = self.held.get(org_id, {})
        expired = [
            notice
            for notice in held.values()
            if notice.expires_at is not None and now >= notice.expires_at
        ]
        for notice in expired:  # the worker says why each was not sent, then they settle
            self._remove(notice.notice_id)
            self.lapsed[notice.notice_id] = notice
            self.counts["expired"] += 1
        calm: datetime | None = datetime.max.replace(tzinfo=now.tzinfo)  # none waits for time
        for notice in list(held.values()):  # every one looked at, whatever the others wait for
            ready_at = self._release_if_working_time(notice)
            if notice.notice_id not in held:
                continue  # released
            if ready_at is None:
                calm = None  # waits for something other than time (its member, say)
            elif calm is not None:
                calm = min(calm, ready_at.astimezone(now.tzinfo))
                if notice.expires_at is not None:
                    calm = min(calm, notice.expires_at.astimezone(now.tzinfo))
        return calm

    def _remind(self, plan: RitualPlan, ritual_id: str, now: datetime) -> None:
        due = reminders_due(plan, now)
        if not due:
            return
        participants = self._team_taking_part(plan.scheduled.orgid, plan.ritual.team, now)
        for occurrence in due:
            for member in participants:
                self._add(reminder_notice(plan.scheduled, ritual_id, occurrence, member.member_id))

    def _schedule(self, event: CloudEvent[Any], payload: RitualScheduled) -> None:
        key = (event.orgid, payload.ritual_id)
        previous = self.rituals.get(event.orgid, {}).get(payload.ritual_id)
        # Raises on an unreadable rule, before anything changes.
        plan = plan_ritual(event) if previous is None else previous.rescheduled(event)
        self._drop_reminders(key, occurrence=None, at=event.time)  # remade from the new plan
        self.rituals.setdefault(event.orgid, {})[payload.ritual_id] = plan
        self._invite(plan, payload.ritual_id)
        ticked = self.clocks.get(event.orgid)
        if ticked is not None:
            # Topics are read independently: the tick that makes a reminder due may have been
            # read before the ritual's schedule.
            self._remind(plan, payload.ritual_id, ticked)

    def _cancel(self, event: CloudEvent[Any], payload: RitualCancelled) -> None:
        key = (event.orgid, payload.ritual_id)
        plan = self.rituals.get(event.orgid, {}).get(payload.ritual_id)
        if plan is None:
            return
        plan = plan.cancelled_by(event)
        self.rituals[event.orgid][payload.ritual_id] = plan
        self._drop_reminders(key, occurrence=payload.occurrence_start, at=event.time)
        self._invite(plan, payload.ritual_id)

    def _invite(self, plan: RitualPlan, ritual_id: str) -> None:
        """Every member of the ritual's team taking part gets the new version of the series in
        their calendar; an older version not due yet is not sent any more. Whatever order the
        members and rituals topics are read in, the same notices come out: a member who was in
        the team when the version was made gets it as caused by the version's event, one who
        entered the team later as caused by their entering it."""
        version = plan.version_event
        for member in self.directory.members(version.orgid):
            entry = self.team_entries.get((version.orgid, member.member_id))
            if entry is None or entry.team != plan.ritual.team:
                continue
            if entry.event.time <= version.time:
                then = member.as_of(version.time)
                if then is not None and then.takes_part_on(version.time.date()):
                    self._invite_member(plan, ritual_id, version, member.member_id)
            elif member.takes_part_on(entry.event.time.date()):
                self._invite_member(plan, ritual_id, entry.event, member.member_id)

    def _invite_member(
        self, plan: RitualPlan, ritual_id: str, cause: CloudEvent[Any], member_id: str
    ) -> None:
        notice = series_notice(plan, ritual_id, cause, member_id)
        self._drop(
            lambda n: (
                n.series is not None
                and n.notice_id != notice.notice_id
                and (n.org_id, n.series.ritual.ritual_id) == (cause.orgid, ritual_id)
                and n.recipient_id == member_id
            ),
            at=cause.time,
        )
        self._add(notice)

    def _enter_team(self, event: CloudEvent[Any], member_id: str) -> None:
        """A member who joins a team (the organisation, or another team), or takes part again,
        gets the team's live series in their calendar, once per version of each series."""
        member = self.directory.member(event.orgid, member_id)
        if member is None or not member.takes_part_on(event.time.date()):
            return
        key = (event.orgid, member_id)
        entry = self.team_entries.get(key)
        resumed = isinstance(event.data, MemberResumed)
        if entry is not None and entry.team == member.profile.team and not resumed:
            return  # another change of the profile: nothing new for the calendar
        self.team_entries[key] = TeamEntry(member.profile.team, event)
        for ritual_id, plan in self.rituals.get(event.orgid, {}).items():
            if not plan.series_cancelled and plan.ritual.team == member.profile.team:
                version = plan.version_event
                cause = version if event.time <= version.time else event
                self._invite_member(plan, ritual_id, cause, member_id)

    def _team_taking_part(self, org_id: str, team: str, now: datetime) -> list[Member]:
        return [
            member
            for member in self.directory.taking_part(org_id, now.date())
            if member.profile.team == team
        ]

    def _drop_reminders(
        self, key: tuple[str, str], occurrence: datetime | None, at: datetime
    ) -> None:
        def about(notice: Notice) -> bool:
            data = notice.source.data
            return (
                notice.occurrence is not None
                and isinstance(data, RitualScheduled)
                and (notice.org_id, data.ritual_id) == key
                and (occurrence is None or notice.occurrence == occurrence)
            )

        self._drop(about, at)

    def _drop(self, which: Callable[[Notice], bool], at: datetime) -> None:
        """Drop the pending notices ``which`` picks that were not due yet at ``at`` (domain time
        of the event that makes them pointless). One that was due before stays and goes out:
        it would have, had the worker been quicker than the event, so a replay decides the same
        whatever the worker's speed."""

        def not_due_yet(notice: Notice) -> bool:
            due = self.due_at.get(notice.notice_id)
            return due is None or due >= at

        for notice_id in [
            n.notice_id for n in self.pending.values() if which(n) and not_due_yet(n)
        ]:
            self._remove(notice_id)

    def _release(self, notice: Notice) -> None:
        self.released.add(notice.notice_id)
        self.held.get(notice.org_id, {}).pop(notice.notice_id, None)

    def _remove(self, notice_id: str) -> None:
        notice = self.pending.pop(notice_id)
        self.released.discard(notice_id)
        self.held.get(notice.org_id, {}).pop(notice_id, None)
        self.due_at.pop(notice_id, None)

    # -- reading ----------------------------------------------------------------------------

    def _pending_counts(self) -> tuple[Counter[Waiting | None], Counter[str]]:
        """Pending notices by what they wait for (None: nothing), and deliveries not done yet
        by channel (waiting for working hours or a retry included): one look at each notice,
        each member looked up once (a backlog after downtime holds 100,000 notices)."""
        waiting: Counter[Waiting | None] = Counter()
        backlog: Counter[str] = Counter()
        for notice in self.pending.values():
            status, member = self.status(notice)
            waiting[status.waiting] += 1
            if member is None:
                continue
            for channel in channels_for(member.profile, self.policy(notice.org_id)):
                if notice.notification_id(channel) not in self.done:
                    backlog[channel] += 1
        return waiting, backlog

    def now(self, org_id: str) -> datetime | None:
        """The organisation's domain time: its latest clock tick (or, before the first tick, the
        time of its latest source event)."""
        return self.clocks.get(org_id) or self.event_times.get(org_id)

    def status(self, notice: Notice) -> tuple[NoticeStatus, Member | None]:
        if notice.notice_id in self.released:  # a released notice's member is known
            member = self.directory.member(notice.org_id, notice.recipient_id)
            if member is not None:
                return NoticeStatus(notice, None), member
        return self._clock_status(notice)

    def _clock_status(self, notice: Notice) -> tuple[NoticeStatus, Member | None]:
        """The status by the organisation's time now, whether released or not."""
        member = self.directory.member(notice.org_id, notice.recipient_id)
        if member is None:
            return NoticeStatus(notice, Waiting.MEMBER_UNKNOWN), None
        now = self.now(notice.org_id)
        if now is None:
            return NoticeStatus(notice, Waiting.NO_CLOCK), member
        profile = member.profile
        ready_at = next_working_time(now, profile.working_hours, ZoneInfo(profile.timezone))
        if ready_at > now:
            return NoticeStatus(notice, Waiting.QUIET_HOURS, ready_at), member
        return NoticeStatus(notice, None), member

    def ready(self, skip_notices: Container[str] = frozenset()) -> Iterator[Delivery]:
        """Deliveries that may go out now and were never done, in the order notices came in;
        ``skip_notices`` are not looked at (the worker's notices in flight: a cheap scan)."""
        for notice in list(self.pending.values()):
            if notice.notice_id in skip_notices:
                continue
            status, member = self.status(notice)
            if status.waiting is not None or member is None:
                continue
            yield from self._deliveries(notice, member)

    def lapsed_deliveries(self) -> Iterator[Delivery]:
        """The channels of lapsed reminders whose outcome is not recorded yet."""
        for notice in list(self.lapsed.values()):
            member = self.directory.member(notice.org_id, notice.recipient_id)
            if member is not None:
                yield from self._deliveries(notice, member)

    def _deliveries(self, notice: Notice, member: Member) -> Iterator[Delivery]:
        policy = self.policy(notice.org_id)
        profile = member.profile
        channels = [
            channel
            for channel in channels_for(profile, policy)
            if notice.notification_id(channel) not in self.done
        ]
        if not channels:
            return
        language = language_for(profile.languages, policy.default_language)
        people = {
            member_id: known.profile
            for member_id in people_named(notice)
            if (known := self.directory.member(notice.org_id, member_id)) is not None
        }
        for channel in channels:
            yield Delivery(notice, channel, profile, language, people)

    def measures(self) -> dict[str, float]:
        waiting, backlog = self._pending_counts()
        return {
            **{f"backlog_{channel}": float(backlog[channel]) for channel in get_args(Channel)},
            "notifications_retrying": float(len(self.retries)),
            "notifications_redelivered": float(self.counts["redelivered"]),
            "notices_pending": float(len(self.pending)),
            "notices_ready": float(waiting[None]),
            **{f"notices_waiting_{reason.value}": float(waiting[reason]) for reason in Waiting},
            "notifications_sent": float(self.counts["sent"]),
            "notifications_failed": float(self.counts["failed"]),
            "reminders_expired": float(self.counts["expired"]),
            "rituals_scheduled": float(sum(len(plans) for plans in self.rituals.values())),
            **{
                f"deliveries_{outcome}_{channel}": float(self.outcomes[(channel, outcome)])
                for channel in get_args(Channel)
                for outcome in DELIVERY_OUTCOMES
            },
        }
