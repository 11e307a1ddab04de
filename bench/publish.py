"""Publisher SDK (validate, sign, spool, drain) vs a raw aiokafka producer, in the same run."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.engine import local_broker
from bus.broker.ports import free_port
from bus.directory.tokens import new_token
from bus.event.envelope import ChangeKind
from bus.event.serde import AvroSerde
from bus.event.topics import spec_for
from bus.ids import SchemaId
from bus.kafka.client import KafkaSettings, create_system_topics, create_topics, make_producer
from bus.registry.client import RegistryClient
from bus.registry.service import RegistryService, RegistrySettings
from bus.validate.iin import make_iin
from connectors.sdk import Change, Publisher

AGENCY = "bench-civil"
BATCH = 500
SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "civil" / "person.avsc"


def people(count: int) -> list[dict[str, Any]]:
    import datetime as dt

    result: list[dict[str, Any]] = []
    serial = 0
    while len(result) < count:
        birth = dt.date(1960, 1, 1) + dt.timedelta(days=serial % 15000)
        iin = make_iin(birth, "MALE", serial % 9000)
        serial += 1
        if iin is None:
            continue
        result.append(
            {
                "iin": iin,
                "surname": "Bench",
                "given_name": "Test",
                "birth_date": birth,
                "sex": "MALE",
                "registered_address": {"region": "Astana", "settlement": "Astana", "building": "1"},
            }
        )
    return result


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
    token = new_token()
    async with local_broker() as broker:
        await create_system_topics(broker.settings())
        settings = broker.settings()
        registry = RegistryService(settings, RegistrySettings(port=free_port(), operator_token=token))
        await registry.start()
        stop = asyncio.Event()
        up = asyncio.Event()
        serving = asyncio.create_task(registry.serve(stop, on_started=up.set))
        await up.wait()
        url = f"http://127.0.0.1:{registry.settings.port}"
        try:
            topic = f"ingress.{AGENCY}.person"
            await create_topics(settings, [spec_for(topic)])
            async with RegistryClient(url, token=token) as client:
                schema_id = SchemaId(await client.register(f"{topic}-value", SCHEMA.read_text()))
            records = people(min(events, 5000))
            serde = AvroSerde({schema_id: SCHEMA.read_text()}.get)
            values = [(r["iin"].encode(), serde.encode(schema_id, r)) for r in records]
            raw_rate = await _raw(settings, topic, [values[i % len(values)] for i in range(events)])
            with tempfile.TemporaryDirectory() as tmp:
                async with Publisher(
                    AGENCY,
                    "bench",
                    Ed25519PrivateKey.generate(),
                    bootstrap=settings,
                    registry=url,
                    spool_path=Path(tmp) / "spool.sqlite",
                ) as publisher:
                    started = time.perf_counter()
                    for start in range(0, events, BATCH):
                        await publisher.publish_many(
                            [
                                Change(ChangeKind.UPDATED, "person", r["iin"], r)
                                for r in (
                                    records[i % len(records)]
                                    for i in range(start, min(start + BATCH, events))
                                )
                            ]
                        )
                    spooled = time.perf_counter() - started
                    await publisher.flush(timeout_s=600)
                    delivered = time.perf_counter() - started
        finally:
            stop.set()
            await serving
            await registry.stop()
    sdk_rate = events / delivered
    return {
        "events": events,
        "raw_producer_events_per_s": raw_rate,
        "sdk_spooled_events_per_s": events / spooled,
        "sdk_delivered_events_per_s": sdk_rate,
        "sdk_to_raw": sdk_rate / raw_rate,
    }
