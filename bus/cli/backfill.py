"""``bus backfill <agreement>``: deliver current state to an agreement, with a live progress bar."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from bus.cli.options import Bootstrap, Profile, require_settings
from bus.cli.runner import run
from bus.kafka.client import BrokerProfile
from bus.processor.backfill_request import BackfillStatus
from bus.processor.backfill_request import backfill as request_backfill

console = Console()


class _Rate(ProgressColumn):
    """Records scanned per second (Rich's own speed column formats bytes)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "-/s")


def backfill(
    agreement: Annotated[str, typer.Argument(help="Id of an active agreement.")],
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
    timeout_s: Annotated[float, typer.Option("--timeout", help="Give up after this many seconds.")] = 3600.0,
) -> None:
    """Snapshot every current record of the agreement's provider through the live policy (safe to re-run)."""
    settings = require_settings(bootstrap, profile)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("delivered {task.fields[delivered]} · denied {task.fields[denied]}"),
        _Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"backfill {agreement}", total=None, delivered=0, denied=0)

        def show(status: BackfillStatus) -> None:
            progress.update(
                task,
                total=status.total if status.partitions_done or status.total else None,
                completed=status.scanned,
                delivered=status.delivered,
                denied=status.denied,
            )

        final = run(request_backfill(settings, agreement, on_progress=show, timeout_s=timeout_s))
    console.print(
        f"backfill of {agreement}: scanned {final.scanned}, delivered {final.delivered}, "
        f"denied {final.denied} (request {final.request})"
    )
