"""``bus acl export|diff|apply|sync``: the broker ACLs the applied agreements call for.

``export`` renders them for deploy/ (a script or Strimzi KafkaUsers); ``diff`` compares them with
what the broker enforces; ``apply`` makes the broker agree once; ``sync`` keeps it agreeing (on every
agreement or directory change and when an agreement starts or expires) until stopped.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bus.acl.render import kafka_acls_script, strimzi_users_yaml
from bus.acl.rules import AclRule, directory_publishers, rules_for
from bus.acl.sync import AclPlan, AclSync, applied, desired_rules, plan, reconcile, utc_today
from bus.cli.options import Bootstrap, Profile, require_settings
from bus.cli.runner import err_console, fail, run
from bus.cli.signals import stop_requested
from bus.errors import BusError, ConfigError
from bus.kafka.access import broker_acls
from bus.kafka.client import BrokerProfile, KafkaSettings
from bus.policy.agreement import load_agreements

app = typer.Typer(help="Broker ACLs generated from the agreements.", no_args_is_help=True)


class AclFormat(StrEnum):
    KAFKA = "kafka"
    STRIMZI = "strimzi"


async def applied_rules(settings: KafkaSettings, publishers: list[str]) -> list[AclRule]:
    """Rules for the agreements applied on ``bus.agreements`` and the directory's signing agencies."""
    agreements, directory = await applied(settings)
    signing = directory_publishers(directory.entries())
    return rules_for(agreements, sorted(signing | set(publishers)))


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


@app.command("diff")
def diff(bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """What the broker enforces against what the agreements in force today imply (+ missing, - extra)."""

    async def body() -> AclPlan:
        settings = _enforcing(require_settings(bootstrap, profile))
        agreements, directory = await applied(settings)
        return plan(desired_rules(agreements, directory, utc_today()), await broker_acls(settings))

    _show(run(body()), applied=False)


@app.command("apply")
def apply(bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """Make the broker's ACLs on the bus's topics and groups equal what the agreements imply."""
    settings = _enforcing(require_settings(bootstrap, profile))
    _show(run(reconcile(settings)), applied=True)


@app.command("sync")
def sync(bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """Keep the broker's ACLs equal to what the agreements imply until Ctrl-C (runs as bus.acl-sync)."""
    settings = _enforcing(require_settings(bootstrap, profile))

    async def body() -> None:
        with stop_requested() as stop:
            syncing = AclSync(settings)
            await syncing.start()
            try:
                err_console.print(f"keeping the ACLs of {settings.bootstrap} in step with the agreements")
                await syncing.run(stop)
            finally:
                await syncing.stop()

    run(body())


def _enforcing(settings: KafkaSettings) -> KafkaSettings:
    if not settings.authenticates:
        fail(
            ConfigError(
                f"the broker at {settings.bootstrap} authenticates nobody, so it can enforce no ACL",
                hint="on the tansu engine every local process may read and write every topic "
                "(docs/security.md); use Apache Kafka with SASL (bus up --engine kafka)",
            )
        )
    return settings


def _show(change: AclPlan, *, applied: bool) -> None:
    for sign, rules in (("+", change.add), ("-", change.remove)):
        for rule in sorted(rules):
            typer.echo(
                f"{sign} {rule.permission} {rule.principal} {rule.operation} "
                f"{rule.resource_type}:{rule.pattern}:{rule.name}"
            )
    verb = ("added", "removed") if applied else ("missing", "extra")
    err_console.print(f"{len(change.add)} {verb[0]}, {len(change.remove)} {verb[1]}")
