"""A durable local cluster keeps every password beside its data, readable by its owner only, and in
no log (issue #20)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator

import pytest

from bus.broker.kafka.cluster import KafkaCluster
from bus.kafka.keyring import read_keyring
from tests.engine import serving


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    with serving(KafkaCluster(data_dir=tmp_path_factory.mktemp("durable"))) as running:
        yield running


def _secrets(cluster: KafkaCluster) -> list[str]:
    keyring = read_keyring(cluster.keyring)
    own = json.loads((cluster.root / "secrets.json").read_text())
    return [s.get_secret_value() for s in keyring.users.values()] + list(own.values())


def test_every_file_holding_a_password_is_readable_by_its_owner_only(cluster: KafkaCluster) -> None:
    holding = [cluster.keyring, cluster.root / "secrets.json", *(n.config_path for n in cluster.nodes)]
    for path in holding:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


def test_no_password_appears_in_any_log(cluster: KafkaCluster) -> None:
    # given every node's logs (Kafka prints its whole configuration at start-up)
    logs = [path for node in cluster.nodes for path in node.log_dir.iterdir() if path.is_file()]
    text = "".join(path.read_text(errors="replace") for path in logs)
    # then no password of a service or of the cluster is among them
    assert "sasl.jaas.config" in text
    for secret in _secrets(cluster):
        assert secret not in text


def test_every_bus_service_has_its_own_password(cluster: KafkaCluster) -> None:
    users = read_keyring(cluster.keyring).users
    passwords = [s.get_secret_value() for s in users.values()]
    assert len(set(passwords)) == len(passwords) == len(users)
    assert "bus.admin" not in users  # the super user is no service's
