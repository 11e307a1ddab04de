"""``bus gateway serve``: HTTP ingestion, the citizen tracker and the consent wallet API (port 8080)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bus.audit.archive import DEFAULT_DB_URL
from bus.cli.options import DEFAULT_REGISTRY_URL, Bootstrap, Profile, RegistryUrl, require_settings
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.event.signing import public_key_text
from bus.gateway.service import GatewayService, GatewaySettings
from bus.kafka.client import BrokerProfile

app = typer.Typer(help="Run the HTTP gateway.", no_args_is_help=True)
console = Console()


@app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8080,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    key_file: Annotated[Path, typer.Option(help="Gateway signing key (created if missing).")] = Path(
        "bus-data/gateway-key.pem"
    ),
    audit_db: Annotated[
        str,
        typer.Option(
            "--audit-db",
            envvar="BUS_AUDIT_DB_URL",
            help="SQLAlchemy URL of the audit archive the tracker reads (`bus audit archive --db`).",
        ),
    ] = DEFAULT_DB_URL,
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Serve ingestion, the tracker (/v1/audit/subjects, /tracker) and consent until Ctrl-C."""

    async def body() -> None:
        settings = GatewaySettings(
            host=host, port=port, registry_url=registry, key_file=key_file, audit_db_url=audit_db
        )
        service = GatewayService(require_settings(bootstrap, profile), settings)
        public = public_key_text(service.signer.private_key.public_key())
        with stop_requested() as stop:
            await service.start()
            try:
                await service.serve(
                    stop,
                    on_started=lambda: console.print(
                        f"gateway ready at [bold green]http://{host}:{port}[/]; signing key "
                        f"{service.signer.key_id} (register it for HTTP agencies: "
                        f"bus agencies add-key <agency> --public-key {public})"
                    ),
                )
            finally:
                await service.stop()

    run(body())
