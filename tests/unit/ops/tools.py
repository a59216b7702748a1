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
