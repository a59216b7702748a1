"""infra/compose.yaml, validated by check-jsonschema against the Compose Specification's schema
(the copy check-jsonschema ships as ``vendor.compose-spec``), loaded by Docker Compose itself
(``docker-compose config``: references, interpolation, merges; no Docker engine needed), and what
it must hold."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.matcher.settings import MatcherSettings
from tests.unit.ops.tools import (
    INFRA,
    docker_compose_binary,
    known_setting,
    passes,
    run,
    unknown_metrics,
    venv_tool,
)

COMPOSE = INFRA / "compose.yaml"
RITUALS_COMMANDS = {"matcher", "onboarding", "notifier", "clock", "gateway", "rituals"}


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def rituals_services() -> dict[str, dict[str, Any]]:
    """The services that run the Rituals image."""
    return {name: s for name, s in services().items() if "RITUALS_IMAGE" in str(s.get("image"))}


def check_compose(path: Path) -> tuple[int, str]:
    result = run(
        venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)
    )
    return result.returncode, result.stdout + result.stderr


def test_the_compose_file_follows_the_compose_specification() -> None:
    passes(venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE))


def test_the_schema_check_does_refuse_a_wrong_file(tmp_path: Path) -> None:
    wrong = tmp_path / "compose.yaml"
    wrong.write_text("services:\n  matcher:\n    imagee: rituals\n    deploy: {replicas: two}\n")
    code, output = check_compose(wrong)
    assert code != 0
    assert "imagee" in output


def docker_compose(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``docker-compose -f PATH ARGS``, with none of this machine's variables interpolated."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RITUALS_", "COMPOSE_", "GRAFANA_", "DOCKER_"))
    }
    return subprocess.run(
        [docker_compose_binary(), "-f", str(path), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_docker_compose_loads_the_project_as_written() -> None:
    result = docker_compose(COMPOSE, "--profile", "cli", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    assert model["name"] == "rituals"
    assert model["services"]["matcher"]["deploy"]["replicas"] == 2
    assert model["secrets"]["smtp-password"]["file"] == str(INFRA / "secrets" / "smtp-password")
    for name in rituals_services():
        service = model["services"][name]
        assert service["image"] == "rituals:local"
        assert service["build"]["context"] == str(INFRA.parent)
        assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"


def test_docker_compose_does_refuse_a_broken_project(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  a:\n    image: x\n    depends_on: [b]\n")
    result = docker_compose(broken, "config", "--quiet")
    assert result.returncode != 0
    assert 'depends on undefined service "b"' in result.stderr


def test_kafka_runs_in_kraft_mode_on_apache_kafka_4() -> None:
    kafka = services()["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", kafka["image"])
    environment = kafka["environment"]
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert not any("zookeeper" in name.lower() for name in services())


def test_topics_are_provisioned_once_before_any_service_starts() -> None:
    topics = services()["topics"]
    assert topics["command"] == ["rituals", "topics", "provision"]
    assert topics["restart"] == "no"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name, service in rituals_services().items():
        if name in ("topics", "cli"):
            continue
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_every_part_runs_and_the_matcher_twice() -> None:
    commands = {name: s["command"][0] for name, s in rituals_services().items()}
    assert {"matcher", "onboarding", "notifier", "clock", "gateway"} <= set(commands.values())
    assert set(commands.values()) <= RITUALS_COMMANDS
    assert services()["matcher"]["deploy"]["replicas"] == 2
    assert {"kafka-ui", "prometheus", "grafana"} <= set(services())


def test_every_rituals_variable_is_a_setting() -> None:
    for name, service in rituals_services().items():
        for variable in service["environment"]:
            assert known_setting(variable), f"{name}: {variable} is no setting"


def test_secrets_come_from_files() -> None:
    notifier = services()["notifier"]
    assert "RITUALS_NOTIFIER_SMTP_PASSWORD" not in notifier["environment"]
    assert notifier["environment"]["RITUALS_NOTIFIER_SMTP_PASSWORD_FILE"] == (
        "/run/secrets/smtp-password"
    )
    assert notifier["secrets"] == ["smtp-password"]
    default_file = compose()["secrets"]["smtp-password"]["file"].replace(
        "${RITUALS_SECRETS_DIR:-./secrets}", "./secrets"
    )
    assert (INFRA / default_file).is_file()


def test_mounted_files_exist() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (INFRA / source).exists(), f"{name} mounts {source}, which is missing"
    assert (INFRA / "prometheus" / "prometheus.yml").is_file()


def test_the_matcher_policy_given_as_a_config_is_valid(tmp_path: Path) -> None:
    policy = tmp_path / "matcher-policy.toml"
    policy.write_text(compose()["configs"]["matcher-policy"]["content"])
    MatcherSettings(policy_file=policy).policies()


def test_the_dashboard_is_provisioned_and_asks_for_existing_metrics() -> None:
    provider = yaml.safe_load(
        (INFRA / "grafana" / "provisioning" / "dashboards" / "rituals.yml").read_text()
    )
    mounted = {
        volume.split(":")[1]: volume.split(":")[0] for volume in services()["grafana"]["volumes"]
    }
    folder = mounted[provider["providers"][0]["options"]["path"]]
    dashboards = sorted((INFRA / folder).glob("*.json"))
    assert dashboards
    for path in dashboards:
        dashboard = json.loads(path.read_text())
        expressions = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        assert expressions, f"{path.name} has no queries"
        for expression in expressions:
            assert not unknown_metrics(expression), f"{path.name}: {expression}"


@pytest.mark.parametrize("command", ["matcher", "onboarding", "notifier", "gateway"])
def test_services_with_metrics_are_scraped(command: str) -> None:
    prometheus = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    names = {
        name
        for job in prometheus["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    }
    assert command in names
    assert services()[command]["environment"]["RITUALS_METRICS_PORT"] == "9100"
