"""Settings of the matcher: the coffee policy of every organisation."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import read_policy_document
from services.matcher.domain.policy import CoffeePolicy


class MatcherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RITUALS_MATCHER_", extra="ignore")

    policy_file: Path | None = Field(
        default=None,
        description="TOML or JSON file with a [default] policy and one table per organisation.",
    )
    default: CoffeePolicy = Field(
        default=CoffeePolicy(), description="Policy of organisations without their own."
    )
    organisations: dict[str, CoffeePolicy] = Field(
        default_factory=dict, description="Policies by organisation id (JSON in the environment)."
    )

    def policies(self) -> Policies:
        default, organisations = self.default, dict(self.organisations)
        if self.policy_file is not None:
            document = _read(self.policy_file)
            default = CoffeePolicy.model_validate(document.pop("default", {}))
            organisations |= {
                org: CoffeePolicy.model_validate(policy) for org, policy in document.items()
            }
        return Policies(default, organisations)


class Policies:
    """The policy of each organisation, falling back to the default."""

    def __init__(
        self, default: CoffeePolicy, organisations: dict[str, CoffeePolicy] | None = None
    ) -> None:
        self.default = default
        self.organisations = organisations or {}

    def of(self, organisation: str) -> CoffeePolicy:
        return self.organisations.get(organisation, self.default)


def _read(path: Path) -> dict[str, object]:
    document = read_policy_document(path)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a table of policies")
    return document
