"""The circuit breaker per channel: opens after failures in a row, probes, doubles its rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifier.domain.breaker import ChannelBreakers

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REST = timedelta(seconds=30)


def breakers() -> ChannelBreakers:
    return ChannelBreakers(failures_to_open=3, first_cool_down=REST, longest_cool_down=4 * REST)


def test_a_channel_opens_after_failures_in_a_row_and_a_success_resets_the_count() -> None:
    channels = breakers()
    for _ in range(2):
        channels.record("email", transient_failure=True, now=T)
    channels.record("email", transient_failure=False, now=T)
    channels.record("email", transient_failure=True, now=T)
    assert channels.allows("email", T)
    channels.record("email", transient_failure=True, now=T)
    channels.record("email", transient_failure=True, now=T)
    assert not channels.allows("email", T)
    assert channels.allows("slack", T)  # one channel's outage is its own
    assert channels.open_channels(T) == ["email"]


def test_after_its_rest_one_probe_goes_and_a_failed_probe_doubles_the_rest() -> None:
    channels = breakers()
    for _ in range(3):
        channels.record("webhook", transient_failure=True, now=T)
    rested = T + REST
    assert channels.allows("webhook", rested)  # the probe
    assert not channels.allows("webhook", rested)  # only one
    channels.record("webhook", transient_failure=True, now=rested)
    assert not channels.allows("webhook", rested + REST)
    assert channels.allows("webhook", rested + 2 * REST)
    channels.record("webhook", transient_failure=False, now=rested + 2 * REST)
    assert channels.open_channels(rested + 2 * REST) == []
    assert channels.allows("webhook", rested + 2 * REST)


def test_the_rest_grows_no_longer_than_the_longest() -> None:
    channels = breakers()
    now = T
    for _ in range(3):
        channels.record("teams", transient_failure=True, now=now)
    for _ in range(5):  # probes that keep failing
        now += 4 * REST
        assert channels.allows("teams", now)
        channels.record("teams", transient_failure=True, now=now)
    assert not channels.allows("teams", now + 4 * REST - timedelta(seconds=1))
    assert channels.allows("teams", now + 4 * REST)


def test_a_probe_whose_answer_never_came_is_given_up_after_a_rest() -> None:
    channels = breakers()
    for _ in range(3):
        channels.record("email", transient_failure=True, now=T)
    assert channels.allows("email", T + REST)  # the probe is cancelled, say, by a handover
    assert not channels.allows("email", T + REST + timedelta(seconds=29))
    assert channels.allows("email", T + 2 * REST)
