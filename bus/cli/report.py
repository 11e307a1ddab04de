"""``bus report agencies``: the per-agency scorecard from the audit archive (docs/scorecard.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bus.audit.db import ArchiveStore
from bus.cli.options import DEFAULT_DATA_DIR, Bootstrap, DataDir, Profile, require_settings
from bus.cli.runner import run
from bus.kafka.client import BrokerProfile
from bus.policy.agreement import load_agreements
from bus.report.period import current_quarter, parse_period
from bus.report.render import ReportFormat, purpose_table, scorecard_csv, scorecard_json, scorecard_table
from bus.report.scorecard import scorecard_async
from bus.report.sources import read_agreements, read_directory

app = typer.Typer(help="Reports computed from the audit archive and the agreements.", no_args_is_help=True)
console = Console()


@app.callback()
def report() -> None:
    """Reports computed from the audit archive and the agreements (docs/scorecard.md)."""


@app.command("agencies")
def agencies(
    period: Annotated[
        str | None,
        typer.Option(
            help="2026-Q4, 2026-11 or 2026 (UTC; default: the current quarter).", show_default=False
        ),
    ] = None,
    output: Annotated[
        ReportFormat, typer.Option("--format", help="table, csv or json.")
    ] = ReportFormat.TABLE,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="BUS_AUDIT_DB_URL",
            help="The audit archive (default: sqlite:///<data-dir>/audit.sqlite).",
            show_default=False,
        ),
    ] = None,
    agreements: Annotated[
        Path | None,
        typer.Option(
            help="Read agreements from this folder instead of bus.agreements (then no broker is needed, "
            "and agencies are shown by id).",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Per agency: events, data quality, latency, deliveries, denials, agreements, paper, freshness."""

    async def body() -> None:
        now = dt.datetime.now(dt.UTC)
        chosen = parse_period(period) if period else current_quarter(now)
        names: dict[str, str] = {}
        if agreements is None or bootstrap:
            settings = require_settings(bootstrap, profile)
            names = await read_directory(settings)
            found = await read_agreements(settings, agreements)
        else:
            found = load_agreements(agreements)
        store = ArchiveStore(db or f"sqlite:///{data_dir / 'audit.sqlite'}")
        try:
            store.require_schema()
            card = await scorecard_async(store, chosen, names, found, now=now)
        finally:
            store.close()
        if output is ReportFormat.TABLE:  # twelve columns: piped output gets room rather than "…"
            wide = console if console.is_terminal else Console(width=200)
            wide.print(scorecard_table(card))
            wide.print(purpose_table(card))
        elif output is ReportFormat.CSV:
            typer.echo(scorecard_csv(card), nl=False)
        else:
            typer.echo(scorecard_json(card))

    run(body())
