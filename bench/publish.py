"""Publisher SDK (validate, sign, spool, drain) vs a raw aiokafka producer, in the same run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.world import World, people
from bus.event.envelope import ChangeKind
from bus.event.serde import AvroSerde
from bus.ids import SchemaId
from bus.kafka.client import KafkaSettings, make_producer
from bus.registry.client import RegistryClient
from connectors.sdk import Change
from tests.support.world import PERSON_SCHEMA

BATCH = 500


async def _raw(settings: KafkaSettings, topic: str, values: list[tuple[bytes, bytes]]) -> float:
    producer = make_producer(settings)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, key=k, value=v) for k, v in values]
        await asyncio.gather(*futures)
        return len(values) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def run(events: int) -> dict[str, Any]:
    async with World() as world:
        provider = await world.provider("publish", {})
        async with RegistryClient(world.registry_url) as client:
            schema_id = SchemaId((await client.latest(f"{provider.topic}-value"))["id"])
        records = people(min(events, 5000))
        serde = AvroSerde({schema_id: PERSON_SCHEMA.read_text()}.get)
        values = [(r["iin"].encode(), serde.encode(schema_id, r)) for r in records]
        raw_rate = await _raw(
            world.settings, provider.topic, [values[i % len(values)] for i in range(events)]
        )
        async with provider.publisher() as publisher:
            started = time.perf_counter()
            for start in range(0, events, BATCH):
                await publisher.publish_many(
                    [
                        Change(ChangeKind.UPDATED, "person", r["iin"], r)
                        for r in (records[i % len(records)] for i in range(start, min(start + BATCH, events)))
                    ]
                )
            spooled = time.perf_counter() - started
            await publisher.flush(timeout_s=600)
            delivered = time.perf_counter() - started
    sdk_rate = events / delivered
    return {
        "events": events,
        "raw_producer_events_per_s": raw_rate,
        "sdk_spooled_events_per_s": events / spooled,
        "sdk_delivered_events_per_s": sdk_rate,
        "sdk_to_raw": sdk_rate / raw_rate,
    }
