"""``bus up``: the single-machine bus — broker, registry, gateway, processor — in one command."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from bus.acl.sync import AclSync
from bus.audit.archive import Archiver, ArchiveSettings
from bus.audit.read import read_audit
from bus.audit.watch import ChainWatch
from bus.broker.engine import Engine
from bus.broker.ports import free_port
from bus.cli.agreements import apply_folder
from bus.cli.broker import Tls, access_line, engine_line, exports, start_local, storage_line
from bus.cli.options import DEFAULT_DATA_DIR, Bootstrap, DataDir, EngineOption, Ephemeral, Profile
from bus.cli.runner import run
from bus.cli.signals import stop_requested
from bus.demo.akimat_export import import_akimat_export
from bus.demo.ending import show_scorecard, show_wallet
from bus.demo.portal_receiver import PortalReceiver
from bus.demo.scenario import CITIZEN, Step, run_scenario
from bus.directory.keys import ensure_service_key
from bus.directory.model import PROCESSOR_IDENTITY, WEBHOOKS_IDENTITY, WebhookEntry
from bus.directory.tokens import new_token
from bus.event import topics
from bus.gateway.service import GatewayService, GatewaySettings
from bus.http.ops import Check, OpsServer
from bus.kafka.client import BrokerProfile, KafkaSettings, create_system_topics, create_topics
from bus.metrics import EVENTS_INGESTED
from bus.processor.service import Processor, ProcessorSettings
from bus.registry.catalogue import apply_catalogue
from bus.registry.client import RegistryClient
from bus.registry.service import RegistryService, RegistrySettings
from bus.report.gauges import ScorecardGauges
from bus.run.environment import operator_token
from bus.run.supervise import Component, Served, Supervisor
from bus.wallet.materialise import WalletMaterialiser, WalletSettings, name_the_wallet
from bus.webhooks.dispatcher import WebhookDispatcher, WebhookSettings

console = Console()
SOURCE_TREE = Path(__file__).resolve().parents[2]


def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Run the citizen-moves-house scenario and show it.")
    ] = False,
    broker_port: Annotated[int | None, typer.Option(help="Local broker port.")] = None,
    registry_port: Annotated[int, typer.Option(help="Schema registry port.")] = 8081,
    api_port: Annotated[int, typer.Option(help="Gateway (HTTP ingestion, tracker) port.")] = 8080,
    ops_port: Annotated[
        int, typer.Option(help="Health (/healthz, /readyz) and Prometheus /metrics of the whole bus.")
    ] = 9100,
    schemas: Annotated[Path, typer.Option(help="Canonical schemas folder.")] = SOURCE_TREE / "schemas",
    agreements: Annotated[Path, typer.Option(help="Agreements folder.")] = SOURCE_TREE
    / "deploy"
    / "agreements",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    ephemeral: Ephemeral = False,
    bootstrap: Bootstrap = None,
    profile: Profile = BrokerProfile.KAFKA,
    engine: EngineOption = Engine.AUTO,
    tls: Tls = False,
) -> None:
    """Start the bus on this machine and keep it running until Ctrl-C."""

    async def body() -> None:
        async with AsyncExitStack() as stack:
            stop = stack.enter_context(stop_requested())
            if bootstrap:
                settings = KafkaSettings(bootstrap=bootstrap, broker_profile=profile)
                where, storage = f"external cluster at {bootstrap}", "storage: the cluster's own"
                access = (
                    f"access: as the cluster enforces it (logged in as {settings.sasl_username or 'nobody'})"
                )
            else:
                choice, broker = start_local(engine, broker_port, data_dir, ephemeral, tls=tls)
                await stack.enter_async_context(broker)
                settings = broker.settings()
                where = engine_line(choice, broker)
                storage = storage_line(broker)
                access = access_line(broker)
            await create_system_topics(settings)
            given_token = operator_token()
            token = given_token or new_token()
            registry_url = f"http://127.0.0.1:{registry_port}"
            local = Path(tempfile.mkdtemp(prefix="bus-local-")) if ephemeral or bootstrap else data_dir
            audit_db = f"sqlite:///{local / 'audit.sqlite'}"
            audit_key = local / "audit-key.pem"
            supervisor = Supervisor(_report)
            stack.push_async_callback(supervisor.wait)  # unwinds after stop.set below, before the broker
            stack.callback(stop.set)

            def registry() -> Component:
                return Served(
                    RegistryService(settings, RegistrySettings(port=registry_port, operator_token=token))
                )

            await supervisor.launch("registry", registry, stop)
            async with RegistryClient(registry_url, token=token) as client:
                applied = await apply_catalogue(client, schemas)
            # ingress topics exist before anyone publishes: an auto-created topic would get the
            # broker's default partition count and break co-partitioning with state topics
            await create_topics(
                settings, [topics.spec_for(e.subject.removesuffix("-value")) for e, _ in applied]
            )
            added, changed, revoked, _ = await apply_folder(settings, registry_url, agreements)

            def archiver() -> Component:
                return Archiver(
                    settings, ArchiveSettings(db_url=audit_db, registry_url=registry_url, key_file=audit_key)
                )

            def gateway() -> Component:
                gateway_settings = GatewaySettings(
                    port=api_port,
                    registry_url=registry_url,
                    key_file=local / "gateway-key.pem",
                    audit_db_url=audit_db,
                    operator_token=token,
                    wallet_secret_file=local / "wallet-secret",
                )
                return Served(GatewayService(settings, gateway_settings))

            processor_key, webhooks_key = local / "processor-key.pem", local / "webhooks-key.pem"
            await ensure_service_key(settings, processor_key, PROCESSOR_IDENTITY)
            await ensure_service_key(settings, webhooks_key, WEBHOOKS_IDENTITY)

            def processor() -> Component:
                # one stable worker slot: a restart aborts the crashed worker's open transaction at once
                worker = ProcessorSettings(
                    registry_url=registry_url, operator_token=token, instance="up", signing_key=processor_key
                )
                return Processor(settings, worker)

            def webhooks() -> Component:
                return WebhookDispatcher(
                    settings, WebhookSettings(registry_url=registry_url, signing_key=webhooks_key)
                )

            def chain_watch() -> Component:
                return ChainWatch(settings, audit_db, audit_key)

            await name_the_wallet(settings)

            def wallet() -> Component:
                return WalletMaterialiser(
                    settings, WalletSettings(db_url=audit_db, registry_url=registry_url)
                )

            def scorecard() -> Component:
                return ScorecardGauges(settings, audit_db)

            def acl_sync() -> Component:
                return AclSync(settings)

            # ACLs first where the broker enforces them (every agency's grant follows its agreements);
            # then the archiver: it creates the archive that the gateway's tracker reads
            components = [("acl-sync", acl_sync)] if settings.authenticates else []
            for name, make in (
                *components,
                ("archiver", archiver),
                ("gateway", gateway),
                ("processor", processor),
                ("webhooks", webhooks),
                ("audit-verify", chain_watch),
                ("wallet", wallet),
                ("scorecard", scorecard),
            ):
                await supervisor.launch(name, make, stop)
            checks = {c.name: _component_check(supervisor, c.name) for c in supervisor.components}
            checks["processor"] = _processor_check(supervisor)
            await supervisor.launch(
                "ops", lambda: Served(OpsServer(checks, host="127.0.0.1", port=ops_port)), stop
            )

            token_line = (
                "operator token: from BUS_OPERATOR_TOKEN"
                if given_token
                else f"operator token (generated; set BUS_OPERATOR_TOKEN to choose): {token}"
            )
            console.print(
                Panel.fit(
                    f"broker:     {where}\n"
                    f"registry:   {registry_url} ({len(applied)} subjects from {schemas})\n"
                    f"gateway:    http://127.0.0.1:{api_port} (POST /v1/events/{{type}}, "
                    "/v1/audit/subjects/{key}, /v1/consent, /tracker/{key})\n"
                    f"catalogue:  http://127.0.0.1:{api_port}/catalogue?token=<an agency token>, "
                    "GET /v1/catalogue, /v1/agencies/{id}/asyncapi.yaml; bus catalogue, bus asyncapi\n"
                    f"processor:  running; agreements {len(added)} added, {len(changed)} changed, "
                    f"{len(revoked)} revoked from {agreements}\n"
                    "webhooks:   dispatching to agencies registered with `bus webhooks add`\n"
                    f"audit:      archived to {audit_db}, chain re-verified every minute\n"
                    "wallet:     deliver.wallet.* kept per citizen (GET /v1/wallet/{iin}/records); "
                    "scorecard: GET /v1/reports/agencies, bus report agencies\n"
                    f"operations: http://127.0.0.1:{ops_port}/metrics, /healthz, /readyz\n"
                    f"{token_line}\n{exports(settings)} BUS_REGISTRY_URL={registry_url}",
                    title="agency-bus is up",
                )
            )
            console.print(storage)
            console.print(access)
            if demo:
                # the demo's spools live with the data, so a second run continues each key's sequence
                demo_dir = None if ephemeral or bootstrap else data_dir / "demo"
                portal = PortalReceiver(free_port())
                await supervisor.launch("portal (demo)", lambda: Served(portal), stop)
                webhook = WebhookEntry(url=portal.url, secret=portal.secret)
                steps = await run_scenario(settings, registry_url, demo_dir, portal_webhook=webhook)
                entries = await _decisions(settings, registry_url, steps)
                show_decisions(steps, entries)
                await _show_portal(portal, entries)
                akimat_dir = (demo_dir or Path(tempfile.mkdtemp(prefix="bus-demo-"))) / "akimat"
                akimat = await import_akimat_export(settings, registry_url, akimat_dir)
                console.print(
                    f"akimat land register (XLSX export, {akimat_dir}): {akimat.created} created, "
                    f"{akimat.updated} updated, {akimat.deleted} deleted, "
                    f"{akimat.rejected_rows} rows rejected (a second run publishes only what changed)"
                )
                await show_scorecard(settings, audit_db, [e["event_id"] for e in entries])
                await show_wallet(f"http://127.0.0.1:{api_port}", token, CITIZEN["iin"], steps)
            console.print("press Ctrl-C to stop")
            await _status_until(stop, supervisor)
            console.print("stopping…")

    run(body())


async def _show_portal(portal: PortalReceiver, entries: list[dict[str, Any]]) -> None:
    """The portal has no Kafka: show that its deliveries arrived as verified webhooks."""
    expected = sum(1 for e in entries if e["consumer"] == "egov-portal" and e["decision"] == "DELIVERED")
    for _ in range(100):
        if len(portal.received) >= expected:
            break
        await asyncio.sleep(0.1)
    console.print(
        f"egov-portal (no Kafka) received {len(portal.received)} of {expected} updates as signed webhooks "
        f"at {portal.url}; signatures verified, {portal.rejected} rejected"
    )


def _report(component: str, what: str) -> None:
    console.print(f"[yellow]{component}[/]: {what}")


def _component_check(supervisor: Supervisor, name: str) -> Check:
    async def check() -> tuple[bool, str]:
        found = next(c for c in supervisor.components if c.name == name)
        error = f", last error: {found.last_error}" if found.last_error else ""
        return found.state == "running", f"{found.state}, {found.restarts} restarts{error}"

    return check


def _processor_check(supervisor: Supervisor) -> Check:
    async def check() -> tuple[bool, str]:
        current = supervisor.current("processor")
        if not isinstance(current, Processor):
            return False, "not running"
        return await current.ready()

    return check


async def _status_until(stop: asyncio.Event, supervisor: Supervisor) -> None:
    """On a terminal, one live status panel (components, restarts, events/s) until Ctrl-C."""
    if not console.is_terminal:
        await stop.wait()
        return
    last = _ingested()
    with Live(console=console, refresh_per_second=1) as live:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            now = _ingested()
            rate, last = now - last, now
            states = "  ".join(
                f"{c.name}: {c.state}" + (f" ({c.restarts} restarts)" if c.restarts else "")
                for c in supervisor.components
            )
            live.update(Panel.fit(f"{states}\nevents/s: {rate:,.0f}", title="status"))


def _ingested() -> float:
    samples = (s for metric in EVENTS_INGESTED.collect() for s in metric.samples)
    return sum(s.value for s in samples if s.name.endswith("_total"))


async def _decisions(settings: KafkaSettings, registry_url: str, steps: list[Step]) -> list[dict[str, Any]]:
    """The audit entries of the scenario's events, once every event has been decided on."""
    wanted = {event_id for step in steps for event_id in step.event_ids}
    entries: list[dict[str, Any]] = []
    for _ in range(100):
        entries = [e for e in await read_audit(settings, registry_url) if e["event_id"] in wanted]
        if {e["event_id"] for e in entries} == wanted:
            await asyncio.sleep(0.5)  # the rest of the last batch's entries
            return [e for e in await read_audit(settings, registry_url) if e["event_id"] in wanted]
        await asyncio.sleep(0.2)
    return entries


def show_decisions(steps: list[Step], entries: list[dict[str, Any]]) -> None:
    """One row per decision, grouped by scenario step, plus the paper certificates avoided."""
    table = Table(
        "step", "agency", "decision", "fields sent / reason", "legal basis", title="who received what"
    )
    for number, step in enumerate(steps, 1):
        for entry in (e for e in entries if e["event_id"] in step.event_ids):
            decided = entry["decision"].lower()
            detail = ", ".join(entry["fields"]) if decided == "delivered" else entry["reason"] or ""
            colour = "green" if decided == "delivered" else "red"
            table.add_row(
                f"{number}. {step.title}",
                entry["consumer"] or "-",
                f"[{colour}]{decided}[/]",
                detail,
                (entry["legal_basis"] or "")[:60],
            )
    console.print(table)
    avoided = Counter(e["replaces"] for e in entries if e["decision"] == "DELIVERED" and e["replaces"])
    console.print(
        f"paper certificates avoided so far: {sum(avoided.values())} "
        + ", ".join(f"{name} x{count}" for name, count in avoided.items())
    )
