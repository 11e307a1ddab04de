"""Services without an HTTP API still answer /healthz, /readyz and /metrics on their --ops-port."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest

from bus.broker.ports import free_port
from bus.directory.keys import ensure_service_key
from bus.kafka.client import KafkaSettings
from tests.engine import PROFILE
from tests.processes import running_bus


def _commands(bootstrap: str, registry: str, tmp: Path) -> dict[str, list[str]]:
    common = ["--bootstrap", bootstrap, "--profile", PROFILE, "--registry", registry]
    return {
        "processor": [
            "processor", "run", "--group", f"bus-processor-ops-{tmp.name}",
            "--signing-key", str(tmp / "p.pem"), *common,
        ],
        "webhooks": ["webhooks", "run", "--group", f"bus-webhooks-ops-{tmp.name}", *common],
        "archiver": [
            "audit", "archive", "--db", f"sqlite:///{tmp / 'audit.sqlite'}", "--key", str(tmp / "k.pem"),
            "--group", f"bus-audit-archiver-ops-{tmp.name}", *common,
        ],
    }  # fmt: skip


@pytest.mark.parametrize("component", ["processor", "webhooks", "archiver"])
def test_a_service_serves_health_readiness_and_metrics(
    component: str,
    kafka_bootstrap: str,
    kafka_settings: KafkaSettings,
    registry_url: str,
    operator_token: str,
    tmp_path: Path,
) -> None:
    # given the service started on its own with an ops port
    asyncio.run(ensure_service_key(kafka_settings, tmp_path / "p.pem"))
    port = free_port()
    argv = [*_commands(kafka_bootstrap, registry_url, tmp_path)[component], "--ops-port", str(port)]
    with running_bus(*argv, env={"BUS_OPERATOR_TOKEN": operator_token}) as (proc, out):
        out.wait_for(r"ready", timeout_s=60)
        base = f"http://127.0.0.1:{port}"
        # when its ops endpoints are asked
        alive = httpx.get(f"{base}/healthz")
        ready = httpx.get(f"{base}/readyz")
        metrics = httpx.get(f"{base}/metrics")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    # then it is alive, names its readiness check, and exports the bus's metrics
    assert alive.status_code == 200
    assert component in ready.json()["checks"]
    assert "bus_deliveries_total" in metrics.text
