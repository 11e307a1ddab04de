"""The ``bus`` console script: the root Typer app and its command groups."""

from __future__ import annotations

import typer
from rich.console import Console

from bus import __version__
from bus.cli import (
    acl,
    agencies,
    agreements,
    audit,
    backfill,
    broker,
    catalogue,
    connect,
    connect_postgres,
    dlq,
    gateway,
    processor,
    publish,
    registry,
    report,
    schemas,
    subscribe,
    topics,
    up,
    webhooks,
)
from bus.cli.environment import warn_unknown_variables

app = typer.Typer(
    name="bus",
    help="agency-bus: publish a record change once; every entitled agency receives its fields.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(broker.app, name="broker")
app.add_typer(topics.app, name="topics")
app.add_typer(registry.app, name="registry")
app.add_typer(schemas.app, name="schemas")
app.add_typer(agencies.app, name="agencies")
app.add_typer(gateway.app, name="gateway")
app.add_typer(agreements.app, name="agreements")
app.add_typer(processor.app, name="processor")
app.add_typer(dlq.app, name="dlq")
app.add_typer(audit.app, name="audit")
connect.app.command("postgres")(connect_postgres.postgres)
app.add_typer(connect.app, name="connect")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(acl.app, name="acl")
app.add_typer(report.app, name="report")
app.command("publish")(publish.publish)
app.command("up")(up.up)
app.command("backfill")(backfill.backfill)
app.command("subscribe")(subscribe.subscribe)
app.command("catalogue")(catalogue.catalogue)
app.command("asyncapi")(catalogue.asyncapi)


@app.callback()
def _check_environment() -> None:
    """agency-bus: publish a record change once; every entitled agency receives its fields."""
    warn_unknown_variables(app)


@app.command("version")
def version() -> None:
    """Print the installed agency-bus version."""
    Console().print(f"agency-bus {__version__}")


def main() -> None:
    """Entry point of the ``bus`` console script."""
    app()
