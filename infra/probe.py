"""Readiness of a running service instance, for container probes: ``python -m infra.probe``.

The instance's metrics page (``http://127.0.0.1:$RITUALS_METRICS_PORT/metrics``) says whether
its state is rebuilt for every partition it owns: the ``rituals_ready`` gauge. The probe exits
0 when every ``rituals_ready`` sample is 1, and 1 when one is 0, the gauge is missing or the page
cannot be read (the reason on stderr, where Kubernetes shows it in the pod's events). With no
port given or set it exits 2: a probe that cannot ask is a mistake in the manifest.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.request
from collections.abc import Sequence

from prometheus_client.parser import text_string_to_metric_families

READY_GAUGE = "rituals_ready"


def readiness(page: str) -> tuple[bool, str]:
    """Whether a metrics page says ready, and why not when it does not."""
    for family in text_string_to_metric_families(page):
        if family.name != READY_GAUGE:
            continue
        if not family.samples:
            return False, f"{READY_GAUGE} has no sample yet"
        waiting = [s.labels.get("service", "?") for s in family.samples if s.value != 1]
        if waiting:
            return False, f"{READY_GAUGE} is 0 for {', '.join(waiting)}: rebuilding state"
        return True, "ready"
    return False, f"no {READY_GAUGE} gauge on the metrics page"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.probe",
        description="Exit 0 when the local service instance is ready (rituals_ready is 1).",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="Metrics port (default: RITUALS_METRICS_PORT).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="Metrics host (default: %(default)s).")
    parser.add_argument("--timeout", type=float, default=2.0, help="Seconds (default: 2).")
    args = parser.parse_args(argv)
    port = args.port
    if port is None:
        configured = os.environ.get("RITUALS_METRICS_PORT", "")
        if not configured.isdigit():
            print("not ready: no --port and RITUALS_METRICS_PORT is not set", file=sys.stderr)
            return 2
        port = int(configured)
    url = f"http://{args.host}:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            page = response.read().decode("utf-8")
    except OSError as error:
        print(f"not ready: {url}: {error}", file=sys.stderr)
        return 1
    ready, reason = readiness(page)
    if not ready:
        print(f"not ready: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
