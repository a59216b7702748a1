"""A circuit breaker per channel: stop spending attempts on a channel that is down.

After ``failures_to_open`` transient failures in a row a channel is *open*: nothing is sent
through it (its deliveries wait, and no attempt of theirs is used up) until a cool-down has
passed. Then one delivery goes through as a probe (*half open*): a success closes the channel,
a failure opens it again for twice as long, up to ``longest_cool_down``. Time is an input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.base import Channel


@dataclass
class _State:
    failures: int = 0
    open_until: datetime | None = None
    cool_down: timedelta = timedelta(0)
    probing: bool = False


@dataclass
class ChannelBreakers:
    failures_to_open: int = 5
    first_cool_down: timedelta = timedelta(seconds=30)
    longest_cool_down: timedelta = timedelta(minutes=5)
    _states: dict[Channel, _State] = field(default_factory=dict)

    def allows(self, channel: Channel, now: datetime) -> bool:
        """Whether a delivery may be sent through the channel now (a probe counts as sent)."""
        state = self._states.get(channel)
        if state is None or state.open_until is None:
            return True
        if now < state.open_until:
            return False
        if state.probing and now < state.open_until + state.cool_down:
            return False  # a probe is out (one whose answer never came is given up after a while)
        state.probing = True
        return True

    def record(self, channel: Channel, *, transient_failure: bool, now: datetime) -> None:
        state = self._states.setdefault(channel, _State())
        if not transient_failure:
            self._states[channel] = _State()
            return
        state.failures += 1
        if state.probing or state.failures >= self.failures_to_open:
            doubled = state.cool_down * 2 if state.probing else self.first_cool_down
            state.cool_down = min(self.longest_cool_down, max(self.first_cool_down, doubled))
            state.open_until = now + state.cool_down
            state.probing = False

    def open_channels(self, now: datetime) -> list[Channel]:
        return sorted(
            channel
            for channel, state in self._states.items()
            if state.open_until is not None and now < state.open_until
        )
