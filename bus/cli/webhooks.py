"""``bus webhooks add|list|remove|parked|replay|run``: webhook delivery for agencies without Kafka."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bus.cli.dlq import dead_letter_table
from bus.cli.ops import OpsHost, OpsPort, ops_endpoints
from bus.cli.options import DEFAULT_REGISTRY_URL, Bootstrap, Profile, RegistryUrl, require_settings
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.directory.model import WebhookEntry
from bus.directory.view import current_directory
from bus.errors import ConfigError
from bus.event.topics import dlq_webhook
from bus.kafka.client import BrokerProfile, make_producer, read_to_end
from bus.webhooks.dispatcher import WebhookDispatcher, WebhookSettings
from bus.webhooks.message import new_secret
from bus.webhooks.registration import check_secret, check_url, remove_webhook, set_webhook

app = typer.Typer(
    help="Deliver updates to agencies' HTTPS endpoints (Standard Webhooks).", no_args_is_help=True
)
console = Console()
Agency = Annotated[str, typer.Argument(help="Receiving agency id, e.g. tax.")]


@app.command("add")
def add(
    agency: Agency,
    url: Annotated[str, typer.Argument(help="Endpoint that receives POSTs, e.g. https://tax.example/bus.")],
    secret: Annotated[
        str | None,
        typer.Option(help="Standard Webhooks secret (whsec_…); generated and printed once if omitted."),
    ] = None,
    horizon: Annotated[
        float | None,
        typer.Option(
            help="Seconds to keep retrying one update before parking it (default: the dispatcher's)."
        ),
    ] = None,
    allow_http: Annotated[
        bool, typer.Option("--allow-http", help="Accept a plain http:// URL that is not loopback.")
    ] = False,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
) -> None:
    """Register (or replace) an agency's webhook; its deliveries are then POSTed by `bus webhooks run`."""

    async def body() -> None:
        settings = require_settings(bootstrap, profile)
        check_url(agency, url, allow_http=allow_http)
        chosen = check_secret(agency, secret) if secret else new_secret()
        if horizon is not None and horizon <= 0:
            raise ConfigError(
                f"--horizon for agency {agency!r} must be positive", hint="e.g. --horizon 86400"
            )
        await set_webhook(settings, agency, WebhookEntry(url=url, secret=chosen, horizon_s=horizon))
        console.print(f"webhook of [bold]{agency}[/] saved: {url}")
        if secret is None:
            console.print("its signing secret (shown once; give it to the receiver):")
            print(chosen)

    run(body())


@app.command("list")
def list_webhooks(bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """Agencies with a webhook (secrets are never shown)."""

    async def body() -> None:
        table = Table("agency", "url", "horizon")
        for entry in (await current_directory(require_settings(bootstrap, profile))).entries():
            if entry.webhook is not None:
                horizon = f"{entry.webhook.horizon_s:g} s" if entry.webhook.horizon_s else "default"
                table.add_row(entry.id, entry.webhook.url, horizon)
        console.print(table)

    run(body())


@app.command("remove")
def remove(agency: Agency, bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """Stop POSTing an agency's deliveries (they stay on its delivery topics)."""

    async def body() -> None:
        removed = await remove_webhook(require_settings(bootstrap, profile), agency)
        console.print(f"webhook of [bold]{agency}[/] removed" if removed else f"{agency} had no webhook")

    run(body())


@app.command("parked")
def parked(agency: Agency, bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """Updates parked on dlq.webhook.<agency>, with why."""

    async def body() -> None:
        records = await read_to_end(require_settings(bootstrap, profile), dlq_webhook(agency))
        console.print(dead_letter_table(records, ("reason", "status", "attempts")))

    run(body())


@app.command("replay")
def replay(agency: Agency, bootstrap: Bootstrap = None, profile: Profile = BrokerProfile.KAFKA) -> None:
    """Put every parked update back on its delivery topic, unchanged (same ce_id = same webhook-id)."""

    async def body() -> None:
        settings = require_settings(bootstrap, profile)
        records = await read_to_end(settings, dlq_webhook(agency))
        producer = make_producer(settings)
        await producer.start()
        replayed = 0
        try:
            for record in records:
                headers = [(k, bytes(v)) for k, v in record.headers]
                topic = dict(headers).get("bus_dlq_topic")
                if topic is None:
                    continue
                original = [(k, v) for k, v in headers if not k.startswith("bus_dlq_")]
                await producer.send_and_wait(
                    topic.decode(), key=record.key, value=record.value, headers=original
                )
                replayed += 1
        finally:
            await producer.stop()
        console.print(f"replayed {replayed} parked updates of {agency}; receivers deduplicate on webhook-id")

    run(body())


async def _running() -> tuple[bool, str]:
    return True, "dispatching"


@app.command("run")
def run_dispatcher(
    group: Annotated[str, typer.Option(help="Consumer group of the dispatchers.")] = "bus-webhooks",
    registry: RegistryUrl = DEFAULT_REGISTRY_URL,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
    ops_host: OpsHost = "127.0.0.1",
    ops_port: OpsPort = 8083,
    signing_key: Annotated[
        Path | None,
        typer.Option(
            help="PEM key registered under bus.webhooks that receipts of accepted deliveries are signed "
            "with (else BUS_WEBHOOKS_SIGNING_KEY; none: no receipts); `bus agencies keygen bus.webhooks`."
        ),
    ] = None,
) -> None:
    """POST deliveries to every registered webhook until Ctrl-C (other knobs: BUS_WEBHOOKS_* variables)."""

    async def body() -> None:
        settings = WebhookSettings(group_id=group, registry_url=registry)
        if signing_key:  # else BUS_WEBHOOKS_SIGNING_KEY, if set
            settings = settings.model_copy(update={"signing_key": signing_key})
        dispatcher = WebhookDispatcher(require_settings(bootstrap, profile), settings)
        with stop_requested() as stop:
            await dispatcher.start()
            try:
                async with ops_endpoints({"webhooks": _running}, host=ops_host, port=ops_port):
                    console.print(f"webhook dispatcher ready (group {group}, registry {registry})")
                    await dispatcher.run(stop)
            finally:
                await dispatcher.stop()
                counts = f"{dispatcher.delivered} delivered, {dispatcher.parked} parked"
                console.print(f"webhook dispatcher stopped: {counts}")

    run(body())
