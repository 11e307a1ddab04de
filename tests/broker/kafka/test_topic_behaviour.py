"""What the bus relies on from Apache Kafka: compaction really runs, and topic configs are kept."""

from __future__ import annotations

import asyncio
import time

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from bus.event.topics import TopicSpec, spec_for
from bus.ids import TopicName
from bus.kafka.client import KafkaSettings, create_topics, make_admin, make_producer, read_to_end

_FAST_COMPACTION = {
    "cleanup.policy": "compact",
    "segment.ms": "100",
    "min.cleanable.dirty.ratio": "0.001",
    "delete.retention.ms": "100",
    "min.compaction.lag.ms": "0",
}


async def _latest_only(settings: KafkaSettings, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    return [(r.key, r.value) for r in await read_to_end(settings, topic)]


async def test_compaction_keeps_the_latest_value_of_a_key_and_drops_tombstoned_keys(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    # given a compacted topic: 50 versions of one key, and a key written then tombstoned
    topic = f"test-compacted-{unique}"
    await create_topics(kafka_settings, [TopicSpec(TopicName(topic), 1, dict(_FAST_COMPACTION))])
    producer = make_producer(kafka_settings)
    await producer.start()
    try:
        for version in range(50):
            await producer.send_and_wait(topic, f"v{version}".encode(), key=b"citizen")
        await producer.send_and_wait(topic, b"gone-soon", key=b"revoked")
        await producer.send_and_wait(topic, None, key=b"revoked")
        # when the log cleaner has had segments to clean (a new record rolls the 100 ms segment)
        deadline, left = time.monotonic() + 120, []
        while time.monotonic() < deadline:
            await producer.send_and_wait(topic, b"tick", key=b"filler")
            left = [kv for kv in await _latest_only(kafka_settings, topic) if kv[0] != b"filler"]
            if left == [(b"citizen", b"v49")]:
                break
            await asyncio.sleep(1.0)
    finally:
        await producer.stop()
    # then only the latest version of "citizen" is left, and "revoked" is gone with its tombstone
    assert left == [(b"citizen", b"v49")]


async def test_the_configs_of_a_bus_topic_are_visible_to_describe_configs(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    # given a state topic created from its DESIGN §2 spec
    spec = spec_for(f"state.civil-{unique}.person")
    await create_topics(kafka_settings, [spec])
    # when its configs are described
    admin = make_admin(kafka_settings)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name)])
    finally:
        await admin.close()
    [resource] = response.to_object()["resources"]
    configs = {e["config_names"]: e["config_value"] for e in resource["config_entries"]}
    # then the broker keeps what the spec asked for
    for name, value in spec.configs.items():
        assert configs[name] == value, name
