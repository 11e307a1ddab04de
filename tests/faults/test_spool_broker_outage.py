"""The publisher's spool carries changes across a broker outage (broker down → publish → broker up).

The session broker is never restarted (its memory storage would lose every topic for every
other test); these specs start brokers of their own on a fixed port. A durable broker
(``data_dir``) comes back with its topics: nothing published before or during the outage is
lost. An in-memory broker (``--ephemeral``) comes back empty: that mode loses data by design
(DESIGN §7) and is not exercised here.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.broker.engine import LocalBroker
from bus.broker.ports import free_port
from bus.event.envelope import Envelope
from bus.event.topics import spec_for
from bus.kafka.client import create_topics, read_to_end
from connectors.sdk import Change, Publisher
from tests.conftest import REPO, running_registry
from tests.engine import local_broker, prepare
from tests.faults.workload import Workload
from tests.support.eventually import eventually
from tests.support.logins import provider_login

PROVIDER_VERSIONS = 4  # 4 versions of 50 subjects: 2 before the outage, 2 during


async def _ids_on(broker: LocalBroker, topic: str) -> set[str]:
    try:
        return {Envelope.from_headers(r.headers).id for r in await read_to_end(broker.settings(), topic)}
    except Exception:  # the topic does not exist (yet)
        return set()


async def _outage(tmp_path: Path, *, durable: bool) -> tuple[set[str], set[str], set[str], int]:
    """Publish 2 versions, stop the broker, publish 2 more, start a new broker on the same port.

    Returns (ids published before, ids published during, ids on the topic afterwards, spool depth
    while the broker was down).
    """
    port = free_port()
    data_dir = tmp_path / "data" if durable else None
    workload = Workload("outage", subjects=50, versions=PROVIDER_VERSIONS)
    topic = f"ingress.{workload.provider}.person"
    broker = local_broker(port=port, data_dir=data_dir, log_dir=tmp_path / "logs-1")
    await broker.start()
    await prepare(broker)
    key = Ed25519PrivateKey.generate()
    login = await provider_login(broker.settings(), workload.provider, key)
    operator = "operator-outage"
    with running_registry(broker.bootstrap, operator) as registry_url:
        httpx.post(
            f"{registry_url}/subjects/{topic}-value/versions",
            json={"schema": json.dumps(json.loads((REPO / "schemas/civil/person.avsc").read_text()))},
            headers={"Authorization": f"Bearer {operator}"},
        ).raise_for_status()
        await create_topics(broker.settings(), [spec_for(topic)])
        async with Publisher(
            workload.provider,
            "gbd-fl",
            key,
            bootstrap=login,
            registry=registry_url,
            spool_path=tmp_path / "spool.sqlite",
        ) as publisher:
            before: list[Change] = workload.batch(1) + workload.batch(2)
            await publisher.publish_many(before)
            await publisher.flush(timeout_s=60)
            # the broker goes down
            await broker.stop()
            during: list[Change] = workload.batch(3) + workload.batch(4)
            await publisher.publish_many(during)
            depth = publisher.depth()
            # and comes back on the same port (same data dir when durable)
            broker = local_broker(port=port, data_dir=data_dir, log_dir=tmp_path / "logs-2")
            await broker.start()
            await prepare(broker)
            try:
                if not durable:
                    await create_topics(broker.settings(), [spec_for(topic)])
                await publisher.flush(timeout_s=120)
                wanted = {c.event_id for c in during if c.event_id}
                await eventually(lambda: _has(broker, topic, wanted), timeout_s=30)
                found = await _ids_on(broker, topic)
            finally:
                await publisher.close()
                await broker.stop()
    return {c.event_id for c in before if c.event_id}, wanted, found, depth


async def _has(broker: LocalBroker, topic: str, wanted: set[str]) -> bool:
    return wanted <= await _ids_on(broker, topic)


async def test_a_durable_broker_restart_loses_nothing_and_the_spool_delivers_the_outage(
    tmp_path: Path,
) -> None:
    # given a publisher on a durable broker; when the broker is down while it publishes, then up again
    before, during, found, depth = await _outage(tmp_path, durable=True)
    # then the changes waited in the spool, and every change is on the topic
    assert depth == len(during)
    assert before | during <= found
