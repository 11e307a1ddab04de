"""A running ``bus up --demo`` is observable: every metric of DESIGN §9 moves, and it is ready."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from bus.broker.ports import free_port
from tests.processes import running_bus

METRICS = (
    "bus_events_ingested_total",
    "bus_deliveries_total",
    "bus_denials_total",
    "bus_end_to_end_seconds",
    "bus_processing_seconds",
    "bus_consumer_lag",
    "bus_registry_requests_total",
    "bus_spool_depth",
    "bus_spool_oldest_seconds",
    "bus_paper_requests_avoided_total",
    "bus_audit_chain_verified",
    "bus_dead_letters_total",
    "bus_webhook_attempts_total",
)


@dataclass
class Running:
    ops: str
    registry: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    ports = {name: free_port() for name in ("--broker-port", "--registry-port", "--api-port", "--ops-port")}
    args = [x for name, port in ports.items() for x in (name, str(port))]
    data = tmp_path_factory.mktemp("up")
    with running_bus("up", "--demo", *args, "--data-dir", str(data)) as (proc, out):
        out.wait_for(r"paper certificates avoided so far", timeout_s=90)
        out.wait_for(r"press Ctrl-C to stop")
        yield Running(
            f"http://127.0.0.1:{ports['--ops-port']}", f"http://127.0.0.1:{ports['--registry-port']}"
        )
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0


def _value(text: str, name: str) -> float:
    """Sum of every sample of ``name`` (all label sets)."""
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{.*\}})? (\S+)$", re.MULTILINE)
    return sum(float(v) for v in pattern.findall(text))


def test_every_operations_metric_is_exported(demo: Running) -> None:
    # given the demo scenario has run
    # when the ops endpoint is scraped
    text = httpx.get(f"{demo.ops}/metrics").text
    # then every metric is there with samples
    for name in METRICS:
        assert re.search(rf"^{name}", text, re.MULTILINE), name


def test_the_scenario_moves_the_metrics(demo: Running) -> None:
    # given the demo scenario has run (a move, a denial, a land sale, a broken record, portal webhooks)
    text = httpx.get(f"{demo.ops}/metrics").text
    # then its events, deliveries, denial, paper avoided and latencies were counted
    assert _value(text, "bus_events_ingested_total") >= 4
    assert _value(text, "bus_deliveries_total") >= 4
    assert _value(text, "bus_denials_total") >= 1
    assert _value(text, "bus_paper_requests_avoided_total") >= 1
    assert _value(text, "bus_end_to_end_seconds_count") >= 4
    assert _value(text, "bus_processing_seconds_count") >= 1
    assert _value(text, "bus_registry_requests_total") >= 1
    assert _value(text, "bus_audit_chain_verified") == 1
    assert _value(text, "bus_dead_letters_total") >= 1
    assert _value(text, "bus_webhook_attempts_total") >= 1


def test_no_subject_key_is_a_label(demo: Running) -> None:
    # given the demo citizen's IIN in the scenario
    text = httpx.get(f"{demo.ops}/metrics").text
    # then no label value is a 12-digit identifier
    assert not re.search(r'="\d{12}"', text)


def test_the_bus_is_ready_and_every_component_is_named(demo: Running) -> None:
    # given a running bus
    # when readiness is asked on the ops port and on the registry's own port
    ready = httpx.get(f"{demo.ops}/readyz")
    registry = httpx.get(f"{demo.registry}/readyz")
    # then both are ready, and the ops answer names each supervised component
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"]) >= {"registry", "gateway", "processor", "webhooks", "archiver"}
    assert registry.status_code == 200
    assert httpx.get(f"{demo.ops}/healthz").status_code == 200
