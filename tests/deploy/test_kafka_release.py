"""deploy/ runs the Kafka release and 3-node settings the tests ran on (one source: bus/broker/kafka)."""

from __future__ import annotations

import re

from bus.broker.kafka.config import cluster_settings
from bus.broker.kafka.install import kafka_version
from tests.deploy.conftest import DEPLOY, yaml_docs


def _strimzi_kafka() -> dict[str, object]:
    [kafka] = [d for d in yaml_docs(DEPLOY / "kubernetes" / "kafka.yaml") if d["kind"] == "Kafka"]
    spec = kafka["spec"]["kafka"]
    assert isinstance(spec, dict)
    return spec


def _compose_properties() -> dict[str, str]:
    text = (DEPLOY / "compose" / "kafka" / "start-kafka.sh").read_text(encoding="utf-8")
    return dict(re.findall(r"^([a-z][a-z0-9.]+)=(\S+)$", text, re.MULTILINE))


def test_compose_runs_the_kafka_release_the_tests_ran_on() -> None:
    compose = (DEPLOY / "compose" / "docker-compose.yml").read_text(encoding="utf-8")
    images = set(re.findall(r"image: apache/kafka:(\S+)", compose))
    assert images == {kafka_version()}


def test_strimzi_runs_the_kafka_release_the_tests_ran_on() -> None:
    spec = _strimzi_kafka()
    assert spec["version"] == kafka_version()
    assert str(spec["metadataVersion"]).startswith(".".join(kafka_version().split(".")[:2]) + "-")


def test_compose_brokers_use_the_three_node_settings_of_the_local_cluster() -> None:
    found = _compose_properties()
    assert {k: found.get(k) for k in cluster_settings(3)} == cluster_settings(3)


def test_strimzi_brokers_use_the_three_node_settings_of_the_local_cluster() -> None:
    config = _strimzi_kafka()["config"]
    assert isinstance(config, dict)
    found = {k: str(v).lower() for k, v in config.items()}
    assert {k: found.get(k) for k in cluster_settings(3)} == cluster_settings(3)
