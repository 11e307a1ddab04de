"""``bus broker up|status``: run the embedded broker in the foreground, or check one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bus.broker.embedded import EmbeddedBroker
from bus.cli.options import (
    DEFAULT_DATA_DIR,
    Bootstrap,
    DataDir,
    Ephemeral,
    Profile,
    require_settings,
)
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.kafka.client import BrokerProfile, make_admin

app = typer.Typer(help="Run or inspect the Kafka-protocol broker.", no_args_is_help=True)
console = Console()

IN_MEMORY_WARNING = (
    "[yellow]in-memory broker (--ephemeral):[/] every topic, record and offset is lost when it stops"
)


def storage_line(broker: EmbeddedBroker) -> str:
    """Tell the operator where data lives, or that it does not survive a stop."""
    if broker.data_dir is None:
        return IN_MEMORY_WARNING
    return f"durable: topics, records and offsets are kept in [bold]{broker.data_dir}[/]"


def embedded_broker(port: int | None, data_dir: Path, ephemeral: bool) -> EmbeddedBroker:
    return EmbeddedBroker(port=port, data_dir=None if ephemeral else data_dir)


@app.command("up")
def up(
    port: Annotated[int | None, typer.Option(help="Loopback port (default: a free one).")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    ephemeral: Ephemeral = False,
    bootstrap: Bootstrap = None,
) -> None:
    """Start the embedded broker and keep it running until Ctrl-C or SIGTERM."""
    if bootstrap:
        console.print(f"using the external cluster at [bold]{bootstrap}[/]; nothing started")
        return

    async def body() -> None:
        with stop_requested() as stop:
            async with embedded_broker(port, data_dir, ephemeral) as broker:
                console.print(f"broker ready at [bold green]{broker.bootstrap}[/] (pid {broker.pid})")
                console.print(storage_line(broker))
                console.print(
                    f"use it from another shell: export BUS_BOOTSTRAP={broker.bootstrap} "
                    "BUS_BROKER_PROFILE=embedded"
                )
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
