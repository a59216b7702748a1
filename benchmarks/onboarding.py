"""Onboarding benchmark: buddy assignments per second in a 50,000-member organisation.

The organisation (seeded, ``services.common.simulation``) joins first; then a month goes by:
1,000 new hires join (start dates one to three weeks later, the manager being their team's
lead), hourly clock ticks bring check-ins due, and colleagues pause, come back and leave. Every
event goes through the real processor and its ledger (apply, decide, outputs enveloped and
folded back in), as the runtime does, without Kafka.

Figures: assignments per second (a new hire's join: the buddy search, the reasons and six planned
check-ins), the whole month in events per second, and, as the baseline, the same decisions made
by scanning every member of the organisation instead of the candidate index, on the first new
hires of the month (a full scan is too slow for all of them). Both must choose the same buddies.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import CloudEvent, new_event
from schemas.base import EventPayload
from schemas.clock import ClockTicked
from schemas.members import MemberJoined, MemberLeft, MemberPaused, MemberResumed
from schemas.onboarding import BuddyAssigned, BuddyReassigned, BuddyUnavailable
from services.common.processing import Ledger
from services.common.simulation import OrganisationShape, generate_members
from services.onboarding.handlers import OnboardingProcessor

ORG = "bench"
SOURCE = "/rituals/onboarding"
MONTH_START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DAYS = 30


@dataclass(frozen=True)
class Workload:
    members: list[CloudEvent[Any]]
    month: list[CloudEvent[Any]]
    """New hires, ticks and colleagues' pauses, returns and departures, in time order."""
    hires: int


@dataclass
class Run:
    seconds_by_type: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    events_by_type: Counter[str] = field(default_factory=Counter)
    outputs_by_type: Counter[str] = field(default_factory=Counter)
    hire_seconds: float = 0.0
    hires_handled: int = 0
    buddies: dict[str, str] = field(default_factory=dict)
    load_seconds: float = 0.0
    """The organisation's joins, before the month."""

    @property
    def seconds(self) -> float:
        return sum(self.seconds_by_type.values())

    @property
    def events(self) -> int:
        return sum(self.events_by_type.values())


def workload(members: int, hires: int, seed: int = 7) -> Workload:
    """The organisation and its month, the same for a seed."""
    rng = random.Random(seed)
    shape = OrganisationShape(members=members, teams=60, today=MONTH_START.date())
    staff = generate_members(seed, shape)
    joined_at = MONTH_START - timedelta(days=1)
    member_events = [_event(m, joined_at) for m in staff]
    leads = {m.team: m.member_id for m in reversed(staff)}  # each team's first member leads it

    month: list[tuple[datetime, EventPayload]] = []
    for number, hire in enumerate(generate_members(seed + 1, OrganisationShape(members=hires))):
        at = MONTH_START + timedelta(seconds=rng.randrange(DAYS * 86_400))
        team = staff[rng.randrange(len(staff))].team
        fields = {
            "member_id": f"h{number:05d}",
            "email": f"h{number:05d}@example.org",
            "team": team,
            "department": next(m.department for m in staff[:60] if m.team == team),
            "manager_id": leads[team],
            "start_date": at.date() + timedelta(days=rng.randint(7, 21)),
            "new_hire": True,
            "buddy_volunteer": False,
        }
        month.append((at, MemberJoined.model_validate({**hire.model_dump(), **fields})))
    for hour in range(DAYS * 24):
        now = MONTH_START + timedelta(hours=hour, minutes=30)
        month.append((now, ClockTicked(now=now, sequence=hour)))
    for _ in range(members // 100):  # 1% of colleagues pause for one to three weeks
        at = MONTH_START + timedelta(seconds=rng.randrange(DAYS * 86_400))
        who = staff[rng.randrange(len(staff))].member_id
        back = at + timedelta(days=rng.randint(7, 21))
        month.append((at, MemberPaused(member_id=who, until=back.date())))
        month.append((back, MemberResumed(member_id=who)))
    for _ in range(members // 500):  # 0.2% leave
        at = MONTH_START + timedelta(seconds=rng.randrange(DAYS * 86_400))
        month.append((at, MemberLeft(member_id=staff[rng.randrange(len(staff))].member_id)))
    month.sort(key=lambda item: item[0])
    return Workload(member_events, [_event(p, at) for at, p in month], hires)


def run(work: Workload, *, use_index: bool, hire_limit: int | None = None) -> Run:
    """The organisation joins (timed as a whole), then the month (timed event by event); with a
    limit, the month stops after that many new hires."""
    ledger = Ledger(OnboardingProcessor(use_index=use_index), SOURCE)
    started = time.perf_counter()
    for member in work.members:
        ledger.record_published(ledger.handle(member))
    result = Run(load_seconds=time.perf_counter() - started)
    for cause in work.month:
        is_hire = isinstance(cause.data, MemberJoined)
        if is_hire and hire_limit is not None and result.hires_handled >= hire_limit:
            break
        started = time.perf_counter()
        outputs = ledger.handle(cause)
        ledger.record_published(outputs)
        elapsed = time.perf_counter() - started
        result.seconds_by_type[cause.type] += elapsed
        result.events_by_type[cause.type] += 1
        if is_hire:
            result.hire_seconds += elapsed
            result.hires_handled += 1
        for output in outputs:
            result.outputs_by_type[output.type] += 1
            if isinstance(output.data, BuddyAssigned) and is_hire:
                result.buddies[output.data.new_hire_id] = output.data.buddy_id
    return result


def main(argv: Sequence[str] | None = None) -> None:
    options = _options(argv)
    print(
        f"Onboarding: {options.members:,} members, {options.hires:,} new hires over {DAYS} days "
        f"(CPUs: {os.cpu_count()}, Python {platform.python_version()})"
    )
    work = workload(options.members, options.hires)
    indexed = run(work, use_index=True)
    load = indexed.load_seconds
    print(f"  directory load: {len(work.members):,} joins in {load:.1f} s "
          f"({len(work.members) / load:,.0f} events/s)")  # fmt: skip
    assigned = indexed.outputs_by_type[BuddyAssigned.event_type]
    print(f"  month, candidate index: {indexed.events:,} events in {indexed.seconds:.2f} s "
          f"({indexed.events / indexed.seconds:,.0f} events/s)")  # fmt: skip
    print(f"    new hires: {indexed.hires_handled:,} in {indexed.hire_seconds:.2f} s -> "
          f"{indexed.hires_handled / indexed.hire_seconds:,.0f} assignments/s "
          f"({indexed.hire_seconds / indexed.hires_handled * 1000:.2f} ms each)")  # fmt: skip
    print(f"    outputs: {assigned:,} buddy_assigned, "
          f"{indexed.outputs_by_type[BuddyReassigned.event_type]:,} buddy_reassigned, "
          f"{indexed.outputs_by_type[BuddyUnavailable.event_type]:,} buddy_unavailable, "
          f"{indexed.outputs_by_type['rituals.onboarding.checkin_scheduled']:,} checkin_scheduled, "
          f"{indexed.outputs_by_type['rituals.onboarding.checkin_due']:,} checkin_due")  # fmt: skip
    for event_type, seconds in sorted(indexed.seconds_by_type.items(), key=lambda item: -item[1]):
        count = indexed.events_by_type[event_type]
        print(f"    {event_type:<28} {count:>6,} events  {seconds / count * 1e6:>9,.0f} µs each")

    baseline = run(work, use_index=False, hire_limit=options.baseline_hires)
    first = run(work, use_index=True, hire_limit=options.baseline_hires)
    same = baseline.buddies == first.buddies
    print(f"  baseline, full scan of the organisation (first {baseline.hires_handled} new hires):")
    print(f"    scan:  {baseline.hires_handled / baseline.hire_seconds:,.1f} assignments/s "
          f"({baseline.hire_seconds / baseline.hires_handled * 1000:.1f} ms each)")  # fmt: skip
    print(f"    index: {first.hires_handled / first.hire_seconds:,.1f} assignments/s "
          f"({first.hire_seconds / first.hires_handled * 1000:.2f} ms each); "
          f"{baseline.hire_seconds / first.hire_seconds:,.0f}x faster; "
          f"same buddies: {'yes' if same else 'NO'}")  # fmt: skip
    if not same:
        raise SystemExit("the candidate index chose other buddies than the full scan")


def _event(payload: EventPayload, at: datetime) -> CloudEvent[Any]:
    subject = getattr(payload, "member_id", None)
    return new_event(payload, source="/bench", orgid=ORG, time=at, subject=subject)


def _options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.onboarding")
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--hires", type=int, default=1_000)
    parser.add_argument("--baseline-hires", type=int, default=50)
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
