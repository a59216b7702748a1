"""What a team ritual's recurrence may be, and its occurrences: one rule for every place a rule
enters or is expanded (the ``ritual schedule`` command, the ``ritual.scheduled`` schema, hence
admission and decoding in every service, and the notifier's reminders).

A ritual's rule is one RFC 5545 ``RRULE`` value, expanded from the ritual's first start (a local
time) in the ritual's time zone. A team ritual:

- happens at most once a day: ``FREQ`` is ``DAILY``, ``WEEKLY``, ``MONTHLY`` or ``YEARLY``
  (``SECONDLY``, ``MINUTELY`` and ``HOURLY`` are refused) and the time of day is the first
  start's (``BYHOUR``, ``BYMINUTE``, ``BYSECOND`` are refused, and so are ``BYYEARDAY`` and
  ``BYWEEKNO``, which no team calendar needs);
- happens at least about once a year: ``INTERVAL`` is 1 to 366 (``DAILY``), 52 (``WEEKLY``),
  12 (``MONTHLY``) or 1 (``YEARLY``), and its first occurrence is within a year of its first start;
- fires at all: ``COUNT`` is at least 1, ``UNTIL`` is not before the first occurrence, and the
  ``BY...`` parts allow a date (``BYMONTH=2;BYMONTHDAY=30`` is refused);
- is written as RFC 5545 writes it: ``NAME=value`` parts separated by ``;`` (names in any case, an
  optional ``RRULE:`` prefix), each part at most once, ``COUNT`` and ``UNTIL`` not both.

Times, as RFC 5545 reads them:

- ``UNTIL=20260319T000000Z`` is an instant in UTC (what RFC 5545 requires when the start has a time
  zone); ``UNTIL=20260319T000000`` (floating) is a local time in the ritual's zone;
  ``UNTIL=20260319`` (a date) ends the series after that local day. ``UNTIL`` is inclusive.
- The first start is a local time in the ritual's zone. One that does not exist (02:30 on the
  spring-forward night) is refused; an ambiguous one (02:30 on the fall-back night) is the first
  of the two, in summer time (RFC 5545 section 3.3.5).
- A later occurrence that falls in a spring-forward gap is moved forward by the gap (02:30 becomes
  03:30 summer time), one that falls in the fall-back hour is the first of the two, both as RFC
  5545 section 3.3.5 says.

Every expansion is bounded: at most ``MAX_OCCURRENCES_PER_WINDOW`` occurrences per window (a
rule that exceeds it raises ``RecurrenceError``, it is not run further), and the search for a
first occurrence looks one year ahead only.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

MAX_INTERVAL = {"DAILY": 366, "WEEKLY": 52, "MONTHLY": 12, "YEARLY": 1}
"""Allowed frequencies and their largest interval: a ritual happens about once a year at least."""
ALLOWED_PARTS = frozenset(
    ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST")
)
REFUSED_PARTS = {
    "BYHOUR": "the time of day is the first start's: a ritual happens at most once a day",
    "BYMINUTE": "the time of day is the first start's: a ritual happens at most once a day",
    "BYSECOND": "the time of day is the first start's: a ritual happens at most once a day",
    "BYYEARDAY": "BYYEARDAY is not supported for team rituals",
    "BYWEEKNO": "BYWEEKNO is not supported for team rituals",
    "BYEASTER": "BYEASTER is not part of RFC 5545",
}
FIRST_OCCURRENCE_HORIZON = timedelta(days=366)
"""A ritual's first occurrence must come within this of its first start."""
MAX_OCCURRENCES_PER_WINDOW = 1_000
"""No expansion yields more than this: a daily ritual has 1,000 occurrences in almost 3 years."""
MAX_STALE_FIRST_START = timedelta(days=366)
"""``ritual schedule`` refuses a first start further in the past than this (a new series)."""
_LARGEST_SET = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}
"""At most this many occurrences per period: what a BYSETPOS position can pick from."""
_LOCAL_MARGIN = timedelta(hours=3)
"""Slack around a window in local time: wider than any daylight-saving shift."""
_UNTIL = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$")


class RecurrenceError(ValueError):
    """A rule a team ritual may not have; the message says why, for a person."""


@dataclass(frozen=True)
class Recurrence:
    """A ritual's validated rule: its occurrences as instants (UTC)."""

    text: str
    rule: rrule
    """Expanded in naive local time from the first start; its own ``until`` is widened by a margin,
    ``until`` below is the exact end."""
    zone: ZoneInfo
    first_start: datetime
    """Local, naive."""
    until: datetime | None
    """The last instant an occurrence may start at (UTC), if the series ends by time."""

    def instant(self, local: datetime) -> datetime:
        """The UTC instant of a local time of the series (RFC 5545 section 3.3.5: a time in a
        spring-forward gap takes the offset before the gap, an ambiguous one is the first)."""
        return local.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def occurrences_between(
        self, after: datetime, until: datetime, limit: int = MAX_OCCURRENCES_PER_WINDOW
    ) -> list[datetime]:
        """UTC starts with ``after < start <= until``; RecurrenceError past ``limit`` of them
        (or past ``limit`` scanned around the window)."""
        lower = after.astimezone(self.zone).replace(tzinfo=None) - _LOCAL_MARGIN
        upper = until.astimezone(self.zone).replace(tzinfo=None) + _LOCAL_MARGIN
        found: list[datetime] = []
        for scanned, local in enumerate(self.rule.xafter(lower, inc=True)):
            if local > upper:
                break
            if scanned >= limit:
                raise RecurrenceError(
                    f"the rule {self.text!r} has more than {limit} occurrences between "
                    f"{after.isoformat()} and {until.isoformat()}"
                )
            start = self.instant(local)
            if self.until is not None and start > self.until:
                break
            if after < start <= until:
                found.append(start)
        return found

    def first_occurrence(self) -> datetime | None:
        """The first start (UTC) within a year of the first start, if any."""
        begin = self.instant(self.first_start)
        starts = self.occurrences_between(
            begin - timedelta(seconds=1), begin + FIRST_OCCURRENCE_HORIZON, limit=400
        )
        return starts[0] if starts else None

    def is_occurrence(self, moment: datetime) -> bool:
        return moment in self.occurrences_between(moment - timedelta(seconds=1), moment)

    def last_before(self, moment: datetime) -> datetime | None:
        """The latest start at or before ``moment`` within a year of it (None if none)."""
        starts = self.occurrences_between(moment - FIRST_OCCURRENCE_HORIZON, moment, limit=400)
        return starts[-1] if starts else None

    def calendar_rule(self) -> str:
        """The rule as an iCalendar ``RRULE`` beside a ``DTSTART`` with a time zone: ``UNTIL`` in
        UTC whatever form it was given in (RFC 5545 section 3.3.10 requires that)."""
        parts = _parts(self.text)
        parts.pop("UNTIL", None)
        if self.until is not None:
            parts["UNTIL"] = f"{self.until:%Y%m%dT%H%M%SZ}"
        return ";".join(f"{name}={value}" for name, value in parts.items())

    def fires_after(self, moment: datetime) -> bool:
        """Whether an occurrence starts after ``moment`` (looking a year ahead)."""
        return bool(self.occurrences_between(moment, moment + FIRST_OCCURRENCE_HORIZON, limit=400))


def local_first_start(first_start: datetime, timezone: str) -> datetime:
    """The first start as a naive local time of the zone (converted when it carries an offset);
    RecurrenceError when that local time does not exist or does not stand for that instant."""
    return local_time(first_start, ZoneInfo(timezone), what="first start")


def local_time(moment: datetime, zone: ZoneInfo, what: str = "time") -> datetime:
    """How every ritual time is read: a time without offset is local to the ritual's zone, one
    with an offset is converted to it. Refused: a local time the zone skips (spring forward),
    an offset that picks the second of two equal local times (fall back): the series reads an
    ambiguous local time as the first; and a time at the edge of the calendar (year 1 or 9999)
    that no zone can convert."""
    try:
        return _local_time(moment, zone, what)
    except OverflowError:
        raise RecurrenceError(
            f"{what} {moment.isoformat()} is outside the dates a time zone can convert"
        ) from None


def _local_time(moment: datetime, zone: ZoneInfo, what: str) -> datetime:
    if moment.tzinfo is not None:
        local = moment.astimezone(zone)
        naive = local.replace(tzinfo=None, fold=0)
        if naive.replace(tzinfo=zone).astimezone(UTC) != moment.astimezone(UTC):
            raise RecurrenceError(
                f"{what} {moment.isoformat()} is {naive.isoformat()} in {zone.key} the second "
                "time that hour is passed (clocks go back); a ritual's local time means the "
                "first: give a time outside that hour"
            )
        return naive
    naive = moment.replace(fold=0)
    round_trip = naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != naive:
        raise RecurrenceError(
            f"{what} {naive.isoformat()} does not exist in {zone.key} (clocks go forward that "
            "night): choose another time"
        )
    return naive


def parse_recurrence(text: str, first_start: datetime, timezone: str) -> Recurrence:
    """The rule of a ritual, validated (see the module's doc); RecurrenceError says why not."""
    zone = ZoneInfo(timezone)
    local_start = local_first_start(first_start, timezone)
    parts = _parts(text)
    _check_dates_possible(text, parts)
    until = _until(parts.pop("UNTIL", None), zone)
    body = ";".join(f"{name}={value}" for name, value in parts.items())
    try:
        parsed = rrulestr(body, dtstart=local_start, cache=True)
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise RecurrenceError(f"cannot read the rule {text!r}: {error}") from None
    if not isinstance(parsed, rrule):  # pragma: no cover - one RRULE gives an rrule
        raise RecurrenceError(f"cannot read the rule {text!r}")
    if until is not None:
        local_until = until.astimezone(zone).replace(tzinfo=None) + _LOCAL_MARGIN
        parsed = parsed.replace(until=local_until, cache=True)
    recurrence = Recurrence(text, parsed, zone, local_start, until)
    if recurrence.first_occurrence() is None:
        raise RecurrenceError(
            f"the rule {text!r} never fires within a year of the first start "
            f"{local_start.isoformat()} ({timezone})"
            + (f": UNTIL {until.isoformat()} comes before any occurrence" if until else "")
        )
    return recurrence


def ending_on(text: str, last_day: date) -> str:
    """The rule with its end (``COUNT`` or ``UNTIL``) replaced: the series ends after
    ``last_day``, a local date of the ritual's zone. RecurrenceError for an unreadable rule."""
    parts = _parts(text)
    parts.pop("COUNT", None)
    parts["UNTIL"] = f"{last_day:%Y%m%d}"
    return ";".join(f"{name}={value}" for name, value in parts.items())


def _parts(text: str) -> dict[str, str]:
    rule = text.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[len("RRULE:") :]
    if not rule or any(c in rule for c in "\r\n"):
        raise RecurrenceError(
            f"the rule {text!r} must be one RRULE value, e.g. FREQ=WEEKLY;BYDAY=FR"
        )
    parts: dict[str, str] = {}
    for chunk in rule.split(";"):
        name, equals, value = chunk.partition("=")
        name = name.strip().upper()
        if not equals or not name or not value.strip():
            raise RecurrenceError(
                f"cannot read the rule {text!r}: {chunk!r} is not NAME=value "
                "(e.g. FREQ=WEEKLY;BYDAY=FR)"
            )
        if name in REFUSED_PARTS:
            raise RecurrenceError(f"the rule {text!r} has {name}: {REFUSED_PARTS[name]}")
        if name not in ALLOWED_PARTS:
            raise RecurrenceError(f"cannot read the rule {text!r}: unknown part {name!r}")
        if name in parts:
            raise RecurrenceError(f"the rule {text!r} gives {name} twice")
        parts[name] = value.strip().upper()
    freq = parts.get("FREQ")
    if freq is None:
        raise RecurrenceError(f"the rule {text!r} has no FREQ (e.g. FREQ=WEEKLY)")
    if freq not in MAX_INTERVAL:
        if freq in ("SECONDLY", "MINUTELY", "HOURLY"):
            raise RecurrenceError(
                f"the rule {text!r} is FREQ={freq}: a team ritual happens at most once a day "
                "(FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)"
            )
        raise RecurrenceError(
            f"cannot read the rule {text!r}: FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"
        )
    interval = _integer(text, parts, "INTERVAL", default=1)
    if not 1 <= interval <= MAX_INTERVAL[freq]:
        raise RecurrenceError(
            f"the rule {text!r} has INTERVAL={parts['INTERVAL']}: with FREQ={freq} it must be "
            f"from 1 to {MAX_INTERVAL[freq]}"
        )
    positions = parts.get("BYSETPOS")
    if positions is not None and not all(
        re.fullmatch(r"[+-]?\d{1,3}", p) and 1 <= abs(int(p)) <= _LARGEST_SET[freq]
        for p in positions.split(",")
    ):
        raise RecurrenceError(
            f"the rule {text!r} has BYSETPOS={positions}: with FREQ={freq} a position is from 1 "
            f"to {_LARGEST_SET[freq]} or -1 to -{_LARGEST_SET[freq]}"
        )
    if "COUNT" in parts:
        if "UNTIL" in parts:
            raise RecurrenceError(f"the rule {text!r} has both COUNT and UNTIL: give one")
        if _integer(text, parts, "COUNT", default=1) < 1:
            raise RecurrenceError(f"the rule {text!r} has COUNT={parts['COUNT']}: it never fires")
    return parts


def _integer(text: str, parts: dict[str, str], name: str, default: int) -> int:
    value = parts.get(name)
    if value is None:
        return default
    if not re.fullmatch(r"[+-]?\d{1,6}", value):
        raise RecurrenceError(f"cannot read the rule {text!r}: {name}={value} is not a number")
    return int(value)


def _until(value: str | None, zone: ZoneInfo) -> datetime | None:
    """UNTIL as an instant (UTC)."""
    if value is None:
        return None
    match = _UNTIL.match(value)
    if match is None:
        raise RecurrenceError(
            f"UNTIL={value} is not a date-time: write 20260319T000000Z (UTC), "
            "20260319T000000 (local to the ritual's zone) or 20260319 (to the end of that day)"
        )
    day, clock, utc = match.groups()
    try:
        moment = datetime.strptime(day + (clock or ""), "%Y%m%d%H%M%S" if clock else "%Y%m%d")
    except ValueError:
        raise RecurrenceError(f"UNTIL={value} is not a valid date-time") from None
    if utc:
        return moment.replace(tzinfo=UTC)
    if clock is None:  # to the end of that local day
        moment = datetime.combine(moment.date(), time(23, 59, 59))
    return moment.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _numbers(text: str, parts: dict[str, str], name: str) -> list[int]:
    value = parts.get(name)
    if value is None:
        return []
    try:
        return [int(v) for v in value.split(",")]
    except ValueError:
        raise RecurrenceError(f"cannot read the rule {text!r}: {name}={value}") from None


def _check_dates_possible(text: str, parts: dict[str, str]) -> None:
    """Refuse, without expanding, month days no listed month has (the costliest rules to expand:
    a search for them would run to the end of the calendar)."""
    months = _numbers(text, parts, "BYMONTH") or list(range(1, 13))
    days = _numbers(text, parts, "BYMONTHDAY")
    if not days:
        return
    longest = {month: calendar.monthrange(2024, month)[1] for month in range(1, 13)}  # leap year
    possible = any(
        1 <= abs(day) <= longest[month] for month in months if 1 <= month <= 12 for day in days
    )
    if not possible:
        raise RecurrenceError(
            f"the rule {text!r} never fires: no month it allows has day "
            + ",".join(str(d) for d in days)
        )


def stale_first_start_refusal(first_start: datetime, now: datetime) -> str | None:
    """Why a new series' first start (UTC) is too far in the past, if it is."""
    if first_start < now - MAX_STALE_FIRST_START:
        return (
            f"the first start {first_start.isoformat()} is more than a year before now "
            f"({now.isoformat()}): start the series at a recent or coming occurrence"
        )
    return None
