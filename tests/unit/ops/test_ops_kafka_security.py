"""The guide's SASL over TLS example: its variables, given to the image's entrypoint (the
password as a file), become the Kafka clients' security parameters."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import certifi
import yaml

from infra.kafka import KafkaSettings
from tests.unit.ops.tools import INFRA, ROOT

GUIDE = ROOT / "docs" / "operations.md"
ENTRYPOINT = INFRA / "docker" / "entrypoint.sh"

SHOW = """
import json
from infra.kafka import KafkaSettings
settings = KafkaSettings()
params = settings.aiokafka_params()
security = settings.faststream_security()
print(json.dumps({
    "servers": params["bootstrap_servers"],
    "protocol": params["security_protocol"],
    "mechanism": params["sasl_mechanism"],
    "user": params["sasl_plain_username"],
    "password": params["sasl_plain_password"],
    "tls": params["ssl_context"] is not None,
    "faststream": type(security).__name__,
    "admin_cafile": settings.kafka_python_params()["ssl_cafile"],
}))
"""


def guide_example() -> dict[str, str]:
    text = GUIDE.read_text()
    start = text.index("```yaml\nenvironment:\n  KAFKA_BOOTSTRAP_SERVERS: kafka.example.org")
    block = text[start + len("```yaml\n") :]
    environment: dict[str, str] = yaml.safe_load(block[: block.index("```")])["environment"]
    return environment


def test_the_sasl_ssl_example_configures_the_clients(tmp_path: Path) -> None:
    example = guide_example()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "kafka-password").write_text("scram password\n")
    shutil.copy(certifi.where(), secrets / "kafka-ca.crt")
    variables = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RITUALS_", "KAFKA_"))
    }
    variables |= {
        name: value.replace("/run/secrets", str(secrets)) for name, value in example.items()
    }
    variables["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{variables.get('PATH', '')}"
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "python", "-c", SHOW],
        env=variables,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "servers": ["kafka.example.org:9093"],
        "protocol": "SASL_SSL",
        "mechanism": "SCRAM-SHA-512",
        "user": "rituals",
        "password": "scram password",
        "tls": True,
        "faststream": "SASLScram512",
        "admin_cafile": str(secrets / "kafka-ca.crt"),
    }


def test_a_clusters_bootstrap_list_reaches_every_client_as_separate_addresses() -> None:
    """aiokafka reads a string as one address: "a:9092,b:9092" must arrive as a list."""
    settings = KafkaSettings(bootstrap_servers="k1.example.org:9092, k2.example.org:9092,")
    expected = ["k1.example.org:9092", "k2.example.org:9092"]
    assert settings.aiokafka_params()["bootstrap_servers"] == expected
    assert settings.kafka_python_params()["bootstrap_servers"] == expected
