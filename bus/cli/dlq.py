"""``bus dlq list|replay``: what a provider's dead-letter topic holds, and re-injection after a fix."""

from __future__ import annotations

from typing import Annotated

import typer
from aiokafka import ConsumerRecord
from rich.console import Console
from rich.table import Table

from bus.cli.options import Bootstrap, Profile, require_settings
from bus.cli.runner import run
from bus.event.dead_letter import DEAD_LETTER_HEADERS
from bus.event.topics import dlq
from bus.kafka.client import BrokerProfile, make_producer, read_to_end

app = typer.Typer(help="Inspect and replay dead letters.", no_args_is_help=True)
console = Console()
Provider = Annotated[str, typer.Argument(help="Provider agency id.")]


def dead_letter_table(records: list[ConsumerRecord[bytes, bytes]], columns: tuple[str, ...]) -> Table:
    """Offset, key, ce_id, the ``bus_dlq_<column>`` headers asked for, and the detail: one row each."""
    table = Table("offset", "key", "ce_id", *columns, "detail")
    for record in records:
        headers = {k: bytes(v).decode("utf-8", "replace") for k, v in record.headers}
        table.add_row(
            str(record.offset),
            (record.key or b"").decode("utf-8", "replace"),
            headers.get("ce_id", "-"),
            *(headers.get(f"bus_dlq_{column}", "-") for column in columns),
            headers.get("bus_dlq_detail", "")[:100],
        )
    return table


@app.command("list")
def list_dead_letters(
    provider: Provider, bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA
) -> None:
    """Every dead letter of a provider with its reason."""

    async def body() -> None:
        records = await read_to_end(require_settings(bootstrap, profile), dlq(provider))
        console.print(dead_letter_table(records, ("stage", "reason")))

    run(body())


@app.command("replay")
def replay(provider: Provider, bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """Re-inject every dead letter into its original topic, unchanged (same ce_id)."""

    async def body() -> None:
        settings = require_settings(bootstrap, profile)
        records = await read_to_end(settings, dlq(provider))
        producer = make_producer(settings)
        await producer.start()
        try:
            for record in records:
                headers = [(k, bytes(v)) for k, v in record.headers]
                topic = dict(headers).get("bus_dlq_topic")
                if topic is None:
                    continue
                original = [(k, v) for k, v in headers if k not in DEAD_LETTER_HEADERS]
                await producer.send_and_wait(
                    topic.decode(), key=record.key, value=record.value, headers=original
                )
        finally:
            await producer.stop()
        console.print(f"replayed {len(records)} dead letters of {provider}")

    run(body())
