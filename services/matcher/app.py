"""Composition root of the matcher."""

from functools import partial

from infra.topics import Topic
from services.common.runtime import ServiceDefinition
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
)
