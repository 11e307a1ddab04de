"""The registry serves health, readiness and Prometheus metrics like every long-running component."""

from __future__ import annotations

import httpx


def test_health_and_readiness_answer_once_the_log_is_read(registry_url: str) -> None:
    # given a running registry
    # when its health and readiness endpoints are asked
    alive = httpx.get(f"{registry_url}/healthz")
    ready = httpx.get(f"{registry_url}/readyz")
    # then it is alive and ready, and says why
    assert alive.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"]["schemas"]["ok"] is True


def test_requests_are_counted_by_route_template_not_by_subject(registry_url: str, unique: str) -> None:
    # given a lookup of a subject that does not exist
    httpx.get(f"{registry_url}/subjects/nothing-{unique}-value/versions")
    # when the metrics are scraped
    text = httpx.get(f"{registry_url}/metrics").text
    # then the request is counted under the route template with its status, and the subject is not a label
    counted = 'bus_registry_requests_total{method="GET",route="/subjects/{subject}/versions",status="404"}'
    assert counted in text
    assert unique not in text
