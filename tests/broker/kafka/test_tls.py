"""``--tls``: the client listener speaks TLS with a certificate of a CA made for the cluster (#20)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaException

from bus.broker.kafka.cluster import KafkaCluster
from bus.kafka.client import read_to_end
from bus.kafka.keyring import read_keyring
from tests.engine import serving


@pytest.fixture(scope="module")
def cluster() -> Iterator[KafkaCluster]:
    with serving(KafkaCluster(tls=True)) as running:
        yield running


def _metadata(config: dict[str, str | int | float | bool]) -> str:
    consumer = Consumer({**config, "group.id": "tls-probe"})
    try:
        consumer.list_topics(timeout=8)
        return "ok"
    except KafkaException as exc:
        return str(exc.args[0].name())
    finally:
        consumer.close()


def _login(cluster: KafkaCluster, **overrides: str) -> dict[str, str | int | float | bool]:
    keyring = read_keyring(cluster.keyring)
    return {
        "bootstrap.servers": cluster.bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "bus.operator",
        "sasl.password": keyring.users["bus.operator"].get_secret_value(),
        "ssl.ca.location": str(keyring.ssl_cafile),
        **overrides,
    }


async def test_the_bus_logs_in_over_tls_and_verifies_the_node(cluster: KafkaCluster) -> None:
    # given a cluster started with --tls / when the bus reads a system topic with its keyring
    settings = cluster.settings()
    records = await read_to_end(settings, "bus.agreements")
    # then it spoke SASL over TLS, trusting the cluster's own CA
    assert settings.security_protocol == "SASL_SSL"
    assert settings.ssl_cafile is not None
    assert records == []


async def test_a_client_that_trusts_the_ca_gets_metadata(cluster: KafkaCluster) -> None:
    assert _metadata(_login(cluster)) == "ok"


async def test_a_client_that_does_not_trust_the_ca_is_refused(cluster: KafkaCluster) -> None:
    # given the system's trust store only (no ca.crt) / then the handshake fails: the node is not trusted
    config = _login(cluster)
    del config["ssl.ca.location"]
    assert _metadata(config) != "ok"


async def test_a_client_without_tls_is_refused(cluster: KafkaCluster) -> None:
    assert _metadata(_login(cluster, **{"security.protocol": "SASL_PLAINTEXT"})) != "ok"


async def test_the_node_key_is_readable_by_its_owner_only(cluster: KafkaCluster) -> None:
    keyring = read_keyring(cluster.keyring)
    assert keyring.ssl_cafile is not None
    node = keyring.ssl_cafile.with_name("node.pem")
    assert stat.S_IMODE(os.stat(node).st_mode) == 0o600
    assert b"PRIVATE KEY" not in keyring.ssl_cafile.read_bytes()
