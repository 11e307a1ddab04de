"""A 3-node cluster from one command: RF 3 with acks=all loses nothing when a node is killed and returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bus.broker.kafka.cluster import KafkaCluster
from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka.client import create_topics, make_admin, make_producer, read_to_end
from tests.engine import started


@pytest.fixture
async def cluster() -> AsyncIterator[KafkaCluster]:
    """Three nodes, used as their administrator: these specs are about replication, not about grants
    (a grant made a moment ago may not have reached every node yet)."""
    async with started(KafkaCluster(nodes=3)) as cluster:
        yield cluster


async def _produce(cluster: KafkaCluster, topic: str, numbers: range) -> None:
    producer = make_producer(cluster.admin_settings())  # acks=all, idempotent
    await producer.start()
    try:
        futures = [await producer.send(topic, str(n).encode(), key=str(n % 30).encode()) for n in numbers]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _leader_of_partition_0(cluster: KafkaCluster, topic: str) -> int:
    admin = make_admin(cluster.admin_settings())
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return int(next(p["leader"] for p in described["partitions"] if p["partition"] == 0))


async def test_all_three_nodes_register_and_topics_get_three_replicas(cluster: KafkaCluster) -> None:
    await create_topics(cluster.admin_settings(), [TopicSpec(TopicName("test-rf3"), 3)])
    admin = make_admin(cluster.admin_settings())
    await admin.start()
    try:
        brokers = (await admin.describe_cluster())["brokers"]
        [described] = await admin.describe_topics(["test-rf3"])
    finally:
        await admin.close()
    assert sorted(b["node_id"] for b in brokers) == [1, 2, 3]
    assert all(len(p["replicas"]) == 3 for p in described["partitions"])


async def test_killing_a_partition_leader_loses_and_duplicates_nothing(cluster: KafkaCluster) -> None:
    # given an RF 3 topic with records already written
    topic = "test-survives"
    await create_topics(cluster.admin_settings(), [TopicSpec(TopicName(topic), 3)])
    await _produce(cluster, topic, range(0, 500))
    # when the leader of partition 0 is SIGKILLed, producing goes on, and the node comes back
    victim = await _leader_of_partition_0(cluster, topic)
    cluster.kill(victim)
    await _produce(cluster, topic, range(500, 1000))
    await cluster.restart(victim)
    await _produce(cluster, topic, range(1000, 1500))
    # then every record is there exactly once
    values = [r.value for batch in [await read_to_end(cluster.admin_settings(), topic)] for r in batch]
    assert sorted(int(v) for v in values if v is not None) == list(range(1500))
