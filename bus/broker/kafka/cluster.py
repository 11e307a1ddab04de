"""A local Apache Kafka cluster (1 or 3 KRaft nodes) as child processes of the bus.

Each node is ``java -cp 'libs/*' kafka.Kafka server.properties`` started through
``bus.broker.process.spawn``: its own session and a parent-death signal, so no JVM outlives the
bus. A durable cluster keeps Kafka's own log directories under ``<data-dir>/kafka/``, with the
cluster id and ports in ``cluster.json``; an ephemeral one lives in a temp dir removed at stop.
Every listener authenticates (config.py); the passwords live beside the data (identities.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from bus.broker.datadir import lock_data_dir
from bus.broker.kafka.config import ADMIN_USER, HOST, ClusterSecrets, NodeAddress, render, server_properties
from bus.broker.kafka.identities import KEYRING, SECRETS, cluster_secrets, seed, service_keyring
from bus.broker.kafka.install import LOG4J2, Installation, installed, kafka_version
from bus.broker.kafka.tls import TlsFiles, node_tls
from bus.broker.ports import free_port, is_free
from bus.broker.process import log_tail, spawn, terminate
from bus.errors import BrokerBinaryNotFound, BrokerError, BrokerStartError
from bus.kafka.client import BrokerProfile, KafkaSettings, make_admin
from bus.kafka.keyring import write_private

_STATE = "cluster.json"
_HEAP = "-Xmx1g"  # a laptop-sized node; Kafka's own scripts default to 1 GiB as well
_STOP_GRACE_S = 20.0  # controlled shutdown moves leadership away first


@dataclass
class KafkaNode:
    """One node's address, directories and process."""

    address: NodeAddress
    home: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def node_id(self) -> int:
        return self.address.node_id

    @property
    def config_path(self) -> Path:
        return self.home / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def console_log(self) -> Path:
        return self.log_dir / "console.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class KafkaCluster:
    """``async with KafkaCluster(nodes=3) as cluster`` starts it; ``settings()`` is how clients reach it."""

    def __init__(
        self,
        *,
        nodes: int = 1,
        data_dir: Path | None = None,
        port: int | None = None,
        tls: bool = False,
        start_timeout_s: float = 90.0,
    ) -> None:
        if nodes not in (1, 3):
            raise BrokerError(f"a local Kafka cluster has 1 or 3 nodes, not {nodes}", retriable=False)
        self.size = nodes
        self.data_dir = data_dir.resolve() if data_dir else None
        self._root = (self.data_dir / "kafka") if self.data_dir else None
        self._temp: Path | None = None
        self._first_port = port
        self.start_timeout_s = start_timeout_s
        self.nodes: list[KafkaNode] = []
        self.cluster_id = ""
        self.installation: Installation | None = None
        self._lock: IO[str] | None = None
        self._secrets: ClusterSecrets | None = None
        self.tls = tls
        self._tls: TlsFiles | None = None

    # --- what clients need --------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return ",".join(n.address.bootstrap for n in self.nodes)

    @property
    def pid(self) -> int | None:
        return self.nodes[0].proc.pid if self.nodes and self.nodes[0].proc else None

    @property
    def in_memory(self) -> bool:
        """True for an ephemeral cluster (its temp dir is removed at stop)."""
        return self.data_dir is None

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def root(self) -> Path:
        root = self._root or self._temp
        assert root is not None, "the cluster has not been started"
        return root

    @property
    def keyring(self) -> Path:
        """The bus services' passwords (0600): ``BUS_KEYRING`` for every ``bus`` command on this machine."""
        return self.root / KEYRING

    def settings(self) -> KafkaSettings:
        """Logged in as the operator; each component switches to its own user (``acting_as``)."""
        return KafkaSettings(
            bootstrap=self.bootstrap, broker_profile=BrokerProfile.KAFKA, keyring=self.keyring
        )

    def admin_settings(self) -> KafkaSettings:
        """The super user, for seeding users and ACLs (and for tests that set up an attack)."""
        assert self._secrets is not None, "the cluster has not been started"
        plain = KafkaSettings(bootstrap=self.bootstrap, broker_profile=BrokerProfile.KAFKA)
        if self._tls is not None:
            plain = plain.model_copy(update={"security_protocol": "SSL", "ssl_cafile": self._tls.ca})
        return plain.logged_in(ADMIN_USER, self._secrets.admin)

    def node(self, node_id: int) -> KafkaNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Format (first time only) and start every node; return once all are registered."""
        if any(n.running for n in self.nodes):
            return
        found = installed()
        if found is None:
            raise BrokerBinaryNotFound(
                f"Apache Kafka {kafka_version()} is not installed",
                hint="run `bus broker install` once (fetches it from Maven Central), or use --engine tansu",
            )
        self.installation = found
        if self.data_dir is not None:
            self._lock = lock_data_dir(self.data_dir)  # one cluster (or tansu) per data dir
        if self._root is None:
            self._temp = Path(tempfile.mkdtemp(prefix="bus-kafka-"))
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._plan()
            await asyncio.gather(*(asyncio.to_thread(self._format, n) for n in self.nodes))
            for node in self.nodes:
                self._spawn(node)
            await self.wait_ready()
            await seed(
                self.admin_settings(),
                service_keyring(self.root, self._tls.ca if self._tls else None),
                [n.address.bootstrap for n in self.nodes],
            )
        except BaseException:
            await self.stop()
            raise

    def _plan(self) -> None:
        """Node addresses and cluster id: kept from ``cluster.json`` when its ports are still free."""
        state_path = self.root / _STATE
        try:
            state = json.loads(state_path.read_text())
        except (OSError, ValueError):
            state = {}
        ports: list[list[int]] = state.get("ports", [])
        asked = self._first_port is not None and (not ports or ports[0][0] != self._first_port)
        fits = len(ports) == self.size and all(len(node) == 3 for node in ports)
        if asked or not fits or not all(is_free(p, HOST) for node in ports for p in node):
            ports = self._new_ports()
        self.cluster_id = state.get("cluster_id") or new_cluster_id()
        if state.get("cluster_id") and not (self.root / SECRETS).exists():
            raise BrokerStartError(
                f"the Kafka data in {self.root} was made by an older bus whose broker authenticated nobody",
                hint=f"remove {self.root} (its topics are lost) and start again, or use another --data-dir",
                retriable=False,
            )
        self._secrets = cluster_secrets(self.root)
        self._tls = node_tls(self.root / "tls", HOST) if self.tls else None
        addresses = [NodeAddress(i + 1, b, c, n) for i, (b, c, n) in enumerate(ports)]
        self.nodes = [KafkaNode(a, self.root / f"node-{a.node_id}") for a in addresses]
        for node in self.nodes:
            node.log_dir.mkdir(parents=True, exist_ok=True)
            properties = server_properties(
                node.address, addresses, node.home / "data", self._secrets, self._tls
            )
            write_private(node.config_path, render(properties))  # it holds the PLAIN passwords
        state_path.write_text(json.dumps({"cluster_id": self.cluster_id, "ports": ports, "nodes": self.size}))

    def _new_ports(self) -> list[list[int]]:
        """Client ports from ``--port`` (P, P+1, P+2) or free ones; controller and replication ports are
        always free ones."""
        first = self._first_port
        return [
            [first + i if first else free_port(HOST), free_port(HOST), free_port(HOST)]
            for i in range(self.size)
        ]

    def _java(self, main: str, *args: str, node: KafkaNode) -> list[str]:
        assert self.installation is not None
        return [
            self.installation.java,
            _HEAP,
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J2}",
            f"-Dkafka.logs.dir={node.log_dir}",
            "-cp",
            self.installation.classpath,
            main,
            *args,
        ]

    def _format(self, node: KafkaNode) -> None:
        """Format once, seeding the super user's SCRAM credential (KIP-900): SCRAM users otherwise need
        a running cluster and an authenticated admin to be created."""
        if (node.home / "data" / "meta.properties").exists():
            return
        assert self._secrets is not None
        admin = f"SCRAM-SHA-512=[name={ADMIN_USER},password={self._secrets.admin}]"
        argv = self._java(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self.cluster_id,
            "-c",
            str(node.config_path),
            "--add-scram",
            admin,
            node=node,
        )
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            said = "".join(
                line
                for line in (result.stdout + result.stderr).splitlines(keepends=True)
                if "Scram" not in line
            )  # the tool prints the seeded credential's salted keys
            raise BrokerStartError(
                f"formatting Kafka node {node.node_id} in {node.home} failed:\n{said}",
                hint="remove the node's data directory if it belongs to another cluster",
                retriable=False,
            )

    def _spawn(self, node: KafkaNode) -> None:
        node.proc = spawn(
            self._java("kafka.Kafka", str(node.config_path), node=node), env=None, log_path=node.console_log
        )

    async def wait_ready(self, nodes: int | None = None) -> None:
        """Until metadata lists ``nodes`` brokers (all by default); a node that exits fails at once."""
        wanted = nodes or sum(1 for n in self.nodes if n.proc is not None)
        deadline = time.monotonic() + self.start_timeout_s
        last = "no answer yet"
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.proc is not None and node.proc.poll() is not None:
                    raise BrokerStartError(
                        f"Kafka node {node.node_id} ({node.address.bootstrap}) exited with code "
                        f"{node.proc.returncode} during start-up:\n{log_tail(node.console_log)}",
                        hint=f"is port {node.address.broker_port} in use? see {node.log_dir}",
                        retriable=False,
                    )
            try:
                registered = await self._registered()
                if registered >= wanted:
                    return
                last = f"{registered} of {wanted} nodes registered"
            except (TimeoutError, OSError, BrokerError) as exc:
                last = str(exc) or type(exc).__name__
            await asyncio.sleep(0.2)
        raise BrokerStartError(
            f"Kafka on {self.bootstrap} was not ready within {self.start_timeout_s:.0f} s ({last})",
            hint=f"see the node logs under {self.log_dir.parent}",
        )

    async def _registered(self) -> int:
        live = [n for n in self.nodes if n.running]
        for node in live:  # a plain connect first: aiokafka logs every refused connection as an error
            _, writer = await asyncio.wait_for(asyncio.open_connection(HOST, node.address.broker_port), 1.0)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        admin = make_admin(
            self.admin_settings().model_copy(
                update={"bootstrap": ",".join(n.address.bootstrap for n in live)}
            )
        )
        try:
            await asyncio.wait_for(admin.start(), 5.0)
            cluster = await asyncio.wait_for(admin.describe_cluster(), 5.0)
        except Exception as exc:
            raise BrokerError(f"metadata not ready: {exc!r}") from exc
        finally:
            await admin.close()
        return len(cluster["brokers"])

    async def stop(self) -> None:
        """SIGTERM every node (controlled shutdown), SIGKILL after a grace period; temp data removed."""
        await asyncio.gather(*(asyncio.to_thread(self._terminate, n) for n in self.nodes))
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.close()

    @staticmethod
    def _terminate(node: KafkaNode) -> None:
        proc, node.proc = node.proc, None
        if proc is not None:
            terminate(proc, grace_s=_STOP_GRACE_S)

    # --- faults (tests/faults, the 3-node suite) ----------------------------------------------

    def kill(self, node_id: int, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to one node (SIGKILL: a crash; SIGSTOP/SIGCONT: a stall)."""
        node = self.node(node_id)
        assert node.proc is not None, f"node {node_id} is not running"
        node.proc.send_signal(sig)
        if sig is signal.SIGKILL:
            node.proc.wait()
            node.proc = None

    async def restart(self, node_id: int) -> None:
        """Start a stopped or killed node again on its own ports and data; wait until it is back."""
        node = self.node(node_id)
        if node.running:
            await asyncio.to_thread(self._terminate, node)
        self._spawn(node)
        await self.wait_ready(len(self.nodes))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (as ``random-uuid``), never
    starting with "-" (Kafka's Uuid.randomUuid rule: the tools would read it as an option)."""
    while (found := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
        pass
    return found
