"""Settings of the onboarding service, from the environment (prefix ``RITUALS_ONBOARDING_``).

The buddy policy has a platform-wide default and per-organisation overrides. Both can come from a
policy file (JSON, or TOML when the name ends in ``.toml``) and from JSON in the environment; the
environment wins field by field. An organisation's policy is the default with its own fields
replaced. Invalid policies stop the service at start-up, naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import read_policy_document
from services.onboarding.domain.policy import BuddyPolicy, PolicyBook

PolicyFields = dict[str, Any]
"""Fields of ``BuddyPolicy`` to set; the others keep their value."""


class PolicyFile(BaseModel):
    """The layout of a policy file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: PolicyFields = Field(default_factory=dict)
    organisations: dict[str, PolicyFields] = Field(default_factory=dict)


class OnboardingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RITUALS_ONBOARDING_", extra="ignore")

    policy_file: Path | None = Field(
        default=None, description="A JSON or TOML file with 'default' and 'organisations'."
    )
    default_policy: PolicyFields = Field(
        default_factory=dict,
        description="Fields of the default policy, as JSON, e.g. '{\"max_active_buddies\": 3}'.",
    )
    organisations: dict[str, PolicyFields] = Field(
        default_factory=dict,
        description="Fields per organisation id, as JSON, "
        'e.g. \'{"acme": {"min_tenure_months": 3}}\'.',
    )

    def policy_book(self) -> PolicyBook:
        """The policies, validated: a mistake raises ``ValidationError`` naming the field."""
        stored = read_policy_file(self.policy_file) if self.policy_file else PolicyFile()
        default = BuddyPolicy.model_validate({**stored.default, **self.default_policy})
        organisations: dict[str, BuddyPolicy] = {}
        for org_id in sorted({*stored.organisations, *self.organisations}):
            fields = {
                **default.model_dump(),
                **stored.organisations.get(org_id, {}),
                **self.organisations.get(org_id, {}),
            }
            organisations[org_id] = BuddyPolicy.model_validate(fields)
        return PolicyBook(default=default, organisations=organisations)


def read_policy_file(path: Path) -> PolicyFile:
    return PolicyFile.model_validate(read_policy_document(path))
