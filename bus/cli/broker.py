"""``bus broker install|up|status``: fetch Apache Kafka, run a local broker in the foreground, check one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bus.broker.engine import Choice, Engine, LocalBroker, choose, local_broker
from bus.broker.kafka.install import install as install_kafka
from bus.broker.kafka.install import installed, kafka_version
from bus.cli.options import (
    DEFAULT_DATA_DIR,
    Bootstrap,
    DataDir,
    EngineOption,
    Ephemeral,
    Profile,
    require_settings,
)
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.kafka.client import BrokerProfile, KafkaSettings, make_admin

app = typer.Typer(help="Install, run or inspect the Kafka-protocol broker.", no_args_is_help=True)
console = Console()

IN_MEMORY_WARNING = (
    "[yellow]ephemeral broker (--ephemeral):[/] every topic, record and offset is lost when it stops"
)
Nodes = Annotated[int, typer.Option("--nodes", help="Kafka nodes on this machine: 1, or 3 (RF 3).")]
Tls = Annotated[
    bool,
    typer.Option(
        "--tls",
        help="Kafka: TLS on the client listener, with a CA and node certificate made in the data dir.",
    ),
]


def storage_line(broker: LocalBroker) -> str:
    """Tell the operator where data lives, or that it does not survive a stop."""
    if broker.data_dir is None:
        return IN_MEMORY_WARNING
    return f"durable: topics, records and offsets are kept in [bold]{broker.data_dir}[/]"


def access_line(broker: LocalBroker) -> str:
    """Who may use the broker: said plainly, because on tansu the answer is every local process."""
    settings = broker.settings()
    if settings.authenticates:
        tls = f"TLS to clients (CA {settings.ssl_cafile})" if settings.ssl_cafile else "no TLS (loopback)"
        return (
            f"access: SASL/SCRAM-SHA-512 on every listener, {tls}, ACLs enforced (deny by default); "
            f"each bus service logs in as itself (passwords in {settings.keyring}, mode 0600)"
        )
    return (
        "[bold yellow]access: none enforced[/]: tansu authenticates nobody, so any process on this machine "
        f"can read and write every topic (it listens on {broker.bootstrap} only); see docs/security.md"
    )


def exports(settings: KafkaSettings) -> str:
    """The variables another shell sets to use this broker as the operator."""
    line = f"export BUS_BOOTSTRAP={settings.bootstrap} BUS_BROKER_PROFILE={settings.broker_profile.value}"
    return f"{line} BUS_KEYRING={settings.keyring}" if settings.keyring else line


def engine_line(choice: Choice, broker: LocalBroker) -> str:
    """Which engine runs where, and why it was chosen (``auto`` says what it found)."""
    name = "Apache Kafka" if choice.engine is Engine.KAFKA else "tansu"
    return f"{name} at {broker.bootstrap} (pid {broker.pid}; {choice.reason})"


def start_local(
    engine: Engine, port: int | None, data_dir: Path, ephemeral: bool, nodes: int = 1, tls: bool = False
) -> tuple[Choice, LocalBroker]:
    """The chosen engine and its (not yet started) broker."""
    if engine is not Engine.TANSU and installed() is None:
        console.print(f"fetching Apache Kafka {kafka_version()} from Maven Central (once)…")
    choice = choose(Engine.KAFKA if tls and engine is Engine.AUTO else engine)
    return choice, local_broker(
        choice.engine, port=port, data_dir=None if ephemeral else data_dir, nodes=nodes, tls=tls
    )


@app.command("install")
def install() -> None:
    """Fetch the pinned Apache Kafka release from Maven Central into the cache (no-op when complete)."""
    found, fetched = install_kafka()
    verb = "installed" if fetched else "already installed"
    console.print(
        f"Apache Kafka {found.version} {verb}: {found.jars} jars, {found.size_bytes / 2**20:.1f} MiB "
        f"in {found.libs} (java: {found.java})"
    )


@app.command("up")
def up(
    port: Annotated[int | None, typer.Option(help="First loopback port (default: free ones).")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    ephemeral: Ephemeral = False,
    bootstrap: Bootstrap = None,
    engine: EngineOption = Engine.AUTO,
    nodes: Nodes = 1,
    tls: Tls = False,
) -> None:
    """Start a local broker and keep it running until Ctrl-C or SIGTERM."""
    if bootstrap:
        console.print(f"using the external cluster at [bold]{bootstrap}[/]; nothing started")
        return

    async def body() -> None:
        with stop_requested() as stop:
            choice, broker = start_local(engine, port, data_dir, ephemeral, nodes, tls)
            async with broker:
                console.print(f"broker ready at [bold green]{broker.bootstrap}[/]")
                console.print(engine_line(choice, broker))
                console.print(storage_line(broker))
                console.print(access_line(broker))
                console.print(f"use it from another shell: {exports(broker.settings())}")
                await stop.wait()
                console.print("stopping broker…")

    run(body())


@app.command("status")
def status(bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """Show the brokers and topic count of the cluster at --bootstrap."""

    async def body() -> None:
        settings = require_settings(bootstrap, profile)
        admin = make_admin(settings)
        await admin.start()
        try:
            cluster = await admin.describe_cluster()
            topics = await admin.list_topics()
        finally:
            await admin.close()
        nodes = ", ".join(f"{b['node_id']}@{b['host']}:{b['port']}" for b in cluster["brokers"])
        console.print(
            f"cluster [bold]{cluster['cluster_id']}[/] at {settings.bootstrap}: "
            f"brokers {nodes}; {len(topics)} topics"
        )

    run(body())
