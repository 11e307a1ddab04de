"""``bus up``: the single-machine bus — broker, registry, gateway, processor — in one command."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import Counter
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from bus import topics
from bus.audit.read import read_audit
from bus.cli.agreements import apply_folder
from bus.cli.broker import embedded_broker, storage_line
from bus.cli.options import DEFAULT_DATA_DIR, Bootstrap, DataDir, Ephemeral, Profile
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.demo.scenario import Step, run_scenario
from bus.directory.tokens import new_token
from bus.gateway.service import GatewayService, GatewaySettings
from bus.kafka import BrokerProfile, KafkaSettings, create_topics
from bus.processor.service import Processor, ProcessorSettings
from bus.registry.catalogue import apply_catalogue
from bus.registry.client import RegistryClient
from bus.registry.service import RegistryService, RegistrySettings

console = Console()
SOURCE_TREE = Path(__file__).resolve().parents[2]


async def _create_system_topics(settings: KafkaSettings) -> None:
    specs = [topics.spec_for(t) for t in topics.SystemTopic]
    await create_topics(settings, specs)


def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Run the citizen-moves-house scenario and show it.")
    ] = False,
    broker_port: Annotated[int | None, typer.Option(help="Embedded broker port.")] = None,
    registry_port: Annotated[int, typer.Option(help="Schema registry port.")] = 8081,
    api_port: Annotated[int, typer.Option(help="Gateway (HTTP ingestion) port.")] = 8080,
    schemas: Annotated[Path, typer.Option(help="Canonical schemas folder.")] = SOURCE_TREE / "schemas",
    agreements: Annotated[Path, typer.Option(help="Agreements folder.")] = SOURCE_TREE
    / "deploy"
    / "agreements",
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
            token = given_token or new_token()
            registry_url = f"http://127.0.0.1:{registry_port}"
            tasks: list[asyncio.Task[None]] = []

            registry = RegistryService(settings, RegistrySettings(port=registry_port, operator_token=token))
            await registry.start()
            stack.push_async_callback(registry.stop)
            started = asyncio.Event()
            tasks.append(asyncio.create_task(registry.serve(stop, on_started=started.set)))
            await _first_of(started.wait(), tasks)
            async with RegistryClient(registry_url, token=token) as client:
                applied = await apply_catalogue(client, schemas)
            added, changed, revoked, _ = await apply_folder(settings, registry_url, agreements)

            key_dir = Path(tempfile.mkdtemp(prefix="bus-keys-")) if ephemeral or bootstrap else data_dir
            gateway = GatewayService(
                settings,
                GatewaySettings(
                    port=api_port, registry_url=registry_url, key_file=key_dir / "gateway-key.pem"
                ),
            )
            await gateway.start()
            stack.push_async_callback(gateway.stop)
            started = asyncio.Event()
            tasks.append(asyncio.create_task(gateway.serve(stop, on_started=started.set)))
            await _first_of(started.wait(), tasks)

            processor = Processor(
                settings, ProcessorSettings(registry_url=registry_url, operator_token=token)
            )
            await processor.start()
            stack.push_async_callback(processor.stop)
            tasks.append(asyncio.create_task(processor.run(stop)))

            token_line = (
                "operator token: from BUS_OPERATOR_TOKEN"
                if given_token
                else f"operator token (generated; set BUS_OPERATOR_TOKEN to choose): {token}"
            )
            console.print(
                Panel.fit(
                    f"broker:     {where}\n"
                    f"registry:   {registry_url} ({len(applied)} subjects from {schemas})\n"
                    f"gateway:    http://127.0.0.1:{api_port} (POST /v1/events/{{type}})\n"
                    f"processor:  running; agreements {len(added)} added, {len(changed)} changed, "
                    f"{len(revoked)} revoked from {agreements}\n"
                    f"{token_line}\nexport BUS_BOOTSTRAP={settings.bootstrap} "
                    f"BUS_BROKER_PROFILE={settings.broker_profile} BUS_REGISTRY_URL={registry_url}",
                    title="agency-bus is up",
                )
            )
            console.print(storage)
            if demo:
                # the demo's spools live with the data, so a second run continues each key's sequence
                demo_dir = None if ephemeral or bootstrap else data_dir / "demo"
                steps = await run_scenario(settings, registry_url, demo_dir)
                show_decisions(steps, await _decisions(settings, registry_url, steps, tasks))
            console.print("press Ctrl-C to stop")
            await _first_of(stop.wait(), tasks)
            console.print("stopping…")
            stop.set()
            for task in tasks:
                await task

    run(body())


async def _first_of(waiting: Coroutine[Any, Any, Any], tasks: list[asyncio.Task[None]]) -> None:
    """Wait for ``waiting``; if a component stops first (e.g. port in use), raise its error now."""
    waiter = asyncio.ensure_future(waiting)
    done, _ = await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        if task in done and waiter not in done:
            waiter.cancel()
            task.result()
            raise RuntimeError(f"component {task.get_name()} stopped unexpectedly")


async def _decisions(
    settings: KafkaSettings, registry_url: str, steps: list[Step], tasks: list[asyncio.Task[None]]
) -> list[dict[str, Any]]:
    """The audit entries of the scenario's events, once every event has been decided on."""
    wanted = {event_id for step in steps for event_id in step.event_ids}
    entries: list[dict[str, Any]] = []
    for _ in range(100):
        entries = [e for e in await read_audit(settings, registry_url) if e["event_id"] in wanted]
        if {e["event_id"] for e in entries} == wanted:
            await asyncio.sleep(0.5)  # the rest of the last batch's entries
            return [e for e in await read_audit(settings, registry_url) if e["event_id"] in wanted]
        await _first_of(asyncio.sleep(0.2), tasks)
    return entries


def show_decisions(steps: list[Step], entries: list[dict[str, Any]]) -> None:
    """One row per decision, grouped by scenario step, plus the paper certificates avoided."""
    table = Table(
        "step", "agency", "decision", "fields sent / reason", "legal basis", title="who received what"
    )
    for number, step in enumerate(steps, 1):
        for entry in (e for e in entries if e["event_id"] in step.event_ids):
            decided = entry["decision"].lower()
            detail = ", ".join(entry["fields"]) if decided == "delivered" else entry["reason"] or ""
            colour = "green" if decided == "delivered" else "red"
            table.add_row(
                f"{number}. {step.title}",
                entry["consumer"] or "-",
                f"[{colour}]{decided}[/]",
                detail,
                (entry["legal_basis"] or "")[:60],
            )
    console.print(table)
    avoided = Counter(e["replaces"] for e in entries if e["decision"] == "DELIVERED" and e["replaces"])
    console.print(
        f"paper certificates avoided so far: {sum(avoided.values())} "
        + ", ".join(f"{name} x{count}" for name, count in avoided.items())
    )
