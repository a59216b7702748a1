"""Runs the demo: the platform as processes on a broker, a generated organisation, and a
simulated clock that advances the weeks through ``rituals.clock.ticked``. Nothing is faked
around the broker: the console only shows what the services published."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from infra.broker import free_port
from infra.kafka import KafkaSettings
from infra.topics import TopicSettings, ensure_topics
from schemas import CloudEvent, new_event
from schemas.coffee import CoffeeMatched, CoffeeRoundCompleted
from schemas.members import MemberJoined
from schemas.onboarding import BuddyAssigned
from schemas.pulse import PulseAsked
from services.cli.platform import (
    SERVICES,
    ConsumerProgress,
    ServiceProcess,
    gateway_address,
    kafka_address,
    local_keys,
    local_links,
    stop_all,
    unless_set,
    wait_until_consuming,
)
from services.clock.ticks import ticks
from services.common.adapters.history import domain_topics, read_events, wait_until
from services.common.adapters.publisher import EventPublisher
from services.common.runtime import STATE_REFRESH_SECONDS
from services.demo.actions import platform_actions
from services.demo.answering import Answer, Answers, Mailbox, People
from services.demo.console import heading, in_week, week_report
from services.demo.follower import Follower, LogEnds
from services.demo.script import (
    DemoShape,
    Scripted,
    buddy_pause,
    drifting_members,
    feedback_for,
    pulse_answer,
    script,
    take_due,
)
from services.gateway.settings import GatewaySettings
from services.insights.domain import project
from services.insights.page import html_page
from services.insights.render import text_report
from services.matcher.domain.policy import Cadence, PulseSetting
from services.matcher.domain.pulse import pulse_week

SOURCE = "/rituals/demo"
PROCESSES = (*SERVICES, "gateway")
"""The services, and the gateway the demo's people answer their messages through."""
ROUND_TIMEOUT = 60.0
CATCH_UP_TIMEOUT = 60.0


@dataclass
class DemoRun:
    """What a finished demo leaves behind, for the console and the end-to-end test."""

    shape: DemoShape
    kafka: KafkaSettings
    topics: TopicSettings
    out_dir: Path
    events: list[CloudEvent[Any]] = field(default_factory=list)
    answers: Answers = field(default_factory=Answers)


@contextmanager
def platform(
    servers: str,
    topics: TopicSettings,
    out_dir: Path,
    pulse_of: str | None = None,
    names: Sequence[str] = PROCESSES,
) -> Iterator[list[ServiceProcess]]:
    """The services and the gateway as processes (``names``: some of them), logging to
    ``out_dir``; ``pulse_of``: an organisation that asks the weekly pulse."""
    logs = out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    environment = {
        **(_pulse_on(pulse_of) if pulse_of is not None else {}),
        "RITUALS_TOPIC_PREFIX": topics.prefix,
        "RITUALS_LOG_FORMAT": "json",
        "RITUALS_SESSION_TIMEOUT_MS": "6000",
        "RITUALS_HEARTBEAT_INTERVAL_MS": "500",
        "RITUALS_NOTIFIER_DEFAULT_CHANNEL": "console",
        "RITUALS_NOTIFIER_EMAIL_OUTBOX_DIR": str(out_dir / "outbox"),
        "RITUALS_NOTIFIER_POLL_INTERVAL_SECONDS": "0.2",
    }
    with ExitStack() as files:
        processes = [
            ServiceProcess(
                name,
                servers,
                environment=environment,
                output=files.enter_context((logs / f"{name}.log").open("wb")),
            )
            for name in names
        ]
        try:
            wait_until_consuming(processes)
            yield processes
        finally:
            stop_all(processes)


def _pulse_on(organisation: str) -> dict[str, str]:
    """The demo organisation asks the weekly pulse (unless the matcher's policies are given)."""
    if any(os.environ.get(f"RITUALS_MATCHER_{name}") for name in ("POLICY_FILE", "ORGANISATIONS")):
        return {}
    policy = {organisation: {"pulse": DEMO_PULSE.model_dump(mode="json")}}
    return {"RITUALS_MATCHER_ORGANISATIONS": json.dumps(policy)}


def run_demo(shape: DemoShape, out_dir: Path, configured_servers: str | None = None) -> DemoRun:
    for made_by_the_last_run in ("outbox", "keys"):  # its e-mails and members' data keys
        shutil.rmtree(out_dir / made_by_the_last_run, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    gateway_port = {"RITUALS_GATEWAY_HOST": "127.0.0.1", "RITUALS_GATEWAY_PORT": str(free_port())}
    with (
        kafka_address(configured_servers) as servers,
        unless_set(local_keys(out_dir)),
        unless_set(gateway_port),
        unless_set(local_links(out_dir)),
    ):
        kafka = KafkaSettings(bootstrap_servers=servers)
        topics = TopicSettings(prefix=f"demo{uuid.uuid4().hex[:8]}.")
        ensure_topics(kafka, topics)
        run = DemoRun(shape, kafka, topics, out_dir)
        typer.echo(f"Kafka at {servers}; topics {topics.prefix}rituals.*; logs in {out_dir}/logs")
        with (
            platform(
                servers, topics, out_dir, shape.organisation if shape.pulse else None
            ) as processes,
            EventPublisher(kafka, topics) as publisher,
            ConsumerProgress(kafka, topics, SERVICES) as progress,
            ConsumerProgress(kafka, topics, ("gateway",)) as gateway_progress,
            closing(LogEnds(kafka, domain_topics(topics))) as log_ends,
        ):
            follower = Follower(kafka, domain_topics(topics)).start()
            (notifier,) = [p for p in processes if p.name == "notifier"]
            mailbox = Mailbox(out_dir / "logs" / "notifier.log", out_dir / "outbox")
            people = People(mailbox, f"http://{gateway_address(GatewaySettings())}")
            try:
                ends = log_ends if shape.pulse else None
                pace = _Pace(
                    publisher, follower, progress, notifier, people, gateway_progress, ends
                )
                _simulate(run, pace)
                _settle(follower)
                # The whole history, read while the broker runs (an embedded one stops with us).
                run.events = read_events(kafka, topics, organisation=shape.organisation)
            finally:
                people.close()
                run.answers = people.answers
                follower.stop()
        return run


def _simulate(run: DemoRun, pace: _Pace) -> None:
    shape, follower = run.shape, pace.follower
    pending = script(shape)
    names = {
        s.payload.member_id: s.payload.display_name
        for s in pending
        if isinstance(s.payload, MemberJoined)
    }
    typer.echo(
        f"Organisation {shape.organisation}: {shape.members} people in {shape.teams} "
        f"teams, {shape.new_hires} new hires arriving; {shape.weeks} weeks simulated"
    )
    answered: set[str] = set()
    departed: set[str] = set()
    drifting = drifting_members(shape)
    paused_buddy: list[Scripted] = []
    reported = printed = taken = 0
    moment, sequence = shape.start, 0
    for week in range(shape.weeks):
        monday = shape.first_monday + timedelta(weeks=week)
        hours = typer.progressbar(
            range(7 * 24), label=f"week {week + 1}: the clock runs", file=sys.stderr
        )
        with hours:
            for _ in hours:
                arrived = follower.events(since=taken)
                taken += len(arrived)
                pending += _feedback_on_new_groups(arrived, answered, drifting)
                pending += _pause_the_first_buddy(arrived, paused_buddy)
                pending += _pulse_answers(arrived, drifting)
                due, pending = take_due(pending, moment, departed)
                _publish_hour(shape, pace, due, ticks([shape.organisation], moment, sequence))
                if shape.pulse and _asks_the_pulse(moment):
                    pace.keep_pace()
                moment, sequence = moment + timedelta(hours=1), sequence + 1
                if moment.hour == 0:
                    pace.end_the_day()
            _wait_for_round(follower, f"coffee-{monday.isoformat()}")
            pace.catch_up()
        arrived, messages = follower.events(), _console_messages(run.out_dir)
        week_report(
            week + 1,
            monday,
            [e for e in arrived if in_week(monday)(e)],
            arrived[reported:],
            names,
            messages[printed:],
            _outbox_count(run.out_dir),
        )
        reported, printed = len(arrived), len(messages)


DEMO_PULSE = PulseSetting(enabled=True)
"""The pulse as the demo organisation asks it (``_pulse_on``: the matcher's defaults)."""


def _asks_the_pulse(moment: datetime) -> bool:
    """Whether the matcher asks the week's pulse at this tick. The clock then waits until the
    notifier has read the questions: read only after the evening's ticks, they would wait for
    the recipients' next working morning (quiet hours), after the last week's end."""
    zone = Cadence().timezone
    return pulse_week(DEMO_PULSE, zone, moment) is not None and (
        pulse_week(DEMO_PULSE, zone, moment - timedelta(hours=1)) is None
    )


def _publish_hour(
    shape: DemoShape, pace: _Pace, due: list[Scripted], tick: list[CloudEvent[Any]]
) -> None:
    """The script's events of the hour, then the hour's tick. Members and clock are separate
    topics: when the hour changes the directory or the rituals, the services read that before
    the tick, so a check-in or a reminder is decided at the same tick in every run. Feedback is
    not published: the people answer it through the gateway at the end of the day."""
    pace.evening += [s.payload for s in due if isinstance(s.payload, Answer)]
    due = [s for s in due if not isinstance(s.payload, Answer)]
    scripted = [_envelope(shape, s) for s in due]
    if any(s.payload.event_type.startswith(_TICKS_ACT_ON) for s in due):
        pace.publisher.publish(scripted)
        pace.keep_pace()
        scripted = []
    pace.publisher.publish(scripted + tick)


_TICKS_ACT_ON = ("rituals.member.", "rituals.ritual.scheduled", "rituals.ritual.cancelled")


@dataclass
class _Pace:
    """Keeps the simulated clock in step with the services."""

    publisher: EventPublisher
    follower: Follower
    progress: ConsumerProgress
    notifier: ServiceProcess
    people: People
    gateway_progress: ConsumerProgress
    log_ends: LogEnds | None
    """Where the topics end (with the pulse on: its questions come from a service)."""
    evening: list[Answer] = field(default_factory=list)
    """The feedback the people give when the day ends."""

    def _has_read_everything_written(self) -> bool:
        return self.follower.has_read(self.publisher.written)

    def _processed_what_was_read(self) -> bool:
        return self.progress.caught_up(self.follower.seen())

    def _delivered_what_is_due(self) -> bool:
        ready = self.notifier.metric("rituals_state", service="notifier", measure="notices_ready")
        return ready == 0

    def _delivered_what_is_due_for_sure(self) -> bool:
        """Nothing ready to deliver, and still so once the notifier has shown its state again
        (it shows it a moment after a change: the hour just processed may have released more)."""
        if not self._delivered_what_is_due():
            return False
        time.sleep(2 * STATE_REFRESH_SECONDS)
        return self._delivered_what_is_due()

    def keep_pace(self) -> None:
        """Let the services finish the simulated day before the clock moves on. Topics are
        consumed independently: without this, a service could read a whole week of ticks before
        the match made on Monday, and deliver on Monday next week what a real clock would deliver
        on Monday."""
        _wait(self._has_read_everything_written, CATCH_UP_TIMEOUT)
        _wait(self._processed_what_was_read, CATCH_UP_TIMEOUT)
        if self.log_ends is not None:
            # What the services wrote for the day too (a pulse asked on Friday is answered on a
            # Sunday: seen late, it could be answered a week late).
            ends = self.log_ends()
            _wait(lambda: self.follower.has_read(ends), CATCH_UP_TIMEOUT)
            _wait(self._processed_what_was_read, CATCH_UP_TIMEOUT)

    def end_the_day(self) -> None:
        """The day's last tick is processed everywhere (the gateway too, so the answers are dated
        at it), then the people answer, then everyone has read the answers before the clock
        moves on."""
        self.keep_pace()
        if not self.evening and not self.people.waiting:
            return
        _wait(lambda: self.gateway_progress.caught_up(self.follower.seen()), CATCH_UP_TIMEOUT)
        _wait(self._delivered_what_is_due_for_sure, CATCH_UP_TIMEOUT)  # what people answer
        given = self.people.answer(self.evening)
        self.evening = []
        _wait(lambda: self.follower.has_seen(given), CATCH_UP_TIMEOUT)
        _wait(self._processed_what_was_read, CATCH_UP_TIMEOUT)

    def catch_up(self) -> None:
        """The services consume at their own pace, and the notifier delivers beside its
        consumer: the week is over when the console has read everything the demo wrote, every
        service has processed everything the console read, nothing is left ready to deliver, and
        that stays so while the console reads on (one service's outputs are another's input)."""

        def processed() -> bool:
            return self._delivered_what_is_due() and self._processed_what_was_read()

        deadline = time.monotonic() + CATCH_UP_TIMEOUT
        _wait(self._has_read_everything_written, CATCH_UP_TIMEOUT)
        while time.monotonic() < deadline:
            read_before = self.follower.count()
            if _wait(processed, deadline - time.monotonic()):
                _settle(self.follower, quiet=0.5, limit=10)
                if self.follower.count() == read_before and processed():
                    return
        typer.secho(
            f"(the services did not catch up within {CATCH_UP_TIMEOUT:.0f} s: see the logs)",
            fg="yellow",
        )


def _envelope(shape: DemoShape, scripted: Scripted) -> CloudEvent[Any]:
    return new_event(
        scripted.payload,
        source=SOURCE,
        orgid=shape.organisation,
        time=scripted.at,
        subject=scripted.subject,
    )


def _feedback_on_new_groups(
    arrived: list[CloudEvent[Any]], answered: set[str], drifting: frozenset[str]
) -> list[Scripted]:
    fresh = [
        e.data
        for e in arrived
        if isinstance(e.data, CoffeeMatched) and e.data.group_id not in answered
    ]
    answered.update(g.group_id for g in fresh)
    return [f for group in fresh for f in feedback_for(group, drifting)]


def _pulse_answers(arrived: list[CloudEvent[Any]], drifting: frozenset[str]) -> list[Scripted]:
    return [
        answer
        for e in arrived
        if isinstance(e.data, PulseAsked)
        for answer in pulse_answer(e.data, drifting, e.time)
    ]


def _pause_the_first_buddy(
    arrived: list[CloudEvent[Any]], paused: list[Scripted]
) -> list[Scripted]:
    """Once: the first new hire's buddy pauses a few days after being assigned."""
    if paused:
        return []
    assigned = [e for e in arrived if isinstance(e.data, BuddyAssigned)]
    if not assigned:
        return []
    paused.append(buddy_pause(assigned[0].data, assigned[0].time))
    return paused[:]


def _wait_for_round(follower: Follower, round_id: str) -> bool:
    def done() -> bool:
        return bool(
            follower.events(
                lambda e: isinstance(e.data, CoffeeRoundCompleted) and e.data.round_id == round_id
            )
        )

    return _wait(done, ROUND_TIMEOUT)


def _settle(follower: Follower, quiet: float = 2.0, limit: float = 60.0) -> None:
    """Wait until nothing new arrives for ``quiet`` seconds (the services caught up)."""
    deadline = time.monotonic() + limit
    seen, since = follower.count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = follower.count()
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    return wait_until(condition, timeout, interval=0.05)


def _console_messages(out_dir: Path) -> list[str]:
    """Messages the notifier printed on its console channel (its output; JSON lines are logs)."""
    path = out_dir / "logs" / "notifier.log"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if not line.startswith("{")]
    messages = "\n".join(lines).split("--- notification ")[1:]
    return [message.split("\n", 1)[-1].strip() for message in messages]


def _outbox_count(out_dir: Path) -> int:
    outbox = out_dir / "outbox"
    return sum(1 for _ in outbox.glob("*.eml")) if outbox.exists() else 0


def finish(run: DemoRun) -> None:
    heading("The end")
    typer.echo(f"{len(run.events)} events in the history (topics {run.topics.prefix}rituals.*)")
    insights = project(run.events, run.shape.organisation)
    heading("Is the organisation connected?")
    typer.echo(text_report(insights), nl=False)
    page = run.out_dir / "insights.html"
    page.write_text(html_page(insights), encoding="utf-8")
    typer.echo(f"\nThe insights page: {page.resolve()}")
    answers = run.answers
    typer.echo(
        f"\nThe people answered {len(answers.given)} times with the links in their messages, "
        f"through the gateway ({sum(answers.refused.values())} refused, "
        f"{answers.without_message} without the message, {answers.waiting_at_the_end} waiting "
        f"for it at the end; {answers.seconds:.0f} s of waiting for the gateway)"
    )
    heading("What the platform did about it")
    for line in platform_actions(run.events, insights):
        typer.echo(f"- {line}")
