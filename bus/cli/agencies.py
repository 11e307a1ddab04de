"""``bus agencies add|rotate-credentials|list``: the agency directory on the bus.agencies topic.

Where the broker authenticates (Apache Kafka with SASL), an agency of role ``agency`` also gets a
SCRAM user named after its id, created through the admin API and printed once with its token, and
the broker's ACLs are reconciled at once (its grants follow its agreements and signing keys).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from rich.console import Console
from rich.table import Table

from bus.acl.sync import reconcile
from bus.cli.options import Bootstrap, Profile, require_settings
from bus.cli.runner import run
from bus.directory.keys import register_public_key, write_private_key
from bus.directory.model import PROCESSOR_IDENTITY, SERVICE_NAMES, AgencyEntry, Role
from bus.directory.publish import put_agency
from bus.directory.tokens import hash_token, new_token
from bus.directory.view import current_directory
from bus.errors import ConfigError
from bus.event.signing import public_key_from_text
from bus.event.topics import agency_id
from bus.kafka.access import upsert_users
from bus.kafka.client import BrokerProfile, KafkaSettings

app = typer.Typer(help="Add and list agencies and their tokens.", no_args_is_help=True)
console = Console()


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
        if role is Role.SERVICE:
            raise ConfigError(
                "service entries (the processor's, the webhook dispatcher's) hold signing keys only",
                hint=f"bus agencies keygen {PROCESSOR_IDENTITY} --out processor.pem",
            )
        existing = (await current_directory(settings)).get(agency)
        if existing is not None and not rotate:
            raise ConfigError(f"agency {agency!r} already exists", hint="pass --rotate to issue a new token")
        token = new_token()
        keys = existing.public_keys if existing else {}
        webhook = existing.webhook if existing else None
        entry = AgencyEntry(
            id=agency,
            name=name,
            role=role,
            token_hashes=(hash_token(token),),
            public_keys=keys,
            webhook=webhook,
        )
        await put_agency(settings, entry)
        if role is Role.AGENCY and settings.authenticates:
            await _issue_kafka_login(settings, agency)
        console.print(f"agency [bold]{agency}[/] ({role.value}) saved; its token (shown once):")
        print(token)  # the last line, for scripts

    run(body())


@app.command("rotate-credentials")
def rotate_credentials(
    agency: Annotated[str, typer.Argument(help="Agency id.")],
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Replace an agency's Kafka password (the old one stops working at its next login)."""

    async def body() -> None:
        settings = require_settings(bootstrap, profile)
        entry = (await current_directory(settings)).get(agency)
        if entry is None or entry.role is not Role.AGENCY:
            raise ConfigError(
                f"{agency!r} is not an agency in the directory", hint=f"bus agencies add {agency} --name …"
            )
        if not settings.authenticates:
            raise ConfigError(
                f"the broker at {settings.bootstrap} authenticates nobody: there is no Kafka login to rotate",
                hint="agencies get Kafka logins on Apache Kafka with SASL (bus up --engine kafka, a cluster)",
            )
        await _issue_kafka_login(settings, agency)

    run(body())


async def _issue_kafka_login(settings: KafkaSettings, agency: str) -> None:
    """A new SCRAM password for ``agency``, printed once; then the ACLs its entry implies."""
    password = new_token()
    await upsert_users(settings, {agency: password})
    await reconcile(settings)
    console.print(f"agency [bold]{agency}[/]: its Kafka login (SASL/SCRAM-SHA-512, shown once):")
    print(f"BUS_SASL_USERNAME={agency}")
    print(f"BUS_SASL_PASSWORD={password}")


async def _add_public_key(settings: KafkaSettings, agency: str, public_key: Ed25519PublicKey) -> str:
    key_id = await register_public_key(settings, agency, public_key)
    if settings.authenticates and agency not in SERVICE_NAMES:  # a signing key lets the agency publish
        await reconcile(settings)
    return key_id


@app.command("keygen")
def keygen(
    agency: Annotated[
        str, typer.Argument(help="Agency id, or bus.processor / bus.webhooks (signing services).")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the private key (PEM, mode 0600).")],
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Create a signing key for an agency or the processor, publish its public key (old keys stay valid)."""

    async def body() -> None:
        settings = require_settings(bootstrap, profile)
        if out.exists():
            raise ConfigError(
                f"{out} exists; refusing to overwrite a private key", hint="choose another --out"
            )
        key = Ed25519PrivateKey.generate()
        key_id = await _add_public_key(settings, agency, key.public_key())
        write_private_key(out, key)
        console.print(f"agency [bold]{agency}[/]: new key {key_id}; private key written to {out}")

    run(body())


@app.command("add-key")
def add_key(
    agency: Annotated[str, typer.Argument(help="Agency id.")],
    public_key: Annotated[
        str, typer.Option("--public-key", help="Base64 of the 32-byte Ed25519 public key.")
    ],
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Register a public key the agency (or the gateway on its behalf) signs with."""

    async def body() -> None:
        key_id = await _add_public_key(
            require_settings(bootstrap, profile), agency, public_key_from_text(public_key)
        )
        console.print(f"agency [bold]{agency}[/]: key {key_id} registered")

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
