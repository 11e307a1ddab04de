"""``bus acl export``: the broker ACLs the applied agreements call for, as a script or KafkaUsers."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bus.acl.render import kafka_acls_script, strimzi_users_yaml
from bus.acl.rules import AclRule, directory_publishers, rules_for
from bus.cli.options import Bootstrap, Profile, require_settings
from bus.cli.runner import fail, run
from bus.directory.view import AgencyDirectory
from bus.errors import BusError
from bus.event.topics import SystemTopic
from bus.kafka.client import BrokerProfile, KafkaSettings, read_to_end
from bus.policy.agreement import load_agreements
from bus.policy.agreements_view import AgreementsView

app = typer.Typer(help="Broker ACLs generated from the agreements.", no_args_is_help=True)


class AclFormat(StrEnum):
    KAFKA = "kafka"
    STRIMZI = "strimzi"


async def applied_rules(settings: KafkaSettings, publishers: list[str]) -> list[AclRule]:
    """Rules for the agreements in force on ``bus.agreements`` and the directory's signing agencies."""
    agreements = AgreementsView()
    for record in await read_to_end(settings, SystemTopic.AGREEMENTS):
        agreements.apply(record)
    directory = AgencyDirectory()
    for record in await read_to_end(settings, SystemTopic.AGENCIES):
        directory.apply(record)
    signing = directory_publishers(directory.entries())
    return rules_for(agreements.active.values(), sorted(signing | set(publishers)))


@app.command("export")
def export(
    fmt: Annotated[
        AclFormat, typer.Option("--format", help="kafka = kafka-acls.sh commands; strimzi = KafkaUser YAML.")
    ] = AclFormat.KAFKA,
    agreements: Annotated[
        Path | None,
        typer.Option(
            "--agreements",
            help="Read agreements from this folder instead of the applied ones on bus.agreements.",
            show_default=False,
        ),
    ] = None,
    publisher: Annotated[
        list[str] | None,
        typer.Option(
            "--publisher",
            help="Also let this agency publish its own changes (repeatable).",
            show_default=False,
        ),
    ] = None,
    cluster: Annotated[str, typer.Option(help="Strimzi Kafka cluster the users belong to.")] = "agency-bus",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.", show_default=False)
    ] = None,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Print the minimal ACLs: providers write ingress.<self>.*, consumers read deliver.<self>.*."""
    publishers = publisher or []
    try:
        if agreements is not None:
            rules = rules_for(load_agreements(agreements), publishers)
            source = f"agreements in {agreements}"
        else:
            settings = require_settings(bootstrap, profile)
            rules = run(applied_rules(settings, publishers))
            source = f"agreements applied on {settings.bootstrap}"
    except BusError as exc:
        fail(exc)
    if fmt is AclFormat.KAFKA:
        text = kafka_acls_script(rules, source=source)
    else:
        text = strimzi_users_yaml(rules, cluster=cluster, source=source)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"{len(rules)} ACL rules written to {output}", err=True)
