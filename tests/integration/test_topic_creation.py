"""Idempotent topic creation with the partitions each kind needs."""

from __future__ import annotations

from bus.event import topics
from bus.kafka.client import KafkaSettings, ensure_topics, make_admin


async def test_creation_is_idempotent_and_sets_partitions(kafka_settings: KafkaSettings, unique: str) -> None:
    specs = [
        topics.spec_for(topics.ingress(f"agency-{unique}", "person")),
        topics.spec_for(topics.dlq(f"agency-{unique}")),
    ]
    admin = make_admin(kafka_settings)
    await admin.start()
    try:
        first = await ensure_topics(admin, specs, replication_factor=1)
        second = await ensure_topics(admin, specs, replication_factor=1)
        described = {
            t["topic"]: len(t["partitions"]) for t in await admin.describe_topics([s.name for s in specs])
        }
    finally:
        await admin.close()
    assert first == [s.name for s in specs]
    assert second == []
    assert described == {s.name: s.partitions for s in specs}
