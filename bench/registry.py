"""``registry``: Confluent's Python client against our registry (lookups/s, serialisations/s).

``SchemaRegistryClient`` lookups by id (through the client's HTTP session, bypassing its cache)
and of the latest version (an HTTP round trip each), the cached by-id lookup, then
``AvroSerializer`` serialising person records (it looks the schema up once and caches it, as it
does against Confluent's registry).
Runs in a thread: the Confluent client is synchronous.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.world import World, people
from tests.support.world import PERSON_SCHEMA


def _measure(url: str, subject: str, schema_id: int, seconds: float) -> dict[str, Any]:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    result: dict[str, Any] = {}
    client = SchemaRegistryClient({"url": url, "cache.capacity": 1, "cache.latest.ttl.sec": 0})
    rest = client._rest_client  # the client's own HTTP session: by-id lookups bypass its cache
    for name, call in (
        ("get_schema_by_id_uncached", lambda: rest.get(f"schemas/ids/{schema_id}")),
        ("get_latest_version", lambda: client.get_latest_version(subject)),
        ("get_schema_by_id_cached", lambda: client.get_schema(schema_id)),
    ):
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            call()
            done += 1
        result[f"{name}_per_s"] = done / (time.perf_counter() - started)
    cached = SchemaRegistryClient({"url": url})
    serializer = AvroSerializer(
        cached, PERSON_SCHEMA.read_text(), conf={"auto.register.schemas": False, "use.latest.version": True}
    )
    context = SerializationContext(subject.removesuffix("-value"), MessageField.VALUE)
    records = people(1000)
    serializer(records[0], context)  # first call fetches the schema
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        serializer(records[done % len(records)], context)
        done += 1
    result["avro_serializer_per_s"] = done / (time.perf_counter() - started)
    return result


async def run(seconds: float = 3.0) -> dict[str, Any]:
    async with World() as world:
        provider = await world.provider("registry")
        subject = f"{provider.topic}-value"
        from bus.registry.client import RegistryClient

        async with RegistryClient(world.registry_url) as client:
            schema_id = (await client.latest(subject))["id"]
        return {
            "client": "confluent_kafka.schema_registry",
            **await asyncio.to_thread(_measure, world.registry_url, subject, int(schema_id), seconds),
        }
