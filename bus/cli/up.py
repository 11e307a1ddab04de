"""``bus up``: start the single-machine bus: broker, registry and the canonical schemas."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from bus import topics
from bus.cli.broker import embedded_broker, storage_line
from bus.cli.options import DEFAULT_DATA_DIR, Bootstrap, DataDir, Ephemeral, Profile
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.demo.first_event import RoundTrip, publish_and_read_back, schemas_dir
from bus.directory.tokens import new_token
from bus.kafka import BrokerProfile, KafkaSettings, ensure_topics, make_admin
from bus.registry.catalogue import apply_catalogue
from bus.registry.client import RegistryClient
from bus.registry.service import RegistryService, RegistrySettings

CANONICAL_SCHEMAS = schemas_dir()
console = Console()


async def _create_system_topics(settings: KafkaSettings) -> None:
    admin = make_admin(settings)
    await admin.start()
    try:
        specs = [topics.spec_for(t) for t in topics.SystemTopic]
        await ensure_topics(admin, specs, replication_factor=settings.replication_factor)
    finally:
        await admin.close()


def up(
    demo: Annotated[bool, typer.Option("--demo", help="Publish a sample record change and show it.")] = False,
    broker_port: Annotated[int | None, typer.Option(help="Embedded broker port.")] = None,
    registry_port: Annotated[int, typer.Option(help="Schema registry port.")] = 8081,
    schemas: Annotated[Path, typer.Option(help="Canonical schemas folder to apply.")] = CANONICAL_SCHEMAS,
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
                where, storage = f"external cluster at {bootstrap}", "storage: the cluster's own"
            else:
                broker = await stack.enter_async_context(embedded_broker(broker_port, data_dir, ephemeral))
                settings = broker.settings()
                where = f"embedded broker at {broker.bootstrap} (pid {broker.pid})"
                storage = storage_line(broker)
            await _create_system_topics(settings)

            given_token = os.environ.get("BUS_OPERATOR_TOKEN")
            operator_token = given_token or new_token()
            registry = RegistryService(
                settings, RegistrySettings(port=registry_port, operator_token=operator_token)
            )
            await registry.start()
            stack.push_async_callback(registry.stop)
            registry_url = f"http://127.0.0.1:{registry_port}"
            registry_up = asyncio.Event()
            serving = asyncio.create_task(registry.serve(stop, on_started=registry_up.set))
            await _first_of(registry_up.wait(), serving)

            async with RegistryClient(registry_url, token=operator_token) as client:
                applied = await apply_catalogue(client, schemas)
            token_line = (
                "operator token: from BUS_OPERATOR_TOKEN"
                if given_token
                else f"operator token (generated; set BUS_OPERATOR_TOKEN to choose): {operator_token}"
            )
            console.print(
                Panel.fit(
                    f"broker:   {where}\nregistry: {registry_url} ({len(applied)} subjects from {schemas})\n"
                    f"{token_line}\nexport BUS_BOOTSTRAP={settings.bootstrap} "
                    f"BUS_BROKER_PROFILE={settings.broker_profile} BUS_REGISTRY_URL={registry_url}",
                    title="agency-bus is up",
                )
            )
            console.print(storage)
            if demo:
                show_round_trip(await publish_and_read_back(settings, registry_url))
            console.print("press Ctrl-C to stop")
            await _first_of(stop.wait(), serving)
            console.print("stopping…")
            stop.set()
            await serving

    run(body())


async def _first_of(waiting: Coroutine[Any, Any, Any], serving: asyncio.Task[None]) -> None:
    """Wait for ``waiting``, but surface a crash of the serving task (e.g. port in use) at once."""
    waiter = asyncio.ensure_future(waiting)
    done, _ = await asyncio.wait({waiter, serving}, return_when=asyncio.FIRST_COMPLETED)
    if serving in done and waiter not in done:
        waiter.cancel()
        serving.result()
        raise RuntimeError("the registry stopped serving unexpectedly")


def show_round_trip(trip: RoundTrip) -> None:
    """Print the event as it came back from the broker: headers, then the decoded record."""
    table = Table(
        title=f"read back from {trip.topic} (partition {trip.partition}, offset {trip.offset}, "
        f"schema id {trip.schema_id} from the registry)",
        show_header=False,
    )
    for name, value in trip.received.to_headers():
        table.add_row(name, value.decode())
    for field, value in trip.record.items():
        table.add_row(f"value.{field}", str(value))
    console.print(table)
    same = "identical to" if trip.received == trip.sent else "DIFFERENT from"
    console.print(f"[green]the event that came back is {same} the one published[/]")
