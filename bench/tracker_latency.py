"""Decision → visible in the citizen tracker: from the processor's decision to the entry returned by
``GET /v1/audit/subjects/{key}`` (goal DESIGN §10: p99 < 1 s).

One machine, everything real and in-process: embedded broker, registry, processor, archiver
(SQLite), gateway on a port. Events for distinct people are published at a steady rate; for each,
a poller asks the gateway every ``poll_s`` until the entry appears. Latency = time first returned
minus the entry's ``when`` (the processor's decision time; same clock), so it includes the audit
produce, the archiver's fetch and SQL commit, and the gateway's query and audited read. The
polling interval bounds the measurement error (it can only add).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
from collections.abc import Sequence
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.inprocess import in_process_bus
from bench.publish import SCHEMA, people
from bus.audit.archive import Archiver, ArchiveSettings
from bus.directory.model import AgencyEntry, Role
from bus.directory.publish import put_agency
from bus.directory.tokens import hash_token, new_token
from bus.event.envelope import ChangeKind
from bus.event.signing import key_id_for, public_key_text
from bus.event.topics import SystemTopic, spec_for
from bus.kafka.client import KafkaSettings, create_topics, make_producer
from bus.policy.agreement import Agreement
from bus.registry.client import RegistryClient
from connectors.sdk import Change, Publisher

PROVIDER = "bench-tracker-civil"
CONSUMER = "bench-tracker-tax"
PORTAL = "bench-tracker-portal"
TOPIC = f"ingress.{PROVIDER}.person"


async def measure(
    gateway_url: str,
    token: str,
    publisher: Publisher,
    persons: Sequence[dict[str, Any]],
    *,
    rate_per_s: float = 10.0,
    poll_s: float = 0.02,
    timeout_s: float = 30.0,
) -> list[float]:
    """Seconds from decision to first returned, one figure per person (one event each)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=gateway_url, headers=headers, timeout=10.0) as client:

        async def visible(key: str, event_id: str) -> float:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                response = await client.get(f"/v1/audit/subjects/{key}", params={"limit": 20})
                seen = dt.datetime.now(dt.UTC)
                response.raise_for_status()
                for item in response.json()["items"]:
                    if item["event_id"] == event_id:
                        return (seen - dt.datetime.fromisoformat(item["when"])).total_seconds()
                await asyncio.sleep(poll_s)
            raise TimeoutError(f"event {event_id} of {key} not in the tracker after {timeout_s} s")

        pollers = []
        for person in persons:
            started = time.monotonic()
            [event_id] = await publisher.publish_many(
                [Change(ChangeKind.CREATED, "person", person["iin"], person)]
            )
            pollers.append(asyncio.create_task(visible(person["iin"], event_id)))
            await asyncio.sleep(max(0.0, 1 / rate_per_s - (time.monotonic() - started)))
        return list(await asyncio.gather(*pollers))


def summary(latencies: Sequence[float]) -> dict[str, float]:
    ordered = sorted(latencies)

    def quantile(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {
        "events": float(len(ordered)),
        "p50_s": statistics.median(ordered),
        "p99_s": quantile(0.99),
        "max_s": ordered[-1],
    }


async def run(count: int = 200, rate_per_s: float = 10.0) -> dict[str, Any]:
    """The whole bus in-process; ``count`` events at ``rate_per_s``; p50/p99 of decision → visible."""
    portal_token = new_token()
    key = Ed25519PrivateKey.generate()
    async with in_process_bus() as bus:
        await _prepare(bus.settings, bus.registry_url, bus.operator, portal_token, key)
        archiver = Archiver(
            bus.settings,
            ArchiveSettings(
                db_url=f"sqlite:///{bus.tmp / 'audit.sqlite'}",
                registry_url=bus.registry_url,
                key_file=bus.tmp / "k.pem",
            ),
        )
        processor = bus.processor("bench-tracker", TOPIC)
        gateway = bus.gateway(archiver.settings.db_url)
        await bus.run(archiver, processor)
        await bus.serve(gateway)
        async with Publisher(
            PROVIDER,
            "bench",
            key,
            bootstrap=bus.settings,
            registry=bus.registry_url,
            spool_path=bus.tmp / "spool.sqlite",
        ) as publisher:
            url = f"http://127.0.0.1:{gateway.settings.port}"
            await measure(url, portal_token, publisher, people(count + 5)[count:], rate_per_s=rate_per_s)
            latencies = await measure(url, portal_token, publisher, people(count), rate_per_s=rate_per_s)
    return {**summary(latencies), "rate_per_s": rate_per_s, "archive": "sqlite", "goal_p99_s": 1.0}


async def _prepare(
    settings: KafkaSettings, registry_url: str, operator: str, portal_token: str, key: Ed25519PrivateKey
) -> None:
    """The provider, one consumer, the portal, one agreement and the ingress topic."""
    await create_topics(settings, [spec_for(TOPIC), spec_for(SystemTopic.AUDIT)])
    async with RegistryClient(registry_url, token=operator) as client:
        await client.register(f"{TOPIC}-value", SCHEMA.read_text())
    public = key.public_key()
    for entry in (
        AgencyEntry(
            id=PROVIDER,
            name="Bench civil registry",
            public_keys={key_id_for(public): public_key_text(public)},
        ),
        AgencyEntry(id=CONSUMER, name="Bench tax"),
        AgencyEntry(
            id=PORTAL, name="Bench portal", role=Role.PORTAL, token_hashes=(hash_token(portal_token),)
        ),
    ):
        await put_agency(settings, entry)
    agreement = Agreement(
        id="bench-tracker-tax",
        provider=PROVIDER,
        consumer=CONSUMER,
        record_type="person",
        fields=("iin", "surname", "registered_address"),
        purpose="tax",
        legal_basis="bench",
        valid_from=dt.date(2026, 1, 1),
    )
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            SystemTopic.AGREEMENTS, key=agreement.id.encode(), value=agreement.model_dump_json().encode()
        )
    finally:
        await producer.stop()


if __name__ == "__main__":
    print(asyncio.run(run()))
