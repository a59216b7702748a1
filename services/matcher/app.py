"""Composition root of the matcher."""

from functools import partial

from infra.topics import Topic
from services.common.runtime import UNHURRIED_POLL_SPACING_MS, ServiceDefinition
from services.matcher.handlers import MatcherProcessor
from services.matcher.settings import MatcherSettings

DEFINITION = ServiceDefinition(
    name="matcher",
    topics=(
        Topic.MEMBERS,
        Topic.COFFEE,
        Topic.ONBOARDING,
        Topic.RITUALS,
        Topic.PULSE,
        Topic.CLOCK,
    ),
    new_processor=partial(MatcherProcessor, MatcherSettings().policies()),
    poll_spacing_ms=UNHURRIED_POLL_SPACING_MS,  # rounds come on ticks: no one waits for a join
)
