"""Debian's Prometheus scrapes a running service, with the platform's alert rules loaded, and
answers a Rituals metric through its HTTP API."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.broker import free_port
from infra.topics import TopicSettings
from services.cli.platform import ServiceProcess
from tests.unit.ops.tools import INFRA, system_tool

pytestmark = pytest.mark.broker


def query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def api(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/{path}", timeout=5) as response:
        answer: dict[str, Any] = json.load(response)["data"]
        return answer


def eventually(check: Any, what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def service(kafka_servers: str, topics: TopicSettings) -> Iterator[ServiceProcess]:
    with tempfile.TemporaryFile() as log:
        started = ServiceProcess(
            "onboarding",
            kafka_servers,
            environment={
                "RITUALS_TOPIC_PREFIX": topics.prefix,
                "RITUALS_SESSION_TIMEOUT_MS": "6000",
                "RITUALS_HEARTBEAT_INTERVAL_MS": "500",
                "RITUALS_LOG_FORMAT": "json",
            },
            output=log,
        )
        yield started
        started.stop()


@pytest.fixture
def prometheus(service: ServiceProcess, tmp_path: Path) -> Iterator[int]:
    """Prometheus with the platform's rules, scraping the service every second."""
    binary = system_tool("prometheus", "prometheus")
    shutil.copy(INFRA / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    (job,) = config["scrape_configs"]
    del job["dns_sd_configs"], job["relabel_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{service.metrics_port}"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with (tmp_path / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_prometheus_scrapes_a_service_and_loads_the_alert_rules(
    service: ServiceProcess, prometheus: int
) -> None:
    ready = eventually(
        lambda: [r for r in query(prometheus, "rituals_ready") if r["value"][1] == "1"],
        "rituals_ready = 1 through Prometheus",
    )
    assert ready[0]["metric"]["service"] == "onboarding"
    assert ready[0]["metric"]["job"] == "rituals"
    members = query(prometheus, 'rituals_state{measure="members_active"}')
    assert members
    assert members[0]["value"][1] == "0"
    groups = eventually(lambda: api(prometheus, "rules")["groups"], "the rules loaded")
    alerts = {rule["name"] for group in groups for rule in group["rules"]}
    assert {"RitualsConsumerLagHigh", "RitualsDeadLetters", "RitualsChannelBacklogGrowing"} <= (
        alerts
    )
    assert all(rule["health"] != "err" for group in groups for rule in group["rules"])
