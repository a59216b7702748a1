"""The demo's people answer as real people do: they read the messages the notifier delivered
to them (the console channel's output, the e-mails in the outbox), pick the one-click link that
says what they want to say, and follow it to the gateway over HTTP. Nothing is published for
them: the gateway publishes what a link answers, as for anyone."""

from __future__ import annotations

import email
import email.policy
import re
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from schemas.coffee import CoffeeFeedbackGiven
from schemas.pulse import PulseAnswered
from services.common.domain.links import (
    LinkAction,
    LinkRefusedError,
    answer_event_id,
    coffee_subject,
    pulse_subject,
    unverified_claim,
)

_LINK = re.compile(r"/links/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")
LinkKey = tuple[str, LinkAction, str, int | None]
"""(member id, action, subject, rating): which answer a link gives, and for whom."""


class Mailbox:
    """Every answer link delivered so far, by what it answers: read on from where it stopped
    (the console output grows, e-mails are new files)."""

    def __init__(self, console_output: Path, outbox: Path) -> None:
        self._console_output = console_output
        self._outbox = outbox
        self._console_read = 0
        self._mails_read: set[str] = set()
        self.links: dict[LinkKey, str] = {}

    def refresh(self) -> None:
        self._index(self._new_console_text())
        for mail in sorted(self._outbox.glob("*.eml")) if self._outbox.exists() else ():
            if mail.name not in self._mails_read:
                self._mails_read.add(mail.name)
                self._index(_text_of(mail))

    def _new_console_text(self) -> str:
        if not self._console_output.exists():
            return ""
        with self._console_output.open("rb") as output:
            output.seek(self._console_read)
            chunk = output.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written: next time
        self._console_read += len(complete)
        return complete.decode("utf-8", errors="replace")

    def _index(self, text: str) -> None:
        for token in _LINK.findall(text):
            try:
                claim = unverified_claim(token)
            except LinkRefusedError:
                continue
            self.links[(claim.member_id, claim.action, claim.subject, claim.rating)] = token


def _text_of(mail: Path) -> str:
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


Answer = CoffeeFeedbackGiven | PulseAnswered
"""What the demo's people say with their links."""


def link_for(answer: Answer) -> LinkKey:
    """The link someone follows to say this: for a coffee, a rating says they met and how it
    was; for the pulse, the score."""
    if isinstance(answer, PulseAnswered):
        return (
            answer.member_id,
            LinkAction.PULSE,
            pulse_subject(answer.week_starting),
            answer.score,
        )
    feedback = answer
    subject = coffee_subject(feedback.round_id, feedback.group_id)
    if not feedback.met:
        return (feedback.member_id, LinkAction.NOT_MET, subject, None)
    if feedback.rating is None:
        return (feedback.member_id, LinkAction.MET, subject, None)
    return (feedback.member_id, LinkAction.RATE, subject, feedback.rating)


@dataclass
class Answers:
    """What the people did with their links: answered (the gateway took it), refused (and the
    status), never received the message the answer needs, or were still waiting for it when
    the demo ended."""

    given: list[uuid.UUID] = field(default_factory=list)
    refused: dict[int, int] = field(default_factory=dict)
    without_message: int = 0
    waiting_at_the_end: int = 0
    seconds: float = 0.0
    """How long the people waited for the gateway's answers, in all."""


class People:
    """Follows the links of the answers due, several at once, as people answering in the same
    evening do; ``answer`` returns when the gateway has answered every one."""

    CONCURRENCY = 32
    ATTEMPTS = 3
    EVENINGS = 7

    def __init__(self, mailbox: Mailbox, gateway_url: str) -> None:
        self.mailbox = mailbox
        self.answers = Answers()
        self._http = httpx.Client(base_url=gateway_url, timeout=30)
        self._pool = ThreadPoolExecutor(self.CONCURRENCY, thread_name_prefix="person")
        self._waiting: list[tuple[Answer, int]] = []

    def answer(self, answers: Iterable[Answer]) -> list[uuid.UUID]:
        """Follow each answer's link; the ids of the events the gateway publishes for them. An
        answer whose message has not arrived yet (it waits for the person's working hours, over
        a weekend) waits for the next evening, for at most ``EVENINGS`` of them."""
        started = time.monotonic()
        self.mailbox.refresh()
        due, self._waiting = [*self._waiting, *((answer, 1) for answer in answers)], []
        tokens = []
        for wanted, evenings in due:
            token = self.mailbox.links.get(link_for(wanted))
            if token is not None:
                tokens.append(token)
            elif evenings < self.EVENINGS:
                self._waiting.append((wanted, evenings + 1))
            else:
                self.answers.without_message += 1
        statuses = list(self._pool.map(self._follow, tokens))
        answered = zip(tokens, statuses, strict=True)
        given = [answer_event_id(token) for token, status in answered if status == 200]
        for status in statuses:
            if status != 200:
                self.answers.refused[status] = self.answers.refused.get(status, 0) + 1
        self.answers.given += given
        self.answers.seconds += time.monotonic() - started
        return given

    @property
    def waiting(self) -> int:
        """Answers still waiting for their message."""
        return len(self._waiting)

    def _follow(self, token: str) -> int:
        """POST the link; again when the connection broke first (a kept-alive connection the
        server closed as it was reused): answering a link twice is still one answer."""
        for attempt in range(1, self.ATTEMPTS + 1):
            try:
                return self._http.post(f"/links/{token}").status_code
            except httpx.TransportError:
                if attempt == self.ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.answers.waiting_at_the_end = len(self._waiting)
        self._pool.shutdown()
        self._http.close()
