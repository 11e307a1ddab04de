"""``bus connect postgres --config FILE``: capture a PostgreSQL database's changes into the bus."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from bus.cli.options import DEFAULT_REGISTRY_URL, Bootstrap, Profile, RegistryUrl, Token, require_settings
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.kafka.client import BrokerProfile
from connectors.postgres import PostgresConnector, load_config


def postgres(
    config: Annotated[Path, typer.Option("--config", help="Connector mapping YAML (tables -> records).")],
    resnapshot: Annotated[
        bool,
        typer.Option(help="Drop the slot and publish every mapped row again as a snapshot, then stream."),
    ] = False,
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    token: Token = None,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Snapshot the mapped tables once, then stream their changes until Ctrl-C."""

    async def body() -> None:
        settings = require_settings(bootstrap, profile)
        mapping = load_config(config)
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
        logging.getLogger("httpx").setLevel(logging.WARNING)
        with stop_requested() as stop:
            connector = PostgresConnector(
                mapping, kafka=settings, registry_url=registry, registry_token=token, resnapshot=resnapshot
            )
            try:
                await connector.start()
                await connector.run(stop)
            finally:
                await connector.close()
            print(
                f"stopped: {connector.published} change(s) spooled, {connector.skipped_rows} skipped",
                flush=True,
            )

    run(body())
