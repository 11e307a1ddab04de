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

from bench.world import World, people
from bus.directory.model import Role
from bus.event.envelope import ChangeKind
from bus.event.topics import SystemTopic
from connectors.sdk import Change, Publisher


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
    async with World() as world:
        civil = await world.provider("tracker", {"tax": ("iin", "surname", "registered_address")})
        portal_token = await civil.subscriber_agency("portal", role=Role.PORTAL)
        db_url = f"sqlite:///{world.tmp / 'audit.sqlite'}"
        await world.start(civil.archiver(db_url))
        await world.start(civil.processor())
        gateway = await world.start(civil.gateway(db_url, reads_topic=SystemTopic.AUDIT_READS.value))
        async with civil.publisher() as publisher:
            url = f"http://127.0.0.1:{gateway.settings.port}"
            await measure(url, portal_token, publisher, people(count + 5)[count:], rate_per_s=rate_per_s)
            latencies = await measure(url, portal_token, publisher, people(count), rate_per_s=rate_per_s)
    return {**summary(latencies), "rate_per_s": rate_per_s, "archive": "sqlite", "goal_p99_s": 1.0}


if __name__ == "__main__":
    print(asyncio.run(run()))
