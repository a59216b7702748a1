"""Composition root of the onboarding service."""

from infra.topics import Topic
from services.common.runtime import ServiceDefinition
from services.onboarding.handlers import OnboardingProcessor

DEFINITION = ServiceDefinition(
    name="onboarding",
    topics=(Topic.MEMBERS, Topic.ONBOARDING, Topic.CLOCK),
    new_processor=OnboardingProcessor,
)
