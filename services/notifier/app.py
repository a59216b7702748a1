"""Composition root of the notifier."""

from infra.topics import Topic
from services.common.runtime import ServiceDefinition
from services.notifier.handlers import NotifierProcessor

DEFINITION = ServiceDefinition(
    name="notifier",
    topics=(
        Topic.MEMBERS,
        Topic.COFFEE,
        Topic.ONBOARDING,
        Topic.RITUALS,
        Topic.NOTIFICATIONS,
        Topic.CLOCK,
    ),
    new_processor=NotifierProcessor,
)
