"""``bus agreements validate|apply|list|request|review``: reviewed YAML agreements onto ``bus.agreements``.

``request`` and ``review`` only write and read files: an access request takes effect when the operator
applies it like any other agreement.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bus.acl.sync import reconcile
from bus.catalogue.access_request import draft_yaml, render_review, review
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
from bus.policy.agreement import (
    Agreement,
    ConsentMode,
    load_agreement_file,
    load_agreements,
    parse_agreement,
    schema_problems,
)
from bus.policy.agreements_view import AgreementsView
from bus.policy.purpose_codes import codes_file_for, load_purpose_codes, purpose_code_problems
from bus.registry.client import RegistryClient
from bus.registry.errors import SubjectNotFound

app = typer.Typer(help="Validate, apply and list data-sharing agreements.", no_args_is_help=True)
console = Console()
Folder = Annotated[Path, typer.Argument(help="Folder of agreement YAML files (one per agreement).")]


async def validate_folder(folder: Path, registry: str) -> list[Agreement]:
    """Load the folder and check every field path against the provider's registered schema."""
    agreements = load_agreements(folder)
    codes_file = codes_file_for(folder)
    problems = purpose_code_problems(agreements, load_purpose_codes(codes_file), codes_file)
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
            hint="fix the agreement files, register the provider's schema first, or add the purpose code "
            f"to {codes_file}",
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
                # unset optional fields left out: an agreement without a purpose code or disclosure
                # stays readable by components not yet upgraded (a rolling upgrade)
                value=wanted[agreement_id].model_dump_json(exclude_none=True).encode(),
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


async def provider_schema(registry: str, agreement: Agreement) -> tuple[object, int | None]:
    """The latest registered schema of the agreement's provider type and its version (None: none yet)."""
    subject = f"{ingress(agreement.provider, agreement.record_type)}-value"
    async with RegistryClient(registry) as client:
        try:
            latest = await client.latest(subject)
        except SubjectNotFound:
            return None, None
    return json.loads(latest["schema"]), int(latest["version"])


@app.command("request")
def request(
    consumer: Annotated[str, typer.Option("--consumer", help="Your agency id (who would receive).")],
    provider: Annotated[str, typer.Option("--provider", help="The agency that holds the data.")],
    record_type: Annotated[str, typer.Option("--type", help="Its record type, e.g. person.")],
    fields: Annotated[
        str, typer.Option("--fields", help="Comma-separated dotted field paths, e.g. iin,surname.")
    ],
    purpose: Annotated[str, typer.Option("--purpose", help="What you use the data for, in one line.")],
    legal_basis: Annotated[str, typer.Option("--legal-basis", help="The law and article that allow it.")],
    replaces: Annotated[
        str | None, typer.Option("--replaces", help="The paper certificate it makes unnecessary.")
    ] = None,
    consent: Annotated[ConsentMode, typer.Option("--consent", help="Whether each citizen must consent.")] = (
        ConsentMode.NONE
    ),
    valid_from: Annotated[
        dt.datetime | None,
        typer.Option("--valid-from", formats=["%Y-%m-%d"], help="First day (default: today)."),
    ] = None,
    valid_until: Annotated[
        dt.datetime | None,
        typer.Option("--valid-until", formats=["%Y-%m-%d"], help="Last day (default: open)."),
    ] = None,
    agreement_id: Annotated[
        str | None, typer.Option("--id", help="Agreement id (default: <provider>-to-<consumer>-<type>).")
    ] = None,
    folder: Annotated[
        Path,
        typer.Option(
            "--output-dir", "-o", help="Where to write <id>.yaml (its name must be its id to be applied)."
        ),
    ] = Path(),
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
) -> None:
    """Write a draft agreement for the provider's reviewer and print what it would deliver."""
    today = dt.datetime.now(dt.UTC).date()
    chosen_id = agreement_id or f"{provider}-to-{consumer}-{record_type.replace('_', '-')}"
    document = {
        "id": chosen_id,
        "provider": provider,
        "consumer": consumer,
        "record_type": record_type,
        "fields": tuple(f.strip() for f in fields.split(",") if f.strip()),
        "purpose": purpose,
        "legal_basis": legal_basis,
        "valid_from": valid_from.date() if valid_from else today,
        "valid_until": valid_until.date() if valid_until else None,
        "consent": consent,
        "replaces": replaces,
    }
    target = folder / f"{chosen_id}.yaml"

    async def body() -> str:
        agreement = parse_agreement(document, "the access request")
        schema, version = await provider_schema(registry, agreement)
        found = review(agreement, schema, version)
        if found.problems:
            raise ConfigError(
                f"access request {agreement.id} cannot be drafted: " + "; ".join(found.problems),
                hint="ask for fields of the provider's registered schema (`bus catalogue` lists them), "
                "and check --provider and --type",
            )
        if target.exists():
            raise ConfigError(
                f"{target} already exists; not overwriting it", hint="choose another --output-dir or --id"
            )
        target.write_text(draft_yaml(agreement, requested_on=today))
        return render_review(found)

    summary = run(body())
    typer.echo(summary)
    console.print(f"[green]wrote the draft[/] {target}: send it to {provider}'s reviewer")


@app.command("review")
def review_file(
    file: Annotated[Path, typer.Argument(help="An agreement file (a draft request or an applied one).")],
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
) -> None:
    """Print what an agreement file would deliver, to whom, under which law, and its delivery schema."""

    async def body() -> str:
        agreement = load_agreement_file(file)
        schema, version = await provider_schema(registry, agreement)
        return render_review(review(agreement, schema, version))

    typer.echo(run(body()))
