"""The live consumer's spacing of polls, on a clock the test moves."""

from __future__ import annotations

import asyncio

import pytest

from services.common.poll_spacing import PollSpacing


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_poll_soon_after_the_last_waits_the_rest_of_the_spacing() -> None:
    clock = Clock()
    spacing = PollSpacing(0.1, clock)
    assert spacing.left() == 0  # the first poll: nothing to wait for
    await spacing.wait()
    clock.now += 0.03  # handled in 30 ms
    assert spacing.left() == pytest.approx(0.07)


async def test_a_poll_after_the_spacing_waits_nothing_and_starts_the_next_spacing() -> None:
    clock = Clock()
    spacing = PollSpacing(0.1, clock)
    await spacing.wait()
    clock.now += 0.25  # a poll that waited for records, or a long batch
    assert spacing.left() == 0
    await spacing.wait()
    clock.now += 0.04
    assert spacing.left() == pytest.approx(0.06)


@pytest.mark.parametrize("seconds", [0.0, -1.0])
async def test_no_spacing_never_waits(seconds: float) -> None:
    clock = Clock()
    spacing = PollSpacing(seconds, clock)
    await spacing.wait()
    assert spacing.left() == 0


async def test_someone_waiting_for_the_state_hurries_the_next_poll() -> None:
    spacing = PollSpacing(3600.0)  # an hour: only a hurry ends this wait
    await spacing.wait()
    waiting = asyncio.create_task(spacing.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    spacing.hurry()
    await asyncio.wait_for(waiting, 10)
    assert spacing.left() > 3500  # the hurried poll started the next spacing
