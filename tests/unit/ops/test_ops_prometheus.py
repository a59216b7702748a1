"""The Prometheus configuration and alert rules, checked by promtool (Debian's ``prometheus``
package, installed by .ci/run): syntax, and the alerts' behaviour on made-up series
(prometheus_rules_test.yml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.ops.tools import INFRA, ROOT, passes, run, system_tool, unknown_metrics

PROMETHEUS = INFRA / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
RULE_TESTS = Path(__file__).with_name("prometheus_rules_test.yml")
OPERATIONS = ROOT / "docs" / "operations.md"


def promtool() -> str:
    return system_tool("promtool", "prometheus")


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_accepts_the_configuration_and_its_rule_files() -> None:
    output = passes(promtool(), "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert "1 rule files found" in output


def test_promtool_accepts_the_rules() -> None:
    output = passes(promtool(), "check", "rules", str(RULES))
    assert f"{len(rules())} rules found" in output


def test_the_alerts_fire_when_they_should_and_only_then() -> None:
    output = passes(promtool(), "test", "rules", str(RULE_TESTS), cwd=RULE_TESTS.parent)
    assert "SUCCESS" in output


def test_promtool_does_refuse_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: sum(\n")
    result = run(promtool(), "check", "rules", str(broken))
    assert result.returncode != 0
    assert "parse error" in result.stdout + result.stderr


def test_the_rules_ask_for_metrics_the_services_export() -> None:
    for rule in rules():
        assert not unknown_metrics(rule["expr"]), f"{rule['alert']}: {rule['expr']}"


def test_alerts_cover_lag_dead_letters_and_failing_channels() -> None:
    expressions = " ".join(rule["expr"] for rule in rules())
    for metric in (
        "rituals_consumer_lag",
        "rituals_events_dead_lettered_total",
        "rituals_dead_letters_lost_total",
        'type="rituals.notification.failed"',
        'measure=~"backlog_.+"',
    ):
        assert metric in expressions


def test_every_alert_says_what_to_do_in_the_operations_guide() -> None:
    guide = OPERATIONS.read_text()
    for rule in rules():
        link = rule["annotations"]["description"].rsplit("docs/operations.md#", 1)
        assert len(link) == 2, f"{rule['alert']} links to no section"
        anchor = link[1].rstrip(".")
        assert f'<a id="{anchor}"></a>' in guide, f"{rule['alert']}: no #{anchor} in the guide"
        assert rule["alert"] in guide


@pytest.mark.parametrize("severity", ["warning", "critical"])
def test_severities_are_the_usual_ones(severity: str) -> None:
    assert {rule["labels"]["severity"] for rule in rules()} <= {"warning", "critical"}
    assert any(rule["labels"]["severity"] == severity for rule in rules())
