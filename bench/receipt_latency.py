"""Ack → receipt visible in the archive the tracker reads: from the subscriber's handler returning
(the SDK acks right after) to the receipt's row being queryable (goal, issue #23: p99 < 1 s).

One machine, everything real and in-process: broker, registry, processor, archiver (SQLite), a
receipting subscriber (the agency's signing key) following its delivery topic while the provider
publishes at a steady rate. A poller asks the archive for the receipts of the events handled so
far every ``poll_s`` (the tracker's own query, ``ReceiptStore.received``, without the HTTP hop the
tracker scenario measures separately). The polling interval bounds the error (it can only add).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.tracker_latency import summary
from bench.world import World, people
from bus.audit.receipt_store import ReceiptStore
from bus.directory.tokens import new_token
from bus.event.envelope import ChangeKind
from bus.subscriber import Subscriber, Update
from connectors.sdk import Change
from tests.support.logins import agency_login


async def run(count: int = 200, rate_per_s: float = 20.0, poll_s: float = 0.02) -> dict[str, Any]:
    """``count`` updates at ``rate_per_s``; p50/p99 of ack → receipt queryable in the archive."""
    async with World() as world:
        civil = await world.provider("receipts", {"receipts": ("iin", "surname")})
        key, token = Ed25519PrivateKey.generate(), new_token()
        agency = civil.consumer("receipts")
        await civil.add_agency(agency, "Receipting agency", key=key, token=token)
        login = await agency_login(world.settings, agency)
        db_url = f"sqlite:///{world.tmp / 'audit.sqlite'}"
        archiver = await world.start(civil.archiver(db_url))
        await world.start(civil.processor())
        receipts = ReceiptStore(archiver.store)
        acked: dict[str, float] = {}
        seen: dict[str, float] = {}

        async def handler(update: Update) -> None:
            acked[update.event_id] = time.monotonic()  # the SDK acks as soon as this returns

        async def poll() -> None:
            while len(seen) < count:
                waiting = [e for e in acked if e not in seen]
                found = await asyncio.to_thread(receipts.received, waiting) if waiting else {}
                now = time.monotonic()
                for event_id, _ in found:
                    seen.setdefault(event_id, now)
                await asyncio.sleep(poll_s)

        subscriber = Subscriber(
            agency, token, bootstrap=login, registry=world.registry_url,
            store_path=world.tmp / "receipts.sqlite", signing_key=key,
        )  # fmt: skip
        async with subscriber, civil.publisher() as publisher:
            agreement = f"receipts-{civil.unique}"
            reading = asyncio.create_task(subscriber.run(agreement, handler))
            polling = asyncio.create_task(poll())
            for person in people(count):
                started = time.monotonic()
                await publisher.publish_many([Change(ChangeKind.CREATED, "person", person["iin"], person)])
                await asyncio.sleep(max(0.0, 1 / rate_per_s - (time.monotonic() - started)))
            await asyncio.wait_for(polling, timeout=120)
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
    latencies = [seen[e] - acked[e] for e in seen]
    return {**summary(latencies), "rate_per_s": rate_per_s, "archive": "sqlite", "goal_p99_s": 1.0}


if __name__ == "__main__":
    print(asyncio.run(run()))
