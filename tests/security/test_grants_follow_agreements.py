"""Grants follow the agreements: applied, removed and expired, the broker's answer changes (#20)."""

from __future__ import annotations

import asyncio
import datetime as dt

from aiokafka import TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError

from bus.acl.sync import AclSync, reconcile
from bus.kafka.client import make_producer
from tests.processes import bus
from tests.security import probes
from tests.security.conftest import PROVIDER, TODAY, A, B, Secured, deliver
from tests.support.eventually import eventually, until


def _apply(secured: Secured) -> None:
    done = bus(
        "agreements", "apply", str(secured.folder), "--registry", secured.registry_url,
        "--bootstrap", secured.cluster.bootstrap,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


async def _put_record(secured: Secured, topic: str) -> None:
    producer = make_producer(secured.settings)
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=b"900514300001", value=b"a delivery")
    finally:
        await producer.stop()


async def test_applying_an_agreement_grants_its_topic_and_removing_it_takes_only_that_away(
    secured: Secured,
) -> None:
    # given a new agreement for A, applied from its reviewed file with `bus agreements apply`
    extra = f"{PROVIDER}-to-{A}-extra"
    path = secured.write_agreement(extra, A)
    _apply(secured)
    topic = f"deliver.{A}.{extra}"
    await _put_record(secured, topic)
    # then A reads its topic within 10 s, with a plain client that keeps fetching
    consumer, partition = probes.aiokafka_consumer(secured.login(A)), TopicPartition(topic, 0)
    await consumer.start()
    try:
        consumer.assign([partition])
        consumer.seek(partition, 0)
        assert await eventually(lambda: consumer.getmany(partition, timeout_ms=500), timeout_s=10)
        # when the file is removed and the folder applied again
        path.unlink()
        _apply(secured)
        await _put_record(secured, topic)

        # then A's next fetches fail with an authorisation error within 10 s
        async def refused() -> bool:
            consumer.seek(partition, 0)
            try:
                await consumer.getmany(partition, timeout_ms=500)
            except TopicAuthorizationFailedError:
                return True
            return False

        assert await eventually(refused, timeout_s=10)
    finally:
        await consumer.stop()
    # and the other grants stand: A's other agreement, and B's
    assert await probes.read(secured.login(A), deliver(A)) == "record"
    assert await probes.read(secured.login(B), deliver(B)) == "record"


async def test_an_agreement_stops_granting_at_the_midnight_after_its_last_day(secured: Secured) -> None:
    # given an agreement whose last day in force is today, applied
    last = f"{PROVIDER}-to-{A}-ends-today"
    path = secured.write_agreement(last, A, valid_until=TODAY.isoformat())
    _apply(secured)
    topic = f"deliver.{A}.{last}"
    await _put_record(secured, topic)
    assert await probes.read(secured.login(A), topic) == "record"
    # when the ACL sync runs past UTC midnight (a clock one day ahead), with no command run
    tomorrow = dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(0, 0, 1), dt.UTC)
    syncing = AclSync(secured.settings, clock=lambda: tomorrow)
    await syncing.start()
    stop = asyncio.Event()
    running = asyncio.create_task(syncing.run(stop))
    try:
        await until(lambda: syncing.last is not None, timeout_s=10)
    finally:
        stop.set()
        await running
        await syncing.stop()
    # then the broker refuses A on that topic, and A's agreement that runs on still reads
    try:
        assert await probes.read(secured.login(A), topic) == probes.DENIED
        assert await probes.read(secured.login(A), deliver(A)) == "record"
    finally:
        path.unlink()
        _apply(secured)
        await reconcile(secured.settings)
