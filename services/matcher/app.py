"""Composition root of the matcher."""

from infra.topics import Topic
from services.common.runtime import ServiceDefinition
from services.matcher.handlers import MatcherProcessor

DEFINITION = ServiceDefinition(
    name="matcher",
    topics=(Topic.MEMBERS, Topic.COFFEE, Topic.ONBOARDING, Topic.CLOCK),
    new_processor=MatcherProcessor,
)
