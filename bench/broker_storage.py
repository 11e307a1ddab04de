"""Durable (object store on disk) vs in-memory embedded broker: produce and read-back rates."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bus.broker.embedded import EmbeddedBroker
from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka.client import KafkaSettings, create_topics, make_producer, read_to_end

VALUE = b"x" * 200  # DESIGN §7 pass-through figures use 200-byte values
BATCHING = {
    "large": {"max_batch_size": 256 * 1024, "linger_ms": 20},
    "small": {"max_batch_size": 16 * 1024, "linger_ms": 5},
}


@dataclass(frozen=True)
class StorageFigures:
    storage: str
    batching: str
    records: int
    produce_per_s: float
    read_per_s: float


async def _produce(settings: KafkaSettings, topic: str, records: int, batching: dict[str, int]) -> float:
    producer = make_producer(settings, **batching)
    await producer.start()
    try:
        started = time.perf_counter()
        pending = [
            await producer.send(topic, key=str(i % 1000).encode(), value=VALUE) for i in range(records)
        ]
        await asyncio.gather(*pending)
        return records / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def _measure(broker: EmbeddedBroker, storage: str, records: int) -> list[StorageFigures]:
    settings = broker.settings()
    figures = []
    for name, batching in BATCHING.items():
        topic = f"bench.storage.{name}"
        await create_topics(settings, [TopicSpec(TopicName(topic), 6)])
        produce_rate = await _produce(settings, topic, records, batching)
        started = time.perf_counter()
        read = len(await read_to_end(settings, topic, timeout_s=600))
        read_rate = read / (time.perf_counter() - started)
        if read != records:
            raise RuntimeError(f"{storage}/{name}: produced {records} records but read back {read}")
        figures.append(StorageFigures(storage, name, records, produce_rate, read_rate))
    return figures


async def run(records: int) -> dict[str, Any]:
    """Both storages, both batch profiles, in one run; ratios are durable / memory."""
    results: list[StorageFigures] = []
    async with EmbeddedBroker() as memory:
        results += await _measure(memory, "memory", records)
    with tempfile.TemporaryDirectory(prefix="bus-bench-") as data_dir:
        async with EmbeddedBroker(data_dir=Path(data_dir)) as durable:
            results += await _measure(durable, "durable", records)
    by_key = {(f.storage, f.batching): f for f in results}
    return {
        "records": records,
        "value_bytes": len(VALUE),
        "figures": [f.__dict__ for f in results],
        "durable_to_memory": {
            name: {
                "produce": by_key["durable", name].produce_per_s / by_key["memory", name].produce_per_s,
                "read": by_key["durable", name].read_per_s / by_key["memory", name].read_per_s,
            }
            for name in BATCHING
        },
    }
