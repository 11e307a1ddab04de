"""Structural checks of deploy/kubernetes against the Kubernetes API rules and Strimzi's CRDs.

No offline validator covers Strimzi's custom resources (kubernetes-validate bundles only the core
API schemas), so the rules that matter are checked here: names, required fields, the enums of the
KafkaTopic/KafkaUser/Kafka CRDs (Strimzi packaging/install/cluster-operator/04*-Crd-*.yaml) and
what DESIGN §7/§9 require of the cluster and the Deployments.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import pytest

from bus.acl.rules import AUDIT_READS, SERVICES
from bus.event import topics
from tests.deploy.conftest import DEPLOY, yaml_docs

K8S = DEPLOY / "kubernetes"
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
STRIMZI = "kafka.strimzi.io/v1beta2"


def _all_docs() -> list[dict[str, Any]]:
    kustomization = yaml_docs(K8S / "kustomization.yaml")[0]
    return [doc for name in kustomization["resources"] for doc in yaml_docs(K8S / name)]


def _kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in _all_docs() if d["kind"] == kind]


def test_every_resource_has_a_kind_an_api_version_and_a_valid_name() -> None:
    docs = _all_docs()
    assert docs
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), doc
        name = doc["metadata"]["name"]
        assert len(name) <= 253
        assert DNS_SUBDOMAIN.match(name), name
        if doc["kind"] in {"Deployment", "Service", "Namespace"}:
            assert DNS_LABEL.match(name), name
        labels = doc["metadata"].get("labels", {})
        assert all(isinstance(v, str) for v in labels.values()), doc["metadata"]
    keys = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys)), "duplicate resources"


def test_the_cluster_is_kraft_with_three_nodes_rf3_min_isr2_scram_over_tls_and_acls() -> None:
    [pool] = _kind("KafkaNodePool")
    assert pool["apiVersion"] == STRIMZI
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    [kafka] = _kind("Kafka")
    assert kafka["metadata"]["annotations"] == {
        "strimzi.io/node-pools": "enabled",
        "strimzi.io/kraft": "enabled",
    }
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    spec = kafka["spec"]["kafka"]
    assert "zookeeper" not in kafka["spec"]
    config = spec["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["offsets.topic.replication.factor"] == 3
    assert config["auto.create.topics.enable"] is False
    for listener in spec["listeners"]:
        assert listener["tls"] is True, listener["name"]
        assert listener["authentication"] == {"type": "scram-sha-512"}, listener["name"]
        assert listener["type"] in {"internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"}
    assert spec["authorization"]["type"] == "simple"
    assert spec["authorization"]["superUsers"] == ["bus.admin"]


def test_one_kafka_topic_per_topic_with_the_spec_of_bus_topics(generator: ModuleType) -> None:
    found = {t["spec"]["topicName"]: t for t in _kind("KafkaTopic")}
    for name in [t.value for t in topics.SystemTopic] + [AUDIT_READS]:
        assert name in found, name
    for name, topic in found.items():
        assert topic["apiVersion"] == STRIMZI
        assert topic["metadata"]["labels"] == {"strimzi.io/cluster": "agency-bus"}
        spec = topic["spec"]
        assert spec["replicas"] == 3
        assert spec["partitions"] >= 1
        if name != AUDIT_READS:
            expected = topics.spec_for(name)
            assert spec["partitions"] == expected.partitions, name
            assert spec["config"] == expected.configs, name
        assert spec["config"]["cleanup.policy"] in {"delete", "compact"}
    # every data topic the example agreements need
    for agreement in generator.agreements():
        assert agreement.delivery_topic in found
        assert topics.ingress(agreement.provider, agreement.record_type) in found
        assert topics.state(agreement.provider, agreement.record_type) in found


def test_kafka_users_match_the_strimzi_crd_and_every_service_has_one() -> None:
    users = {u["metadata"]["name"]: u for u in _kind("KafkaUser")}
    for service in SERVICES:
        assert service.principal.removeprefix("User:") in users
    for name, user in users.items():
        assert user["apiVersion"] == STRIMZI
        assert user["spec"]["authentication"]["type"] in {"tls", "tls-external", "scram-sha-512"}
        authorization = user["spec"].get("authorization")
        if authorization is None:
            assert name == "bus.admin", "only the super user goes without ACLs"
            continue
        assert authorization["type"] == "simple"
        for acl in authorization["acls"]:
            assert acl["resource"]["type"] in {"topic", "group", "cluster", "transactionalId"}
            assert acl["resource"].get("patternType", "literal") in {"literal", "prefix"}
            assert acl["operations"]


@pytest.mark.parametrize("deployment", _kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_deployments_have_probes_limits_and_their_own_kafka_user(deployment: dict[str, Any]) -> None:
    spec = deployment["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ports
    for side in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][side].keys()
    env = {e["name"]: e for e in container["env"]}
    assert env["BUS_BROKER_PROFILE"]["value"] == "kafka"
    assert env["BUS_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["BUS_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
    user = env["BUS_SASL_USERNAME"]["value"]
    assert env["BUS_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": user, "key": "password"}
    assert user in {u["metadata"]["name"] for u in _kind("KafkaUser")}
    mounts = {m["name"] for m in container["volumeMounts"]}
    assert mounts <= {v["name"] for v in pod["volumes"]}
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(next(iter(ports.values())))


def test_the_deployments_run_existing_bus_commands() -> None:
    from tests.deploy.test_compose import assert_bus_command

    for deployment in _kind("Deployment"):
        assert_bus_command(deployment["spec"]["template"]["spec"]["containers"][0]["args"])
