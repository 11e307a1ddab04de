"""``bus topics list|create``: topics named and configured by the rules of DESIGN §2."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bus.cli.options import Bootstrap, Profile, require_settings
from bus.cli.runner import run
from bus.errors import TopicNameError
from bus.event import topics as naming
from bus.kafka.client import BrokerProfile, ensure_topics, make_admin

app = typer.Typer(help="List and create bus topics.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_topics(bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """List topics with their partition count and bus kind."""

    async def body() -> None:
        admin = make_admin(require_settings(bootstrap, profile))
        await admin.start()
        try:
            described = await admin.describe_topics()
        finally:
            await admin.close()
        table = Table("topic", "kind", "partitions")
        for topic in sorted(described, key=lambda t: t["topic"]):
            try:
                kind = naming.parse(topic["topic"]).kind.value
            except TopicNameError:
                kind = "(not a bus topic)"
            table.add_row(topic["topic"], kind, str(len(topic["partitions"])))
        console.print(table)

    run(body())


@app.command("create")
def create(
    names: Annotated[list[str], typer.Argument(help="Topic names, e.g. ingress.civil-registry.person")],
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Create topics (idempotent) with the partitions and cleanup policy their kind needs."""

    async def body() -> None:
        settings = require_settings(bootstrap, profile)
        specs = [naming.spec_for(name) for name in names]
        admin = make_admin(settings)
        await admin.start()
        try:
            created = await ensure_topics(admin, specs, replication_factor=settings.replication_factor)
        finally:
            await admin.close()
        for spec in specs:
            verb = "created" if spec.name in created else "exists "
            policy = spec.configs.get("cleanup.policy", "delete")
            console.print(f"{verb} {spec.name} ({spec.partitions} partitions, {policy})")

    run(body())
