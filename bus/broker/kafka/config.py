"""``server.properties`` of a local KRaft cluster, from one table (also checked against deploy/).

Every node is a combined broker+controller on loopback, in a static KRaft quorum (the voters are
in the configuration, so formatting needs no directory ids and one or three nodes start alike).
Replication follows the node count: one node is RF 1, three are RF 3 with ``min.insync.replicas=2``.

Every listener authenticates and ``StandardAuthorizer`` denies by default (issue #20):

* ``CLIENT``: SASL/SCRAM-SHA-512, the only listener the bus and agencies use; credentials live in
  the cluster metadata, so users are added and rotated through the admin API while it runs.
* ``INTERNAL`` (replication) and ``CONTROLLER`` (KRaft): SASL/PLAIN with one static user each,
  ``bus.broker`` and ``bus.controller``, whose passwords exist only in the 0600 ``server.properties``.
  SCRAM cannot authenticate controllers (their credentials would live in the log they serve), and a
  PLAIN listener accepts only the one user its JAAS entry names, so neither principal can log in on
  the client listener, nor a client on theirs.

The super users are those two and ``bus.admin``, which ``bus`` uses only to seed the service users
and their ACLs at start-up; no bus service runs as a super user.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bus.broker.kafka.tls import TlsFiles

HOST = "127.0.0.1"
SCRAM: Final = "SCRAM-SHA-512"
ADMIN_USER: Final = "bus.admin"
BROKER_USER: Final = "bus.broker"
CONTROLLER_USER: Final = "bus.controller"


def cluster_settings(nodes: int) -> dict[str, str]:
    """Broker settings that depend only on the cluster size; ``deploy/`` must agree with them."""
    replicas = min(nodes, 3)
    min_isr = 2 if replicas >= 3 else 1
    return {
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_isr),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "auto.create.topics.enable": "false",
        "unclean.leader.election.enable": "false",
    }


# Settings for a laptop-sized local node: a consumer group forms at once instead of waiting 3 s
# for more members, and the log cleaner gets a small buffer so compaction runs in a 1 GiB heap.
LOCAL_SETTINGS = {
    "group.initial.rebalance.delay.ms": "0",
    "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
    "log.cleaner.threads": "1",
    "log.cleaner.backoff.ms": "1000",  # check for dirty logs every second (default 15 s)
    "num.io.threads": "4",
    "num.network.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "log.retention.check.interval.ms": "60000",
    "metadata.max.idle.interval.ms": "5000",  # an idle controller appends a no-op every 5 s, not every 0.5 s
}


@dataclass(frozen=True)
class NodeAddress:
    node_id: int
    broker_port: int
    controller_port: int
    internal_port: int

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.broker_port}"

    @property
    def controller(self) -> str:
        return f"{HOST}:{self.controller_port}"

    @property
    def internal(self) -> str:
        return f"{HOST}:{self.internal_port}"


@dataclass(frozen=True)
class ClusterSecrets:
    """Passwords of the cluster's own principals: never given to a bus service."""

    admin: str
    broker: str
    controller: str


def server_properties(
    node: NodeAddress,
    quorum: list[NodeAddress],
    log_dir: Path,
    secrets: ClusterSecrets,
    tls: TlsFiles | None = None,
) -> dict[str, str]:
    """The complete configuration of one node of the cluster ``quorum`` (``tls``: the client listener
    is SASL_SSL with this PEM key store)."""
    client_tls = (
        {
            "listener.name.client.ssl.keystore.type": "PEM",
            "listener.name.client.ssl.keystore.location": str(tls.node),
        }
        if tls
        else {}
    )
    protocols = {"CLIENT": "SASL_SSL" if tls else "SASL_PLAINTEXT", "INTERNAL": "SASL_PLAINTEXT"}
    protocols["CONTROLLER"] = "SASL_PLAINTEXT"
    return {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": ",".join(f"{n.node_id}@{n.controller}" for n in quorum),
        "listeners": f"CLIENT://{node.bootstrap},INTERNAL://{node.internal},CONTROLLER://{node.controller}",
        "advertised.listeners": f"CLIENT://{node.bootstrap},INTERNAL://{node.internal}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "INTERNAL",
        "listener.security.protocol.map": ",".join(f"{name}:{kind}" for name, kind in protocols.items()),
        "log.dirs": str(log_dir),
        **security_settings(secrets),
        **client_tls,
        **cluster_settings(len(quorum)),
        **LOCAL_SETTINGS,
    }


def security_settings(secrets: ClusterSecrets) -> dict[str, str]:
    """SCRAM for clients, PLAIN with one static user for replication and for the KRaft quorum."""
    return {
        "listener.name.client.sasl.enabled.mechanisms": SCRAM,
        "listener.name.client.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "listener.name.internal.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.internal.plain.sasl.jaas.config": _plain(BROKER_USER, secrets.broker),
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": _plain(CONTROLLER_USER, secrets.controller),
        "sasl.mechanism.controller.protocol": "PLAIN",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": ";".join(f"User:{u}" for u in (ADMIN_USER, BROKER_USER, CONTROLLER_USER)),
    }


def _plain(user: str, password: str) -> str:
    """A PLAIN JAAS entry that logs in as ``user`` and accepts that one user only."""
    return (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{user}" password="{password}" user_{user}="{password}";'
    )


def render(properties: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in properties.items())
