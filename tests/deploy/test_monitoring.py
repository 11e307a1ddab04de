"""Dashboard and alerts use exactly the metrics bus/metrics.py exports; promtool accepts the rules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from bus import metrics
from tests.deploy.conftest import DEPLOY, yaml_docs

DASHBOARD = DEPLOY / "grafana" / "bus-dashboard.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_BUS_NAME = re.compile(r"\bbus_[a-z0-9_]+\b")


def _exported_series() -> dict[str, str]:
    """Series name → metric (family) name, for every collector defined in bus.metrics."""
    series: dict[str, str] = {}
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        family = value._name
        if isinstance(value, Counter):
            names = [f"{family}_total"]
        elif isinstance(value, Histogram):
            names = [f"{family}_bucket", f"{family}_sum", f"{family}_count"]
        else:
            assert isinstance(value, Gauge), family
            names = [family]
        series.update(dict.fromkeys(names, family))
    return series


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def _alert_exprs() -> list[str]:
    return [str(r["expr"]) for g in yaml_docs(ALERTS)[0]["groups"] for r in g["rules"]]


def _names(expr: str) -> set[str]:
    return set(_BUS_NAME.findall(_QUOTED.sub('""', expr)))


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_bus_metric_in_an_expression_is_exported_by_the_code(source: str) -> None:
    exprs = _dashboard_exprs() if source == "dashboard" else _alert_exprs()
    exported = _exported_series()
    used = set().union(*(_names(e) for e in exprs))
    assert used, "no bus_* metric found"
    assert used <= exported.keys(), f"not exported by bus/metrics.py: {sorted(used - exported.keys())}"


def test_the_dashboard_shows_every_metric_the_code_exports() -> None:
    shown = {_exported_series()[n] for e in _dashboard_exprs() for n in _names(e)}
    assert shown == set(_exported_series().values())


def test_quantiles_are_computed_from_buckets_by_le() -> None:
    for expr in _dashboard_exprs() + _alert_exprs():
        if "histogram_quantile" in expr:
            assert "_bucket[" in expr, expr
            assert re.search(r"by \((?:[a-z_]+, )*le(?:, [a-z_]+)*\)", expr), expr


def test_the_alerts_the_issue_asks_for_exist() -> None:
    rules = {r["alert"]: r for g in yaml_docs(ALERTS)[0]["groups"] for r in g["rules"]}
    wanted = {
        "BusDeadLetters": "bus_dead_letters_total",
        "BusConsumerLagGrowing": "bus_consumer_lag",
        "BusEndToEndLatencyHigh": "bus_end_to_end_seconds_bucket",
        "BusSpoolStale": "bus_spool_oldest_seconds",
        "BusWebhookRejected": "bus_webhook_attempts_total",
        "BusAuditChainBroken": "bus_audit_chain_verified",
        "BusComponentDown": "up{",
    }
    for alert, needle in wanted.items():
        assert needle in rules[alert]["expr"], alert
        assert rules[alert]["labels"]["severity"] in {"warning", "critical"}
        assert rules[alert]["annotations"]["summary"]


def test_the_dashboard_is_grafana_json_with_the_provisioned_datasource() -> None:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "agency-bus"
    assert isinstance(dashboard["schemaVersion"], int)
    [datasource] = yaml_docs(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")[0][
        "datasources"
    ]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in (
        "ingested",
        "deliveries",
        "denials",
        "dead letters",
        "latency",
        "lag",
        "spool",
        "webhook",
        "paper",
    ):
        assert topic in titles, topic
    for panel in dashboard["panels"]:
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == datasource["uid"]
            assert panel["targets"]


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`; .ci/run installs it)")
    return found


def test_promtool_accepts_the_alert_rules() -> None:
    done = subprocess.run([_promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_prometheus_config() -> None:
    config = DEPLOY / "prometheus" / "prometheus.yml"
    done = subprocess.run([_promtool(), "check", "config", str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
