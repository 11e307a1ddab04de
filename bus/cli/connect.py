"""``bus connect csv``: publish what changed in a CSV/XLSX export since its last import."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bus.cli.options import DEFAULT_REGISTRY_URL, Bootstrap, Profile, RegistryUrl, require_settings
from bus.cli.runner import fail, run
from bus.errors import BusError, ConfigError
from bus.event.signing import private_key_from_pem
from bus.event.topics import agency_id, record_type
from bus.kafka.client import BrokerProfile
from bus.registry.client import RegistryClient
from bus.registry.subjects import SchemaCache
from connectors.files import ImportOptions, ImportSummary, SnapshotStore, import_file, load_mapping
from connectors.sdk import Publisher

app = typer.Typer(
    help="Publish changes from agency data sources (spreadsheets, databases).", no_args_is_help=True
)
console = Console()


@app.callback()
def connect() -> None:
    """Publish changes from agency data sources: spreadsheet exports (csv), databases."""


class MassDeleteWithheld(BusError):
    """More stored rows are missing from the file than the delete guard allows."""

    code = "mass_delete_withheld"


@app.command("csv")
def csv_import(
    file: Annotated[Path, typer.Argument(help="The export: .csv (UTF-8 or CP1251, ; or ,) or .xlsx.")],
    rtype: Annotated[str, typer.Option("--type", help="Record type, e.g. person.")],
    mapping: Annotated[Path, typer.Option(help="Mapping YAML: file columns → schema fields.")],
    agency: Annotated[str, typer.Option(envvar="BUS_AGENCY", help="Publishing agency id.")],
    key: Annotated[
        str | None, typer.Option("--key", help="Key field (default: the schema's identifier, e.g. iin).")
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="The agency's private key (bus agencies keygen); not for --dry-run.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show the diff; publish nothing.")] = False,
    allow_mass_delete: Annotated[
        bool, typer.Option("--allow-mass-delete", help="Publish deletions above --max-delete-share.")
    ] = False,
    max_delete_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Largest share of stored rows one import may delete.")
    ] = 0.5,
    feed: Annotated[
        str | None, typer.Option(help="Snapshot name (default <agency>/<type>); one per separate export.")
    ] = None,
    state: Annotated[Path | None, typer.Option(help="Snapshot store (default: beside the spool).")] = None,
    spool: Annotated[
        Path | None, typer.Option(help="Publisher spool (default bus-data/<agency>.files.spool.sqlite).")
    ] = None,
    system: Annotated[str, typer.Option(help="Source system name in ce_source.")] = "files",
    encoding: Annotated[str | None, typer.Option(help="Force the CSV encoding (default: detect).")] = None,
    delimiter: Annotated[str | None, typer.Option(help="Force the CSV delimiter (default: detect).")] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet (default: the first).")] = None,
    header_row: Annotated[int, typer.Option(min=1, help="Row holding the column headers.")] = 1,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Changes per spool commit.")] = 500,
    wait_s: Annotated[
        float, typer.Option(help="Wait this long for the broker to acknowledge everything (0 = no wait).")
    ] = 300.0,
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Diff the file against its last import; publish created, updated and deleted rows only."""
    spool_path = spool or Path("bus-data") / f"{agency}.files.spool.sqlite"
    state_path = state or spool_path.with_name(f"{agency}.files.snapshots.sqlite")
    options = ImportOptions(
        feed=feed or f"{agency}/{rtype}",
        key_field=key,
        dry_run=dry_run,
        allow_mass_delete=allow_mass_delete,
        max_delete_share=max_delete_share,
        batch_size=batch_size,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        header_row=header_row,
    )

    async def body() -> ImportSummary:
        agency_id(agency)
        record_type(rtype)
        file_mapping = load_mapping(mapping)
        if file_mapping.record_type not in (None, rtype):
            raise ConfigError(
                f"mapping {mapping} is for record type {file_mapping.record_type!r}, not {rtype!r}",
                hint="pass the matching --type or mapping",
            )
        async with RegistryClient(registry) as client:
            keep = spool_path.with_name(spool_path.name + ".schemas.json")
            spool_path.parent.mkdir(parents=True, exist_ok=True)
            schema = await SchemaCache(client, keep=keep).resolve(agency, rtype)
        with SnapshotStore(state_path) as store, _progress() as bar:
            task = bar.add_task(f"{file.name}", total=None)

            def progress(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=max(total, done) if total else None)

            if dry_run:
                return await import_file(
                    file, file_mapping, schema, rtype, store, None, options,
                    mapping_source=str(mapping), progress=progress,
                )  # fmt: skip
            if key_file is None:
                raise ConfigError("--key-file is required to publish", hint="or pass --dry-run to only look")
            settings = require_settings(bootstrap, profile)
            private_key = private_key_from_pem(key_file.read_bytes())
            async with Publisher(
                agency, system, private_key, bootstrap=settings, registry=registry, spool_path=spool_path
            ) as publisher:
                summary = await import_file(
                    file, file_mapping, schema, rtype, store, publisher, options,
                    mapping_source=str(mapping), progress=progress,
                )  # fmt: skip
                if wait_s > 0 and summary.published:
                    bar.update(task, description="waiting for the broker")
                    try:
                        await publisher.flush(timeout_s=wait_s)
                    except TimeoutError:
                        console.print(
                            f"[yellow]{publisher.depth()} changes are spooled but not yet acknowledged[/]; "
                            f"they are sent by the next run with --spool {spool_path}"
                        )
            return summary

    summary = run(body())
    show_summary(summary)
    if summary.deletions_withheld:
        fail(
            MassDeleteWithheld(
                f"{summary.deletions_withheld} of {summary.stored_before} stored {rtype} rows are missing "
                f"from {file}; more than {max_delete_share:.0%}, so no deletion was published",
                hint="if the export is complete, run again with --allow-mass-delete; "
                "otherwise re-export the whole register (creates and updates were published)",
            )
        )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def show_summary(summary: ImportSummary) -> None:
    """The diff counts, then the rejections grouped by column (the report has every line)."""
    verb = "would publish" if summary.dry_run else "published"
    where = f"{summary.file_format}"
    if summary.file_format == "csv":
        where += f", {summary.encoding}, delimiter {summary.delimiter!r}"
    elif summary.sheet:
        where += f", sheet {summary.sheet!r}"
    table = Table(title=f"{summary.source.name} ({where}) → feed {summary.feed}")
    for column in ("rows", "created", "updated", "deleted", "unchanged", "rejected", "rows/s"):
        table.add_column(column, justify="right")
    table.add_row(
        str(summary.rows),
        str(summary.created),
        str(summary.updated),
        str(summary.deleted)
        + (f" (+{summary.deletions_withheld} withheld)" if summary.deletions_withheld else ""),
        str(summary.unchanged),
        str(summary.rejected_rows),
        f"{summary.rows_per_s:,.0f}",
    )
    console.print(table)
    console.print(f"{verb} {summary.published} changes in {summary.elapsed_s:.1f} s")
    if summary.ignored_columns:
        console.print(f"columns not in the mapping (ignored): {', '.join(summary.ignored_columns)}")
    if summary.groups:
        rejected = Table("column", "field", "problems", "first row", "first reason", title="rejected rows")
        for group in summary.groups:
            rejected.add_row(
                group.column or "-", group.field, str(group.count), str(group.first_row), group.example
            )
        console.print(rejected)
        console.print(f"every rejected row, with its reason: {summary.report}")
