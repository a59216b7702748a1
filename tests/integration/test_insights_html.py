"""The insights page of a generated organisation, opened in headless Chromium: it renders (a
non-trivial screenshot) without a single console message (the page has no script and loads
nothing, so any message is an error)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from services.demo.script import DemoShape
from services.insights.domain import project
from services.insights.page import html_page
from tests.unit.insights.support import generated_history

CHROMIUM = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (CI installs Debian's chromium when root)"
)


def _open(page: Path, screenshot: Path) -> str:
    """Chromium's log of loading the page while taking a screenshot."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,2400",
            f"--screenshot={screenshot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def _console(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line]


@pytest.mark.parametrize("team", [None, "Platform"])
def test_the_page_renders_without_console_messages(tmp_path: Path, team: str | None) -> None:
    events = generated_history(DemoShape(members=80, teams=5, weeks=6, new_hires=4))
    page = tmp_path / "insights.html"
    page.write_text(html_page(project(events, "demo-org", team=team)), encoding="utf-8")
    screenshot = tmp_path / "insights.png"
    log = _open(page, screenshot)
    assert _console(log) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a blank page of that size is a few kB


def test_a_console_error_would_be_seen(tmp_path: Path) -> None:
    """The check above is not vacuous: a page that logs an error is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('boom')</script></body></html>")
    assert any("boom" in line for line in _console(_open(page, tmp_path / "broken.png")))
