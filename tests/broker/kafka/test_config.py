"""The local cluster's settings come from one table: replication follows the node count."""

from __future__ import annotations

from pathlib import Path

from bus.acl.rules import SERVICES
from bus.broker.kafka.cluster import new_cluster_id
from bus.broker.kafka.config import ClusterSecrets, NodeAddress, cluster_settings, render, server_properties
from bus.broker.kafka.install import kafka_version

SECRETS = ClusterSecrets(admin="a-pw", broker="b-pw", controller="c-pw")


def _quorum(size: int) -> list[NodeAddress]:
    return [NodeAddress(i + 1, 9000 + 3 * i, 9001 + 3 * i, 9002 + 3 * i) for i in range(size)]


def test_a_single_node_replicates_once_and_needs_one_in_sync_replica() -> None:
    settings = cluster_settings(1)
    assert settings["default.replication.factor"] == "1"
    assert settings["min.insync.replicas"] == "1"
    assert settings["offsets.topic.replication.factor"] == "1"


def test_three_nodes_replicate_three_times_and_need_two_in_sync() -> None:
    settings = cluster_settings(3)
    assert settings["default.replication.factor"] == "3"
    assert settings["min.insync.replicas"] == "2"
    assert settings["transaction.state.log.min.isr"] == "2"


def test_every_node_is_a_broker_and_a_voter_of_a_static_quorum(tmp_path: Path) -> None:
    quorum = _quorum(3)
    properties = server_properties(quorum[1], quorum, tmp_path, SECRETS)
    assert properties["process.roles"] == "broker,controller"
    assert properties["node.id"] == "2"
    assert properties["controller.quorum.voters"] == "1@127.0.0.1:9001,2@127.0.0.1:9004,3@127.0.0.1:9007"
    assert properties["listeners"] == (
        "CLIENT://127.0.0.1:9003,INTERNAL://127.0.0.1:9005,CONTROLLER://127.0.0.1:9004"
    )
    assert properties["auto.create.topics.enable"] == "false"
    assert properties["group.initial.rebalance.delay.ms"] == "0"


def test_every_listener_authenticates_and_the_authorizer_denies_by_default(tmp_path: Path) -> None:
    # given the properties of a node / when read / then no listener is left open
    properties = server_properties(_quorum(1)[0], _quorum(1), tmp_path, SECRETS)
    protocols = dict(pair.split(":") for pair in properties["listener.security.protocol.map"].split(","))
    assert protocols == {
        "CLIENT": "SASL_PLAINTEXT",
        "INTERNAL": "SASL_PLAINTEXT",
        "CONTROLLER": "SASL_PLAINTEXT",
    }
    assert properties["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert properties["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert properties["authorizer.class.name"].endswith("StandardAuthorizer")
    assert properties["allow.everyone.if.no.acl.found"] == "false"


def test_the_super_users_are_the_clusters_own_and_no_bus_service(tmp_path: Path) -> None:
    properties = server_properties(_quorum(1)[0], _quorum(1), tmp_path, SECRETS)
    supers = set(properties["super.users"].split(";"))
    assert supers == {"User:bus.admin", "User:bus.broker", "User:bus.controller"}
    assert not supers & {s.principal for s in SERVICES}
    assert "User:ANONYMOUS" not in supers


def test_a_plain_listener_accepts_only_the_one_user_it_names(tmp_path: Path) -> None:
    properties = server_properties(_quorum(1)[0], _quorum(1), tmp_path, SECRETS)
    controller = properties["listener.name.controller.plain.sasl.jaas.config"]
    assert 'username="bus.controller" password="c-pw" user_bus.controller="c-pw";' in controller
    assert controller.count("user_") == 1
    internal = properties["listener.name.internal.plain.sasl.jaas.config"]
    assert internal.count("user_") == 1
    assert "user_bus.broker=" in internal


def test_rendered_properties_are_one_key_per_line(tmp_path: Path) -> None:
    text = render(server_properties(_quorum(1)[0], _quorum(1), tmp_path, SECRETS))
    assert "node.id=1\n" in text
    assert all("=" in line for line in text.splitlines())


def test_the_pinned_release_is_a_kafka_4_release() -> None:
    assert kafka_version().split(".")[0] == "4"


def test_a_generated_cluster_id_never_starts_like_an_option() -> None:
    ids = [new_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
