"""The Dockerfile, linted by hadolint, and the image's entrypoint, checked by ShellCheck and run
here as it runs in the image (with this venv's ``rituals`` and ``python`` on PATH)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.ops.tools import ROOT, passes, run, venv_tool

DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "infra" / "docker" / "entrypoint.sh"
IMAGE_ENTRYPOINT = "/usr/local/bin/rituals-entrypoint"


def stages() -> list[list[str]]:
    """The Dockerfile's instructions, continuation lines joined, grouped by stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            found.append([])
        if found:
            found[-1].append(line)
    return found


def test_hadolint_finds_nothing() -> None:
    passes(venv_tool("hadolint"), "--failure-threshold", "info", str(DOCKERFILE))


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    """The linter is really looking: an unpinned base running as root is reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    result = run(venv_tool("hadolint"), str(bad))
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # `latest`


def test_the_final_stage_is_slim_non_root_and_has_no_build_tools() -> None:
    builder, final = stages()[0], stages()[-1]
    assert len(stages()) >= 2, "a builder stage and a final stage"
    assert " AS builder" in builder[0]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE.read_text()
    assert final[0] == "FROM ${PYTHON_IMAGE}"
    user = [line for line in final if line.startswith("USER ")]
    assert user, "a USER in the final stage"
    assert not user[-1].split()[1].startswith(("0", "root"))
    runs = " ".join(line for line in final if line.startswith("RUN "))
    for tool in ("pip install", "apt-get", "gcc", "build-essential", "compileall"):
        assert tool not in runs, f"{tool} in the final stage"
    assert any("--from=builder /opt/venv" in line for line in final)
    assert "--without-pip" in " ".join(builder), "the venv copied to the final stage has no pip"


def test_dockerignore_keeps_out_everything_the_build_does_not_copy() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore
    sources = {
        next(word for word in line.split()[1:] if not word.startswith("--")).rstrip("/")
        for stage in stages()
        for line in stage
        if line.startswith("COPY ") and "--from" not in line
    }
    included = {line.removeprefix("!").rstrip("/") for line in ignore if line.startswith("!")}
    for path in sources:
        top = path.split("/")[0]
        assert top in included, f"{path} is copied but ignored"
        assert not any(path.startswith(line) for line in ignore if line.startswith("infra/"))


def test_the_entrypoint_is_where_probes_and_health_checks_call_it() -> None:
    final = stages()[-1]
    assert any(
        line.endswith(f"{ENTRYPOINT.relative_to(ROOT)} {IMAGE_ENTRYPOINT}") for line in final
    )
    assert f'ENTRYPOINT ["{IMAGE_ENTRYPOINT}"]' in final
    for path in (ROOT / "infra" / "compose.yaml", *(ROOT / "infra" / "k8s").glob("*.yaml")):
        text = path.read_text()
        if "rituals-entrypoint" in text:
            assert f'"{IMAGE_ENTRYPOINT}", "ready"' in text, path


def test_shellcheck_finds_nothing_in_the_entrypoint() -> None:
    passes(venv_tool("shellcheck"), "--shell=sh", str(ENTRYPOINT))


def entrypoint(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    variables = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RITUALS_", "KAFKA_"))
    }
    variables["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{variables.get('PATH', '')}"
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env=variables | environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_command_and_rituals_run_the_cli() -> None:
    for args in ((), ("rituals", "--help"), ("--help",)):
        result = entrypoint(*args)
        assert result.returncode == 0, result.stderr
        assert "topics" in result.stdout


def test_a_service_name_runs_its_module() -> None:
    """``cli`` is a package of services with a ``__main__``: found like any service."""
    result = entrypoint("cli", "topics", "--help")
    assert result.returncode == 0, result.stderr
    assert "provision" in result.stdout


def test_anything_else_runs_as_a_command() -> None:
    result = entrypoint("sh", "-c", "echo plain command")
    assert result.stdout.strip() == "plain command"


@pytest.mark.parametrize("trailing", ["", "\n"])
def test_a_secret_file_becomes_its_variable(tmp_path: Path, trailing: str) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret value" + trailing)
    result = entrypoint(
        "sh",
        "-c",
        'printf "%s|%s|%s" "$RITUALS_NOTIFIER_SMTP_PASSWORD" '
        '"${RITUALS_NOTIFIER_SMTP_PASSWORD_FILE-unset}" "$RITUALS_MATCHER_POLICY_FILE"',
        RITUALS_NOTIFIER_SMTP_PASSWORD_FILE=str(secret),
        RITUALS_MATCHER_POLICY_FILE="/etc/rituals/policy.toml",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "s3cret value|unset|/etc/rituals/policy.toml"


def test_a_secret_given_twice_or_unreadable_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("first-secret")
    both = entrypoint(
        "true",
        RITUALS_KAFKA_SASL_PASSWORD="second-secret",
        RITUALS_KAFKA_SASL_PASSWORD_FILE=str(secret),
    )
    assert both.returncode == 2
    assert "both RITUALS_KAFKA_SASL_PASSWORD and RITUALS_KAFKA_SASL_PASSWORD_FILE" in both.stderr
    missing = entrypoint("true", RITUALS_KAFKA_SASL_PASSWORD_FILE=str(tmp_path / "absent"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    assert "secret" not in (both.stderr + missing.stderr).replace(str(tmp_path), "")


def test_ready_asks_the_probe() -> None:
    result = entrypoint("ready", "--port", "1")
    assert result.returncode == 1
    assert "not ready" in result.stderr
