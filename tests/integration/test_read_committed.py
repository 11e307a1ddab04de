"""On Kafka every reader of the bus reads committed (#21): a record of an aborted transaction is never
seen, and a read "to the end" ends where the open transactions begin (the last stable offset)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka.client import KafkaSettings, create_topics, iter_to_end, make_producer, read_to_end
from bus.kafka.follow import TopicFollower
from tests.engine import AUTHENTICATES

pytestmark = pytest.mark.skipif(not AUTHENTICATES, reason="tansu's transactions are broken (DESIGN §7)")


@pytest.fixture
async def topic(kafka_settings: KafkaSettings, unique: str) -> str:
    name = f"test.read-committed.{unique}"
    await create_topics(kafka_settings, [TopicSpec(TopicName(name), 1)])
    return name


@pytest.fixture
async def transactional(broker_admin: KafkaSettings, unique: str) -> AsyncIterator[AIOKafkaProducer]:
    """A transactional writer, as the processor will be (the administrator: no grant to arrange)."""
    producer = make_producer(broker_admin, transactional_id=f"test-read-committed-{unique}")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def _committed(producer: AIOKafkaProducer, topic: str, value: bytes) -> None:
    async with producer.transaction():
        await producer.send_and_wait(topic, value)


async def _aborted(producer: AIOKafkaProducer, topic: str, value: bytes) -> None:
    await producer.begin_transaction()
    await producer.send_and_wait(topic, value)
    await producer.abort_transaction()


async def test_a_record_of_an_aborted_transaction_is_never_read(
    kafka_settings: KafkaSettings, topic: str, transactional: AIOKafkaProducer
) -> None:
    # given a transaction committed, one aborted, then one committed
    await _committed(transactional, topic, b"committed-before")
    await _aborted(transactional, topic, b"aborted")
    await _committed(transactional, topic, b"committed-after")
    # when the topic is read to its end / then only the committed records are there
    assert [r.value for r in await read_to_end(kafka_settings, topic)] == [
        b"committed-before",
        b"committed-after",
    ]


async def test_a_read_to_the_end_ends_where_an_open_transaction_begins(
    kafka_settings: KafkaSettings, topic: str, transactional: AIOKafkaProducer
) -> None:
    # given a committed record, then a transaction left open
    await _committed(transactional, topic, b"committed")
    await transactional.begin_transaction()
    await transactional.send_and_wait(topic, b"open")
    try:
        # when the topic is read to its end (a read still behind its end after 20 s raises)
        records = await read_to_end(kafka_settings, topic, timeout_s=20)
        # then it returns the committed record without waiting for the open transaction to end
        assert [r.value for r in records] == [b"committed"]
    finally:
        await transactional.abort_transaction()


async def test_a_follower_catches_up_past_an_open_transaction_and_applies_it_once_committed(
    kafka_settings: KafkaSettings, topic: str, transactional: AIOKafkaProducer
) -> None:
    # given a committed record, an aborted one, and a transaction left open
    await _committed(transactional, topic, b"committed")
    await _aborted(transactional, topic, b"aborted")
    await transactional.begin_transaction()
    pending = await transactional.send_and_wait(topic, b"pending")
    applied: list[bytes | None] = []
    follower = TopicFollower(kafka_settings, topic, lambda record: applied.append(record.value))
    try:
        # when a follower starts / then it is caught up with what was committed
        await follower.start(timeout_s=20)
        assert applied == [b"committed"]
        # and when the open transaction commits / then its record is applied, the aborted one never
        await transactional.commit_transaction()
        await follower.wait_applied(pending.partition, pending.offset)
        assert applied == [b"committed", b"pending"]
    finally:
        await follower.stop()


async def _read_waiting(settings: KafkaSettings, topic: str, wait_s: float) -> list[bytes | None]:
    return [
        r.value async for batch in iter_to_end(settings, topic, open_transactions_s=wait_s) for r in batch
    ]


async def test_a_read_that_waits_for_open_transactions_includes_what_commits_while_it_waits(
    kafka_settings: KafkaSettings, topic: str, transactional: AIOKafkaProducer
) -> None:
    # given a committed record, then a transaction left open (as a crashed processor leaves one)
    await _committed(transactional, topic, b"committed")
    await transactional.begin_transaction()
    await transactional.send_and_wait(topic, b"pending")
    # when a read that waits up to 60 s for open transactions starts, and the transaction commits
    reading = asyncio.create_task(_read_waiting(kafka_settings, topic, 60.0))
    await asyncio.sleep(1.0)
    await transactional.commit_transaction()
    # then the read returns both records
    assert await reading == [b"committed", b"pending"]


async def test_a_read_that_waits_for_open_transactions_does_not_wait_when_none_is_open(
    kafka_settings: KafkaSettings, topic: str, transactional: AIOKafkaProducer
) -> None:
    # given only settled transactions (the log ends with a commit marker)
    await _committed(transactional, topic, b"one")
    await _aborted(transactional, topic, b"aborted")
    await _committed(transactional, topic, b"two")
    # when a read that would wait an hour for an open transaction runs
    values = await asyncio.wait_for(_read_waiting(kafka_settings, topic, 3600.0), timeout=120)
    # then it returns the committed records without waiting for the hour
    assert values == [b"one", b"two"]
