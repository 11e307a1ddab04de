"""Address change → visible in the citizen's wallet: from the provider's ``ce_time`` to the new record
returned by ``GET /v1/wallet/{iin}/records`` (issue 14: within 1 s).

One machine, everything real and in-process: embedded broker, registry, processor, wallet
materialiser (SQLite, the archive database), gateway on a port. Every person has granted the wallet
consent (consent API) and has a wallet record already; then address changes for distinct people are
published at a steady rate and a poller per change asks the gateway every ``poll_s`` (portal token
plus the person's wallet token) until the record carries that change's event id. Latency = time first
returned minus ``changed_at`` (ce_time, same clock): it includes the publisher's send, the processor,
the delivery topic, the materialiser's SQL commit and the gateway's query and audited read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bench.tracker_latency import summary
from bench.world import World, people
from bus.directory.model import Role
from bus.event.envelope import ChangeKind
from bus.event.topics import SystemTopic
from bus.wallet.materialise import WalletMaterialiser, WalletSettings, name_the_wallet
from bus.wallet.store import WALLET
from connectors.sdk import Change, Publisher
from tests.support.eventually import until
from tests.support.running import running

PURPOSE = "personal data portability"
FIELDS = ("iin", "surname", "given_name", "registered_address")


async def measure(
    client: httpx.AsyncClient,
    publisher: Publisher,
    persons: Sequence[dict[str, Any]],
    *,
    rate_per_s: float = 10.0,
    poll_s: float = 0.02,
    timeout_s: float = 30.0,
) -> list[float]:
    """Seconds from an address change's ce_time to its first appearance in the wallet, per person."""

    async def visible(iin: str, event_id: str) -> float:
        issued = await client.post("/v1/wallet/tokens", json={"iin": iin})
        issued.raise_for_status()
        headers = {"X-Wallet-Token": issued.json()["token"]}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            response = await client.get(f"/v1/wallet/{iin}/records", headers=headers)
            seen = dt.datetime.now(dt.UTC)
            response.raise_for_status()
            for item in response.json()["records"]:
                if item["event_id"] == event_id:
                    return (seen - dt.datetime.fromisoformat(item["changed_at"])).total_seconds()
            await asyncio.sleep(poll_s)
        raise TimeoutError(f"address change {event_id} of {iin} not in the wallet after {timeout_s} s")

    pollers = []
    for n, person in enumerate(persons):
        started = time.monotonic()
        moved = {**person["registered_address"], "settlement": "Astana", "building": str(n)}
        change = Change(
            ChangeKind.UPDATED,
            "person",
            person["iin"],
            {**person, "registered_address": moved},
            ["registered_address"],
        )
        [event_id] = await publisher.publish_many([change])
        pollers.append(asyncio.create_task(visible(person["iin"], event_id)))
        await asyncio.sleep(max(0.0, 1 / rate_per_s - (time.monotonic() - started)))
    return list(await asyncio.gather(*pollers))


async def run(count: int = 200, rate_per_s: float = 10.0) -> dict[str, Any]:
    """The bus in-process; ``count`` consenting people, one address change each at ``rate_per_s``."""
    async with World() as world:
        civil = await world.provider("wallet", {})
        await civil.apply(
            civil.agreement(
                "wallet",
                FIELDS,
                consumer=WALLET,
                purpose=PURPOSE,
                legal_basis="bench",
                consent="required",
                replaces=None,
            )
        )
        portal_token = await civil.subscriber_agency("portal", role=Role.PORTAL)
        db_url = f"sqlite:///{world.tmp / 'audit.sqlite'}"
        await name_the_wallet(world.settings)  # as `bus up` does, as the operator
        wallet = WalletMaterialiser(
            world.settings, WalletSettings(db_url=db_url, registry_url=world.registry_url)
        )
        await world.start(running(wallet))
        await world.start(civil.processor())
        gateway = await world.start(civil.gateway(db_url, reads_topic=SystemTopic.AUDIT_READS.value))
        await until(lambda: all(gateway.directory.get(a) for a in (WALLET, civil.consumer("portal"))))
        url = f"http://127.0.0.1:{gateway.settings.port}"
        headers = {"Authorization": f"Bearer {portal_token}"}
        async with (
            httpx.AsyncClient(base_url=url, headers=headers, timeout=10.0) as client,
            civil.publisher() as publisher,
        ):
            persons = people(count + 5)
            await _consent_and_create(client, publisher, persons)
            await measure(client, publisher, persons[count:], rate_per_s=rate_per_s)  # warm-up
            latencies = await measure(client, publisher, persons[:count], rate_per_s=rate_per_s)
    return {**summary(latencies), "rate_per_s": rate_per_s, "archive": "sqlite", "goal_s": 1.0}


async def _consent_and_create(
    client: httpx.AsyncClient, publisher: Publisher, persons: Sequence[dict[str, Any]]
) -> None:
    """Every person grants the wallet consent, then appears in the wallet (their first record)."""
    for person in persons:
        body = {"subject": person["iin"], "consumer": WALLET, "purpose": PURPOSE, "action": "grant"}
        (await client.post("/v1/consent", json=body)).raise_for_status()
    await asyncio.sleep(1.0)  # the processor follows bus.consent
    await publisher.publish_many([Change(ChangeKind.CREATED, "person", p["iin"], p) for p in persons])
    await publisher.flush(timeout_s=60)


if __name__ == "__main__":
    print(asyncio.run(run()))
