"""``bus publish``: publish one record change through the SDK, for operators and demos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from bus.cli.options import DEFAULT_REGISTRY_URL, Bootstrap, Profile, RegistryUrl, require_settings
from bus.cli.runner import run
from bus.errors import ConfigError
from bus.event.envelope import ChangeKind
from bus.event.signing import private_key_from_pem
from bus.kafka.client import BrokerProfile
from connectors.sdk import Change, Publisher

console = Console()


def publish(
    record_type: Annotated[str, typer.Argument(help="Record type, e.g. person.")],
    key: Annotated[str, typer.Option("--key", help="Record key, e.g. the IIN.")],
    agency: Annotated[str, typer.Option(help="Publishing agency id.")],
    key_file: Annotated[Path, typer.Option(help="The agency's private key (bus agencies keygen).")],
    file: Annotated[Path | None, typer.Option(help="Record as JSON (omit for --kind deleted).")] = None,
    kind: Annotated[
        ChangeKind, typer.Option(help="created, updated, deleted or snapshot.")
    ] = ChangeKind.UPDATED,
    changed: Annotated[str | None, typer.Option(help="Comma-separated changed fields.")] = None,
    system: Annotated[str, typer.Option(help="Source system name.")] = "bus-cli",
    spool: Annotated[Path, typer.Option(help="Spool file.")] = Path("bus-data/cli.spool.sqlite"),
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Validate, sign, spool and deliver one change; wait until the broker acknowledged it."""

    async def body() -> None:
        settings = require_settings(bootstrap, profile)
        record: dict[str, Any] | None = None
        if file is not None:
            try:
                record = json.loads(file.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"cannot read record from {file}: {exc}", hint="pass a JSON object"
                ) from None
        private_key = private_key_from_pem(key_file.read_bytes())
        async with Publisher(
            agency, system, private_key, bootstrap=settings, registry=registry, spool_path=spool
        ) as publisher:
            [event_id] = await publisher.publish_many(
                [Change(kind, record_type, key, record, changed.split(",") if changed else None)]
            )
            await publisher.flush(timeout_s=60)
        console.print(f"published {kind} {record_type} {key}: ce_id {event_id}")

    run(body())
