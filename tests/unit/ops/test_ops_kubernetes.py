"""infra/k8s, validated by kubernetes-validate (the Kubernetes API's schemas, strict: no field it
does not know), and what every workload must have."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from infra.kafka import KafkaSettings
from infra.topics import TopicSettings
from services.clock.__main__ import ClockSettings
from services.common.settings import ServiceSettings
from services.notifier.settings import NotifierSettings
from tests.unit.ops.tools import INFRA, known_setting, passes, run, venv_tool

K8S = INFRA / "k8s"
SERVICES_WITH_METRICS = ("matcher", "onboarding", "notifier")


def manifest_files() -> list[Path]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [K8S / name for name in kustomization["resources"]]


def resources() -> Iterator[dict[str, Any]]:
    for path in manifest_files():
        yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources() if r["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def test_kustomization_lists_every_manifest() -> None:
    listed = {path.name for path in manifest_files()}
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_kubernetes_validate_accepts_every_manifest() -> None:
    output = passes(
        venv_tool("kubernetes-validate"), "--strict", *(str(p) for p in manifest_files())
    )
    assert "did not validate" not in output


def test_kubernetes_validate_does_refuse_a_wrong_manifest(tmp_path: Path) -> None:
    deployment = of_kind("Deployment")["rituals-matcher"]
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limit"] = {}
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump(deployment))
    result = run(venv_tool("kubernetes-validate"), "--strict", str(wrong))
    assert result.returncode != 0
    assert "'limit' was unexpected" in result.stdout + result.stderr


def test_a_deployment_per_service_and_the_clock() -> None:
    deployments = of_kind("Deployment")
    assert set(deployments) == {
        f"rituals-{n}" for n in (*SERVICES_WITH_METRICS, "clock", "gateway")
    }
    for name, deployment in deployments.items():
        (container,) = pod_spec(deployment)["containers"]
        assert container["args"] == [name.removeprefix("rituals-")]
    assert deployments["rituals-matcher"]["spec"]["replicas"] == 2
    assert deployments["rituals-clock"]["spec"]["replicas"] == 1
    assert deployments["rituals-clock"]["spec"]["strategy"]["type"] == "Recreate"
    # One gateway: an instance answers only for the organisations whose partitions it owns.
    assert deployments["rituals-gateway"]["spec"]["replicas"] == 1
    assert deployments["rituals-gateway"]["spec"]["strategy"]["type"] == "Recreate"


def test_the_gateway_is_ready_when_its_projection_is_rebuilt() -> None:
    (container,) = pod_spec(of_kind("Deployment")["rituals-gateway"])["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    service = of_kind("Service")["rituals-gateway"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_every_container_has_requests_and_limits_and_runs_unprivileged() -> None:
    for workload in (*of_kind("Deployment").values(), *of_kind("Job").values()):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound])
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("service", SERVICES_WITH_METRICS)
def test_probes_ask_the_metrics_page_and_the_ready_gauge(service: str) -> None:
    (container,) = pod_spec(of_kind("Deployment")[f"rituals-{service}"])["containers"]
    (port,) = container["ports"]
    assert (port["name"], port["containerPort"]) == ("metrics", 9100)
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert container["readinessProbe"]["exec"]["command"] == [
        "/usr/local/bin/rituals-entrypoint",
        "ready",
    ]


@pytest.mark.parametrize("service", [*SERVICES_WITH_METRICS, "gateway"])
def test_a_disruption_budget_per_service(service: str) -> None:
    budget = of_kind("PodDisruptionBudget")[f"rituals-{service}"]
    deployment = of_kind("Deployment")[f"rituals-{service}"]
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert budget["spec"]["maxUnavailable"] == 1


def test_the_notifier_scales_automatically_up_to_one_instance_per_partition() -> None:
    autoscaler = of_kind("HorizontalPodAutoscaler")["rituals-notifier"]
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "rituals-notifier"
    partitions = int(of_kind("ConfigMap")["rituals-settings"]["data"]["RITUALS_TOPIC_PARTITIONS"])
    assert 2 <= autoscaler["spec"]["minReplicas"] < autoscaler["spec"]["maxReplicas"] <= partitions
    assert "replicas" not in of_kind("Deployment")["rituals-notifier"]["spec"]


def test_a_job_provisions_the_topics() -> None:
    job = of_kind("Job")["rituals-topics"]
    (container,) = pod_spec(job)["containers"]
    assert container["args"] == ["rituals", "topics", "provision"]
    assert pod_spec(job)["restartPolicy"] == "OnFailure"


def settings_environment() -> dict[str, str]:
    settings = of_kind("ConfigMap")["rituals-settings"]["data"]
    secrets = of_kind("Secret")["rituals-secrets"]["stringData"]
    return {**settings, **secrets}


def test_config_map_and_secret_hold_settings_only() -> None:
    for workload in (*of_kind("Deployment").values(), *of_kind("Job").values()):
        (container,) = pod_spec(workload)["containers"]
        sources = [next(iter(s.values()))["name"] for s in container["envFrom"]]
        assert sources == ["rituals-settings", "rituals-secrets"]
    for name in settings_environment():
        assert known_setting(name), f"{name} is no setting"


def test_the_settings_load_as_the_services_read_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("RITUALS_", "KAFKA_")):
            monkeypatch.delenv(name)
    for name, value in settings_environment().items():
        monkeypatch.setenv(name, value)
    try:
        ServiceSettings()
        KafkaSettings()
        TopicSettings()
        ClockSettings()
        notifier = NotifierSettings()
    except ValidationError as error:
        pytest.fail(f"the manifests' settings do not load: {error}")
    assert notifier.available_channels("any") == {"email", "console"}


def kustomize(directory: Path) -> list[dict[str, Any]]:
    result = run(venv_tool("kubectl"), "kustomize", str(directory))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_kustomize_builds_the_base_into_valid_resources(tmp_path: Path) -> None:
    built = kustomize(K8S)
    assert len(built) == len(list(resources()))
    for resource in built:
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == "rituals"
        assert resource["metadata"]["labels"]["app.kubernetes.io/part-of"] == "rituals"
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(built))
    passes(venv_tool("kubernetes-validate"), "--strict", str(rendered))
    images = {
        container["image"]
        for resource in built
        if resource["kind"] in ("Deployment", "Job")
        for container in pod_spec(resource)["containers"]
    }
    assert images == {"rituals:local"}


def test_the_overlay_in_the_operations_guide_builds(tmp_path: Path) -> None:
    guide = (INFRA.parent / "docs" / "operations.md").read_text()
    marker = "# overlays/production/kustomization.yaml\n"
    block = guide[guide.index(marker) + len(marker) :]
    block = block[: block.index("```")]
    overlay = tmp_path / "overlays" / "production"
    overlay.mkdir(parents=True)
    (tmp_path / "infra").symlink_to(K8S.parent, target_is_directory=True)
    (overlay / "kustomization.yaml").write_text(block)
    built = {(r["kind"], r["metadata"]["name"]): r for r in kustomize(overlay)}
    settings = built[("ConfigMap", "rituals-settings")]["data"]
    assert settings["RITUALS_TOPIC_REPLICATION_FACTOR"] == "3"
    assert "," in settings["KAFKA_BOOTSTRAP_SERVERS"]
    (container,) = pod_spec(built[("Deployment", "rituals-notifier")])["containers"]
    assert container["image"] == "registry.example.org/rituals:0.1.0"
