"""``bus audit archive|verify|subject``: the tamper-evident SQL archive of ``bus.audit``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bus.audit.archive import Archiver, ArchiveSettings
from bus.audit.chain import ArchivedEntry
from bus.audit.db import ArchiveStore
from bus.audit.entry import Decision
from bus.audit.keys import load_trusted_keys, public_key_path
from bus.audit.query import RECEIPTED, SubjectQuery, subject_entries
from bus.audit.verify import VerifyReport, verify_archive
from bus.cli.ops import OpsHost, OpsPort, ops_endpoints
from bus.cli.options import (
    DEFAULT_DATA_DIR,
    DEFAULT_REGISTRY_URL,
    Bootstrap,
    DataDir,
    Profile,
    RegistryUrl,
    require_settings,
)
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.event.topics import SystemTopic
from bus.kafka.client import BrokerProfile

app = typer.Typer(help="Archive bus.audit to SQL with hash chains, and verify them.", no_args_is_help=True)
console = Console()

Db = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="BUS_AUDIT_DB_URL",
        help="SQLAlchemy URL of the archive (default: sqlite:///<data-dir>/audit.sqlite); "
        "PostgreSQL: postgresql+psycopg2://user:password@host/db.",
        show_default=False,
    ),
]
AuditTopic = Annotated[str, typer.Option("--topic", hidden=True, help="Audit topic to archive.")]
CheckpointTopic = Annotated[str, typer.Option("--checkpoint-topic", hidden=True, help="Checkpoint topic.")]


def _db_url(db: str | None, data_dir: Path) -> str:
    return db or f"sqlite:///{data_dir / 'audit.sqlite'}"


async def _archiving() -> tuple[bool, str]:
    return True, "archiving"


@app.command("archive")
def archive(
    db: Db = None,
    checkpoint_every: Annotated[
        int, typer.Option(min=1, help="Publish a signed checkpoint per partition every N entries.")
    ] = 10_000,
    key: Annotated[
        Path | None,
        typer.Option(
            help="Checkpoint signing key (PEM; created with its .pub if missing).", show_default=False
        ),
    ] = None,
    group: Annotated[str, typer.Option(help="Consumer group that holds the committed offsets.")] = (
        "bus-audit-archiver"
    ),
    max_batch: Annotated[int, typer.Option(min=1, help="Entries per SQL transaction at most.")] = 5000,
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
    topic: AuditTopic = SystemTopic.AUDIT.value,
    checkpoint_topic: CheckpointTopic = SystemTopic.AUDIT_CHECKPOINTS.value,
    ops_host: OpsHost = "127.0.0.1",
    ops_port: OpsPort = 8084,
) -> None:
    """Archive bus.audit into SQL until Ctrl-C; a final checkpoint is published on the way out."""

    async def body() -> None:
        settings = ArchiveSettings(
            db_url=_db_url(db, data_dir),
            registry_url=registry,
            key_file=key or data_dir / "audit-key.pem",
            group_id=group,
            checkpoint_every=checkpoint_every,
            max_batch=max_batch,
            topic=topic,
            checkpoint_topic=checkpoint_topic,
        )
        archiver = Archiver(require_settings(bootstrap, profile), settings)
        with stop_requested() as stop:
            await archiver.start()
            try:
                console.print(
                    f"audit archiver ready ({archiver.store.url}, key {archiver.key_id}, "
                    f"public key in {public_key_path(settings.key_file)})"
                )
                async with ops_endpoints({"archiver": _archiving}, host=ops_host, port=ops_port):
                    await archiver.run(stop)
            finally:
                await archiver.stop()
                console.print(
                    f"audit archiver stopped after {archiver.archived} entries, "
                    f"{archiver.checkpoints} checkpoints"
                )

    run(body())


@app.command("verify")
def verify(
    db: Db = None,
    since: Annotated[
        dt.datetime | None,
        typer.Option(
            "--from",
            help="Start each partition at its newest checkpoint signed at or before this time (UTC) "
            "instead of at its first row.",
            show_default=False,
        ),
    ] = None,
    trusted_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--trusted-key",
            help="Public key file(s) of the archiver (default: <data-dir>/audit-key.pub). "
            "Never taken from the checkpoint topic.",
            show_default=False,
        ),
    ] = None,
    chain_only: Annotated[
        bool,
        typer.Option(help="Skip the signed checkpoints (then a recomputed rewrite is NOT detected)."),
    ] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
    topic: AuditTopic = SystemTopic.AUDIT.value,
    checkpoint_topic: CheckpointTopic = SystemTopic.AUDIT_CHECKPOINTS.value,
) -> None:
    """Recompute every chain and compare it with the signed checkpoints; exit 1 on the first break."""

    async def body() -> VerifyReport:
        kafka = None if chain_only else require_settings(bootstrap, profile)
        trusted = {} if chain_only else load_trusted_keys(trusted_key or [data_dir / "audit-key.pub"])
        store = ArchiveStore(_db_url(db, data_dir))
        try:
            return await verify_archive(
                store,
                kafka,
                trusted,
                audit_topic=topic,
                checkpoint_topic=checkpoint_topic,
                since=since,
            )
        finally:
            store.close()

    report = run(body())
    _print_report(report, chain_only=chain_only)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: VerifyReport, *, chain_only: bool) -> None:
    table = Table("partition", "rows", "offsets", "checkpoints", "rows after last checkpoint", "result")
    for p in report.partitions:
        offsets = "-" if p.first_offset is None else f"{p.first_offset}..{p.last_offset}"
        result = "[green]ok[/]" if p.ok else f"[red]{p.broken.kind if p.broken else ''}[/]"
        table.add_row(
            str(p.partition), str(p.rows), offsets, str(p.checkpoints), str(p.unanchored_rows), result
        )
    console.print(table)
    for broken in report.breaks:
        console.print(
            f"[bold red]BROKEN[/] partition {broken.partition} offset {broken.offset}: {broken.kind}\n"
            f"  expected {broken.expected}\n  found    {broken.found}\n  {broken.detail}"
        )
    if report.ok:
        note = " (chains only: checkpoints not checked)" if chain_only else ""
        console.print(
            f"[bold green]OK[/] {report.rows} rows in {len(report.partitions)} partitions, "
            f"{sum(p.checkpoints for p in report.partitions)} signed checkpoints matched{note}"
        )


def _disclosure(entry: ArchivedEntry, now: dt.datetime) -> str:
    """Delayed disclosure as the operator needs it: hidden until when, why, under which law."""
    if entry.hidden_until is None:
        return "-"
    state = "hidden" if entry.hidden_until > now else "shown"
    until = f"{entry.hidden_until:%Y-%m-%d %H:%M} UTC"
    return f"{state} until {until}: {entry.hidden_reason} ({entry.hidden_legal_basis})"


def _received(at: dt.datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if at else "not yet"


@app.command("subject")
def subject(
    key: Annotated[str, typer.Argument(help="Record key of the subject, e.g. a citizen's IIN.")],
    db: Db = None,
    agency: Annotated[str | None, typer.Option(help="Only entries this agency provided or received.")] = None,
    consumer: Annotated[str | None, typer.Option(help="Only entries about this consumer.")] = None,
    decision: Annotated[Decision | None, typer.Option(help="Only this decision.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Entries to show.")] = 50,
    as_citizen: Annotated[
        bool,
        typer.Option(
            "--as-citizen",
            help="Show what the person sees (the portal's view): entries under delayed disclosure are left "
            "out until due.",
        ),
    ] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Who received what about a subject, when and under which law (newest first)."""

    async def body() -> None:
        store = ArchiveStore(_db_url(db, data_dir))
        try:
            store.require_schema()
            now = dt.datetime.now(dt.UTC)
            query = SubjectQuery(
                key,
                consumer=consumer,
                decision=decision,
                agency=agency,
                limit=limit,
                visible_at=now if as_citizen else None,
            )
            page = await subject_entries(store, query)
        finally:
            store.close()
        table = Table(
            "time", "decision", "provider", "consumer", "fields", "purpose", "legal basis", "disclosure",
            "received",
        )  # fmt: skip
        for e in page.entries:
            table.add_row(
                e.time.isoformat(timespec="seconds"),
                e.decision.value + (f" ({e.reason})" if e.reason else ""),
                e.provider,
                e.consumer or "-",
                ", ".join(e.fields),
                (e.purpose or "-") + (f" [{e.purpose_code}]" if e.purpose_code else ""),
                e.legal_basis or "-",
                _disclosure(e, now),
                _received(page.received_at(e)) if e.decision in RECEIPTED else "",
            )
        console.print(table)

    run(body())
