"""``bus agreements validate|apply|list``: reviewed YAML agreements onto ``bus.agreements``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bus.acl.sync import reconcile
from bus.cli.options import DEFAULT_REGISTRY_URL, Bootstrap, Profile, RegistryUrl, require_settings
from bus.cli.runner import run
from bus.errors import ConfigError
from bus.event.topics import SystemTopic, ingress, spec_for
from bus.kafka.client import (
    BrokerProfile,
    KafkaSettings,
    create_topics,
    make_producer,
    read_to_end,
)
from bus.policy.agreement import Agreement, load_agreements, schema_problems
from bus.policy.agreements_view import AgreementsView
from bus.registry.client import RegistryClient
from bus.registry.errors import SubjectNotFound

app = typer.Typer(help="Validate, apply and list data-sharing agreements.", no_args_is_help=True)
console = Console()
Folder = Annotated[Path, typer.Argument(help="Folder of agreement YAML files (one per agreement).")]


async def validate_folder(folder: Path, registry: str) -> list[Agreement]:
    """Load the folder and check every field path against the provider's registered schema."""
    agreements = load_agreements(folder)
    problems: list[str] = []
    async with RegistryClient(registry) as client:
        for agreement in agreements:
            subject = f"{ingress(agreement.provider, agreement.record_type)}-value"
            try:
                schema = json.loads((await client.latest(subject))["schema"])
            except SubjectNotFound:
                problems.append(f"{agreement.id}: provider schema {subject} is not registered")
                continue
            problems += schema_problems(agreement, schema)
    if problems:
        raise ConfigError(
            f"{len(problems)} problem(s) in {folder}: " + "; ".join(problems),
            hint="fix the agreement files, or register the provider's schema first",
        )
    return agreements


async def current_agreements(settings: KafkaSettings) -> dict[str, Agreement]:
    await create_topics(settings, [spec_for(SystemTopic.AGREEMENTS)])
    view = AgreementsView()
    for record in await read_to_end(settings, SystemTopic.AGREEMENTS):
        view.apply(record)
    return view.active


@app.command("validate")
def validate(folder: Folder, registry: RegistryUrl = DEFAULT_REGISTRY_URL) -> None:
    """Check ids, dates, parties and that every field exists in the registered schema."""

    async def body() -> None:
        agreements = await validate_folder(folder, registry)
        console.print(f"[green]{len(agreements)} agreements valid[/] in {folder}")

    run(body())


@app.command("apply")
def apply(
    folder: Folder,
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Publish the folder to bus.agreements: print the diff, then add, change and revoke."""

    async def body() -> None:
        added, changed, removed, unchanged = await apply_folder(
            require_settings(bootstrap, profile), registry, folder
        )
        for verb, ids, colour in (
            ("add", added, "green"),
            ("change", changed, "yellow"),
            ("revoke", removed, "red"),
        ):
            for agreement_id in ids:
                console.print(f"[{colour}]{verb}[/] {agreement_id}")
        console.print(
            f"{len(added)} added, {len(changed)} changed, {len(removed)} revoked, {unchanged} unchanged"
        )

    run(body())


async def apply_folder(
    settings: KafkaSettings, registry: str, folder: Path
) -> tuple[list[str], list[str], list[str], int]:
    """Make bus.agreements equal the folder: (added, changed, revoked ids, unchanged count)."""
    wanted = {a.id: a for a in await validate_folder(folder, registry)}
    current = await current_agreements(settings)
    added = sorted(wanted.keys() - current.keys())
    removed = sorted(current.keys() - wanted.keys())
    changed = sorted(i for i in wanted.keys() & current.keys() if wanted[i] != current[i])
    producer = make_producer(settings)
    await producer.start()
    try:
        for agreement_id in added + changed:
            await producer.send_and_wait(
                SystemTopic.AGREEMENTS,
                key=agreement_id.encode(),
                value=wanted[agreement_id].model_dump_json().encode(),
            )
        for agreement_id in removed:
            await producer.send_and_wait(SystemTopic.AGREEMENTS, key=agreement_id.encode(), value=None)
    finally:
        await producer.stop()
    if settings.authenticates:  # the broker enforces: grants follow the agreements at once
        await reconcile(settings)
    return added, changed, removed, len(wanted) - len(added) - len(changed)


@app.command("list")
def list_agreements(bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """Agreements in force on the bus."""

    async def body() -> None:
        table = Table("id", "provider → consumer", "type", "fields", "consent", "valid", "legal basis")
        for agreement in sorted(
            (await current_agreements(require_settings(bootstrap, profile))).values(), key=lambda a: a.id
        ):
            table.add_row(
                agreement.id,
                f"{agreement.provider} → {agreement.consumer}",
                agreement.record_type,
                ", ".join(agreement.fields),
                agreement.consent.value,
                f"{agreement.valid_from} to {agreement.valid_until or 'open'}",
                agreement.legal_basis,
            )
        console.print(table)

    run(body())
