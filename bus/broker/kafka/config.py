"""``server.properties`` of a local KRaft cluster, from one table (also checked against deploy/).

Every node is a combined broker+controller on loopback, in a static KRaft quorum (the voters are
in the configuration, so formatting needs no directory ids and one or three nodes start alike).
Replication follows the node count: one node is RF 1, three are RF 3 with ``min.insync.replicas=2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"


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

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.broker_port}"

    @property
    def controller(self) -> str:
        return f"{HOST}:{self.controller_port}"


def server_properties(node: NodeAddress, quorum: list[NodeAddress], log_dir: Path) -> dict[str, str]:
    """The complete configuration of one node of the cluster ``quorum``."""
    return {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": ",".join(f"{n.node_id}@{n.controller}" for n in quorum),
        "listeners": f"PLAINTEXT://{node.bootstrap},CONTROLLER://{node.controller}",
        "advertised.listeners": f"PLAINTEXT://{node.bootstrap},CONTROLLER://{node.controller}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        **cluster_settings(len(quorum)),
        **LOCAL_SETTINGS,
    }


def render(properties: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in properties.items())
