"""``bus subscribe <agreement>``: an agreement's decoded updates, for operators and demos.

It peeks (no consumer group, no acks), so looking never moves the receiving agency's own position.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bus.cli.options import DEFAULT_REGISTRY_URL, Bootstrap, Profile, RegistryUrl, Token, require_settings
from bus.cli.runner import run
from bus.kafka.client import BrokerProfile
from bus.processor.backfill_request import active_agreement
from bus.run.environment import operator_token
from bus.subscriber import Subscriber, Undeliverable, Update

console = Console()


def subscribe(
    agreement: Annotated[str, typer.Argument(help="Agreement id whose deliveries to show.")],
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing new updates until Ctrl-C.")] = False,
    agency: Annotated[
        str | None, typer.Option("--agency", help="Receiving agency (default: the agreement's consumer).")
    ] = None,
    token: Token = None,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
) -> None:
    """Print an agreement's updates as a table: subject, kind, changed fields and the projected record.

    On Apache Kafka it logs in as BUS_SASL_USERNAME (an agency's Kafka login) or, with BUS_KEYRING, as the
    operator; the broker's ACLs decide what it may read.
    """
    settings = require_settings(bootstrap, profile)
    if not token and not settings.authenticates:
        raise typer.BadParameter(
            "this broker authenticates nobody: give the agency's token or the operator token "
            "(--token / BUS_TOKEN)"
        )

    async def body() -> None:
        consumer = agency or (await active_agreement(settings, agreement)).consumer
        with tempfile.TemporaryDirectory(prefix="bus-subscribe-") as scratch:
            async with Subscriber(
                consumer,
                token,
                bootstrap=settings,
                registry=registry,
                store_path=Path(scratch) / "peek.sqlite",
                operator_token=operator_token(),
            ) as subscriber:
                shown = 0
                async for item in subscriber.peek(agreement, follow=follow):
                    console.print(_row(item, header=shown == 0))
                    shown += 1
                if shown == 0:
                    console.print(f"no updates on {subscriber.topic_for(agreement)} yet")

    try:
        run(body())
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def _row(item: Update | Undeliverable, *, header: bool) -> Table:
    table = Table("time", "subject", "kind", "changed", "record / error", show_header=header, box=None)
    if isinstance(item, Undeliverable):
        table.add_row("-", item.key or "-", "[red]error[/]", item.reason, item.detail[:120])
    else:
        record = json.dumps(item.record, ensure_ascii=False, default=str) if item.record else "(deleted)"
        changed = ",".join(item.changed) or "-"
        table.add_row(item.event_time.isoformat(timespec="seconds"), item.subject, item.kind, changed, record)
    return table
