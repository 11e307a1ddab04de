"""``bus agencies add|list``: the agency directory on the bus.agencies topic."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bus.cli.options import Bootstrap, Profile, require_settings
from bus.cli.runner import run
from bus.directory.model import AgencyEntry, Role
from bus.directory.publish import put_agency
from bus.directory.tokens import hash_token, new_token
from bus.directory.view import AgencyDirectory
from bus.errors import ConfigError
from bus.kafka import BrokerProfile, KafkaSettings, read_to_end
from bus.topics import SystemTopic, agency_id

app = typer.Typer(help="Add and list agencies and their tokens.", no_args_is_help=True)
console = Console()


async def current_directory(settings: KafkaSettings) -> AgencyDirectory:
    directory = AgencyDirectory()
    for record in await read_to_end(settings, SystemTopic.AGENCIES):
        directory.apply(record)
    return directory


@app.command("add")
def add(
    agency: Annotated[str, typer.Argument(help="Agency id, e.g. civil-registry.")],
    name: Annotated[str, typer.Option(help="Official name of the agency.")],
    role: Annotated[Role, typer.Option(help="agency, portal or auditor.")] = Role.AGENCY,
    rotate: Annotated[bool, typer.Option(help="Issue a new token for an existing agency.")] = False,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Add an agency and print its token once (only its hash is stored)."""

    async def body() -> None:
        settings = require_settings(bootstrap, profile)
        agency_id(agency)
        if role is Role.OPERATOR:
            raise ConfigError("the operator is not a directory entry", hint="set BUS_OPERATOR_TOKEN instead")
        existing = (await current_directory(settings)).get(agency)
        if existing is not None and not rotate:
            raise ConfigError(f"agency {agency!r} already exists", hint="pass --rotate to issue a new token")
        token = new_token()
        keys = existing.public_keys if existing else {}
        await put_agency(
            settings,
            AgencyEntry(id=agency, name=name, role=role, token_hashes=(hash_token(token),), public_keys=keys),
        )
        console.print(f"agency [bold]{agency}[/] ({role.value}) saved; its token (shown once):")
        print(token)

    run(body())


@app.command("list")
def list_agencies(bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """Agencies in the directory (tokens are never shown)."""

    async def body() -> None:
        table = Table("agency", "name", "role", "tokens", "public keys")
        for entry in (await current_directory(require_settings(bootstrap, profile))).entries():
            table.add_row(
                entry.id,
                entry.name,
                entry.role.value,
                str(len(entry.token_hashes)),
                ", ".join(entry.public_keys) or "-",
            )
        console.print(table)

    run(body())
