"""``bus up``: start the single-machine bus (for now the broker and its topics)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from bus import topics
from bus.cli.broker import embedded_broker, storage_line
from bus.cli.options import DEFAULT_DATA_DIR, Bootstrap, DataDir, Ephemeral, Profile
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.demo.first_event import RoundTrip, publish_and_read_back
from bus.kafka import BrokerProfile, KafkaSettings, make_admin

console = Console()


def up(
    demo: Annotated[bool, typer.Option("--demo", help="Publish a sample record change and show it.")] = False,
    broker_port: Annotated[int | None, typer.Option(help="Embedded broker port.")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    ephemeral: Ephemeral = False,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Start the bus on this machine and keep it running until Ctrl-C."""

    async def body() -> None:
        async with AsyncExitStack() as stack:
            stop = stack.enter_context(stop_requested())
            if bootstrap:
                settings = KafkaSettings(bootstrap=bootstrap, broker_profile=profile)
                where = f"external cluster at {bootstrap}"
                storage = "storage: the cluster's own"
            else:
                broker = await stack.enter_async_context(embedded_broker(broker_port, data_dir, ephemeral))
                settings = broker.settings()
                where = f"embedded broker at {broker.bootstrap} (pid {broker.pid})"
                storage = storage_line(broker)
            admin = make_admin(settings)
            await admin.start()
            try:
                specs = [topics.spec_for(t) for t in topics.SystemTopic]
                await topics.ensure_topics(admin, specs, replication_factor=settings.replication_factor)
            finally:
                await admin.close()
            console.print(
                Panel.fit(
                    f"broker: {where}\nexport BUS_BOOTSTRAP={settings.bootstrap} "
                    f"BUS_BROKER_PROFILE={settings.broker_profile}\nsystem topics: "
                    + ", ".join(topics.SystemTopic),
                    title="agency-bus is up",
                )
            )
            console.print(storage)
            if demo:
                show_round_trip(await publish_and_read_back(settings))
            console.print("press Ctrl-C to stop")
            await stop.wait()
            console.print("stopping…")

    run(body())


def show_round_trip(trip: RoundTrip) -> None:
    """Print the event as it came back from the broker: headers, then the decoded record."""
    table = Table(
        title=f"read back from {trip.topic} (partition {trip.partition}, offset {trip.offset})",
        show_header=False,
    )
    for name, value in trip.received.to_headers():
        table.add_row(name, value.decode())
    for field, value in trip.record.items():
        table.add_row(f"value.{field}", str(value))
    console.print(table)
    same = "identical to" if trip.received == trip.sent else "DIFFERENT from"
    console.print(f"[green]the event that came back is {same} the one published[/]")
