"""``bus catalogue`` and ``bus asyncapi AGENCY``: what the bus carries, and one agency's contract.

Both read the registry and the agreements applied on ``bus.agreements`` (and the directory), the
same inputs as ``GET /v1/catalogue`` and ``GET /v1/agencies/{id}/asyncapi.yaml``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bus.acl.sync import applied
from bus.catalogue.asyncapi import Server, to_yaml
from bus.catalogue.model import AgreementEntry, Catalogue
from bus.catalogue.render import markdown
from bus.catalogue.source import agency_asyncapi, current_catalogue
from bus.cli.options import DEFAULT_REGISTRY_URL, Bootstrap, Profile, RegistryUrl, require_settings
from bus.cli.runner import run
from bus.kafka.client import BrokerProfile
from bus.registry.client import RegistryClient
from bus.report.sources import agency_names

console = Console()


class CatalogueFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


def catalogue(
    fmt: Annotated[CatalogueFormat, typer.Option("--format", help="table, json or markdown.")] = (
        CatalogueFormat.TABLE
    ),
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Every record type (fields, provider, schema version, compatibility) and the agreements on it."""
    settings = require_settings(bootstrap, profile)

    async def body() -> Catalogue:
        agreements, directory = await applied(settings)
        async with RegistryClient(registry) as client:
            return await current_catalogue(client, agreements, agency_names(directory).get)

    found = run(body())
    if fmt is CatalogueFormat.JSON:
        typer.echo(found.model_dump_json(indent=2))
    elif fmt is CatalogueFormat.MARKDOWN:
        typer.echo(markdown(found))
    else:
        _print_tables(found)


def _print_tables(found: Catalogue) -> None:
    """One block per record type: its facts, its documented fields, its agreements (text, not markup)."""
    for rt in found.record_types:
        title = f"{rt.record_type} — {rt.provider_name or rt.provider} ({rt.provider})"
        console.print(Text(title, style="bold"))
        facts = f"{rt.subject} version {rt.version} (id {rt.schema_id}), compatibility {rt.compatibility}"
        console.print(Text(f"{rt.doc or ''}\n{facts}".strip()))
        fields = Table("field", "type", "description")
        for f in rt.fields:
            fields.add_row(
                Text(f.path + (" (optional)" if f.optional else "")), Text(f.type), Text(f.doc or "")
            )
        console.print(fields)
        console.print(_agreements_table(rt.agreements) if rt.agreements else "no agreement shares it yet")
    if found.unregistered_agreements:
        console.print(Text("Agreements on record types without a registered schema", style="bold yellow"))
        console.print(_agreements_table(found.unregistered_agreements))


def _agreements_table(entries: tuple[AgreementEntry, ...]) -> Table:
    table = Table(
        "agreement", "consumer", "purpose", "legal basis", "fields", "in force", "consent", "replaces"
    )
    for a in entries:
        validity = f"{a.valid_from} to {a.valid_until or 'open'}" + ("" if a.in_force else " (not today)")
        conditions = [
            f"{path} {op} {value}" for path, c in (a.where or {}).items() for op, value in c.items()
        ]
        where = "; only where " + ", ".join(conditions) if conditions else ""
        table.add_row(
            *(
                Text(value)
                for value in (
                    a.id,
                    a.consumer_name or a.consumer,
                    a.purpose,
                    a.legal_basis,
                    ", ".join(a.fields) + where,
                    validity,
                    a.consent,
                    a.replaces or "—",
                )
            )
        )
    return table


def asyncapi(
    agency: Annotated[str, typer.Argument(help="The agency id, as in the directory (e.g. tax).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.", show_default=False)
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            help="The Kafka address agencies connect to (default: --bootstrap).",
            show_default=False,
        ),
    ] = None,
    public_registry: Annotated[
        str | None,
        typer.Option(
            "--public-registry",
            help="The registry address agencies use (default: --registry).",
            show_default=False,
        ),
    ] = None,
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """AsyncAPI 3.0 of what AGENCY may publish and receive: exactly the channels its ACLs allow."""
    settings = require_settings(bootstrap, profile)
    where = Server(
        bootstrap=server or settings.bootstrap,
        registry_url=public_registry or registry,
        security_protocol=settings.security_protocol,
        sasl_mechanism=settings.sasl_mechanism,
    )

    async def body() -> str:
        agreements, directory = await applied(settings)
        async with RegistryClient(registry) as client:
            return to_yaml(await agency_asyncapi(client, agreements, directory, agency, where))

    text = run(body())
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"wrote the AsyncAPI 3.0 document of {agency} to {output}")
