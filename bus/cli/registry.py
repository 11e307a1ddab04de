"""``bus registry serve``: the Confluent-compatible schema registry on the bus.schemas topic."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from bus.cli.options import Bootstrap, Profile, require_settings
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.kafka.client import BrokerProfile
from bus.registry.service import RegistryService, RegistrySettings

app = typer.Typer(help="Run the schema registry.", no_args_is_help=True)
console = Console()


@app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8081,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Serve the registry until Ctrl-C; state is rebuilt from bus.schemas at start."""

    async def body() -> None:
        service = RegistryService(
            require_settings(bootstrap, profile), RegistrySettings(host=host, port=port)
        )
        with stop_requested() as stop:
            await service.start()
            try:
                await service.serve(
                    stop,
                    on_started=lambda: console.print(
                        f"registry ready at [bold green]http://{host}:{port}[/] "
                        f"({len(service.store.state.subjects())} subjects)"
                    ),
                )
            finally:
                await service.stop()

    run(body())
