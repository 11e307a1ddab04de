"""``bus processor run``: the policy processor (one worker per process)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from bus.broker.process import terminate
from bus.cli.ops import OpsHost, OpsPort, ops_endpoints
from bus.cli.options import DEFAULT_REGISTRY_URL, Bootstrap, Profile, RegistryUrl, require_settings
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.kafka.client import BrokerProfile
from bus.processor.service import INGRESS_PATTERN, Processor, ProcessorSettings

app = typer.Typer(help="Run the policy processor.", no_args_is_help=True)
console = Console()


@app.command("run")
def run_processor(
    workers: Annotated[int, typer.Option(help="Worker processes sharing the ingress partitions.")] = 1,
    group: Annotated[str, typer.Option(help="Consumer group of the workers.")] = "bus-processor",
    topics: Annotated[str, typer.Option(help="Regex of ingress topics to process.")] = INGRESS_PATTERN,
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
    ops_host: OpsHost = "127.0.0.1",
    ops_port: OpsPort = 8082,
    instance: Annotated[
        str | None,
        typer.Option(
            help="A stable name for this worker (Kafka): a restart aborts its predecessor's open "
            "transaction and takes its partitions back at once. With --workers, suffixed -0, -1, ..."
        ),
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option(
            help="PEM key the deliveries are signed with (else BUS_PROCESSOR_SIGNING_KEY); make it with "
            "`bus agencies keygen bus.processor --out FILE`."
        ),
    ] = None,
) -> None:
    """Process ingress.* until Ctrl-C; with --workers N, run N worker processes in one group."""
    if workers > 1:
        argv = [
            "processor",
            "run",
            "--group",
            group,
            "--topics",
            topics,
            "--registry",
            registry,
            "--profile",
            profile.value,
        ]
        argv += ["--ops-host", ops_host, *(["--signing-key", str(signing_key)] if signing_key else [])]
        workers_argv = [
            [*argv, "--ops-port", str(ops_port + i if ops_port else 0)]
            + (["--instance", f"{instance}-{i}"] if instance else [])
            for i in range(workers)
        ]
        _run_workers([[*a, "--bootstrap", bootstrap] if bootstrap else a for a in workers_argv])
        return

    async def body() -> None:
        named: dict[str, Any] = {"instance": instance} if instance else {}  # else BUS_PROCESSOR_INSTANCE
        if signing_key:
            named["signing_key"] = signing_key
        settings = ProcessorSettings(group_id=group, registry_url=registry, topic_pattern=topics, **named)
        processor = Processor(require_settings(bootstrap, profile), settings)
        with stop_requested() as stop:
            await processor.start()
            try:
                async with ops_endpoints({"processor": processor.ready}, host=ops_host, port=ops_port):
                    console.print(
                        f"processor ready (group {group}, registry {registry}, ops port {ops_port})"
                    )
                    await processor.run(stop)
            finally:
                await processor.stop()
                console.print(f"processor stopped after {processor.processed} records")

    run(body())


def _run_workers(argvs: list[list[str]]) -> None:
    """Start one single-worker process per argv (one consumer group) and stop them together."""
    children = [
        subprocess.Popen([sys.executable, "-m", "bus", *argv], start_new_session=True) for argv in argvs
    ]

    async def wait() -> None:
        with stop_requested() as stop:
            while not stop.is_set() and all(c.poll() is None for c in children):  # noqa: ASYNC110
                await asyncio.sleep(0.2)  # child exits are polled; there is no event to wait on

    try:
        asyncio.run(wait())
    finally:
        for child in children:
            terminate(child)
