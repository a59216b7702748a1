"""Configuring the policy: defaults, a file, the environment, per organisation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.onboarding.app import build_definition
from services.onboarding.domain.policy import BuddyPolicy, CheckinPoint
from services.onboarding.handlers import OnboardingProcessor
from services.onboarding.settings import OnboardingSettings

TOML = """
[default]
min_tenure_months = 3
checkin_rhythm = [
  { label = "day 1", after_days = 0 },
  { label = "month 1", after_days = 30 },
]

[organisations.acme]
max_active_buddies = 4
volunteers_only = true
"""


def test_without_configuration_every_organisation_gets_the_defaults() -> None:
    book = OnboardingSettings().policy_book()
    policy = book.for_org("anyone")
    assert policy == BuddyPolicy()
    assert (policy.min_tenure_months, policy.min_overlap_hours, policy.max_active_buddies) == (
        6,
        2.0,
        2,
    )
    assert [p.label for p in policy.checkin_rhythm] == [
        "day 1",
        "week 1",
        "week 2",
        "week 4",
        "week 8",
        "week 12",
    ]


def test_a_toml_file_sets_the_default_and_an_organisation_inherits_it(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(TOML)

    book = OnboardingSettings(policy_file=path).policy_book()

    assert book.default.min_tenure_months == 3
    assert book.for_org("globex") == book.default
    acme = book.for_org("acme")
    assert (acme.min_tenure_months, acme.max_active_buddies, acme.volunteers_only) == (3, 4, True)
    assert acme.checkin_rhythm[1] == CheckinPoint(label="month 1", after_days=30)


def test_the_environment_overrides_the_file_field_by_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"organisations": {"acme": {"max_active_buddies": 4}}}))
    monkeypatch.setenv("RITUALS_ONBOARDING_POLICY_FILE", str(path))
    monkeypatch.setenv("RITUALS_ONBOARDING_DEFAULT_POLICY", '{"min_overlap_hours": 1.5}')
    monkeypatch.setenv("RITUALS_ONBOARDING_ORGANISATIONS", '{"acme": {"volunteers_only": true}}')

    acme = OnboardingSettings().policy_book().for_org("acme")

    assert (acme.max_active_buddies, acme.volunteers_only, acme.min_overlap_hours) == (4, True, 1.5)


@pytest.mark.parametrize(
    "fields",
    [
        {"max_active_buddies": 0},
        {"min_tenure_month": 6},  # a typo is an error, not silently ignored
        {"checkin_rhythm": []},
        {
            "checkin_rhythm": [
                {"label": "Week 1", "after_days": 7},
                {"label": "week 1", "after_days": 8},
            ]
        },
    ],
)
def test_a_wrong_policy_is_refused_at_start_up(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        OnboardingSettings(organisations={"acme": fields}).policy_book()


def test_the_composition_root_binds_the_policies_into_every_new_processor() -> None:
    definition = build_definition(
        OnboardingSettings(organisations={"acme": {"max_active_buddies": 7}})
    )
    processor = definition.new_processor()
    assert isinstance(processor, OnboardingProcessor)
    assert processor.policies.for_org("acme").max_active_buddies == 7
    assert definition.name == "onboarding"
