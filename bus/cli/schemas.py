"""``bus schemas register|list|check|apply``: manage subjects through the registry's API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bus.cli.options import DEFAULT_REGISTRY_URL, RegistryUrl, Token
from bus.cli.runner import run
from bus.errors import ConfigError
from bus.registry.catalogue import apply_catalogue
from bus.registry.client import RegistryClient

app = typer.Typer(help="Register, list and check Avro schemas.", no_args_is_help=True)
console = Console()

Subject = Annotated[str, typer.Option("--subject", help="e.g. ingress.civil-registry.person-value")]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read schema file {path}: {exc.strerror}", hint="check the path") from None


@app.command("register")
def register(
    file: Annotated[Path, typer.Argument(help="An .avsc file.")],
    subject: Subject,
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    token: Token = None,
) -> None:
    """Register a schema under a subject (idempotent: the same schema keeps its id)."""

    async def body() -> None:
        async with RegistryClient(registry, token=token) as client:
            schema_id = await client.register(subject, _read(file))
            latest = await client.latest(subject)
        console.print(f"{subject}: id {schema_id}, version {latest['version']}")

    run(body())


@app.command("list")
def list_subjects(registry: RegistryUrl = DEFAULT_REGISTRY_URL) -> None:
    """Subjects with their latest version and schema id."""

    async def body() -> None:
        table = Table("subject", "version", "id", "record")
        async with RegistryClient(registry) as client:
            for subject in await client.subjects():
                latest = await client.latest(subject)
                name = latest["schema"].split('"name":"', 1)[-1].split('"', 1)[0]
                table.add_row(subject, str(latest["version"]), str(latest["id"]), name)
        console.print(table)

    run(body())


@app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="An .avsc file.")],
    subject: Subject,
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
) -> None:
    """Dry-run: would this schema be accepted under the subject's compatibility level?"""

    async def body() -> None:
        async with RegistryClient(registry) as client:
            messages = await client.check(subject, _read(file))
        if not messages:
            console.print(f"[green]compatible[/]: {file} can be registered under {subject}")
            return
        console.print(f"[red]incompatible[/]: {file} cannot be registered under {subject}:")
        for message in messages:
            console.print(f"  - {message}")
        raise typer.Exit(1)

    run(body())


@app.command("apply")
def apply(
    folder: Annotated[Path, typer.Argument(help="The schemas/ folder (with providers.yaml).")] = Path(
        "schemas"
    ),
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    token: Token = None,
) -> None:
    """Register every canonical schema for every agency that publishes it (idempotent)."""

    async def body() -> None:
        table = Table("subject", "file", "id")
        async with RegistryClient(registry, token=token) as client:
            for entry, schema_id in await apply_catalogue(client, folder):
                table.add_row(entry.subject, str(entry.path), str(schema_id))
        console.print(table)

    run(body())
