"""Full pipeline vs raw aiokafka pass-through with the same fan-out, measured in one run.

raw: consume each ingress record and write its bytes to as many topics as the pipeline
writes for it (3 deliveries + state + 3 audit entries = 7), commit per batch — the I/O-only
ceiling. pipeline: the processor (verify, decode, validate, state, 3 agreements, project,
re-encode, audit, route) on the same records.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.publish import SCHEMA, people
from bus.broker.embedded import EmbeddedBroker, free_port
from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.directory.tokens import new_token
from bus.envelope import ChangeKind
from bus.kafka import KafkaSettings, create_topics, make_consumer, make_producer
from bus.policy.agreement import Agreement
from bus.processor.service import Processor, ProcessorSettings
from bus.registry.client import RegistryClient
from bus.registry.service import RegistryService, RegistrySettings
from bus.signing import key_id_for, public_key_text
from bus.topics import SystemTopic, TopicSpec, spec_for
from connectors.sdk import Change, Publisher

PROVIDER = "bench-civil"
TOPIC = f"ingress.{PROVIDER}.person"
FAN_OUT = 7
GRANTS = {
    "tax": ("iin", "surname", "given_name", "registered_address"),
    "social": ("iin", "surname", "birth_date", "registered_address"),
    "portal": ("iin", "surname", "given_name", "patronymic", "registered_address", "document"),
}


async def _raw(settings: KafkaSettings, count: int) -> float:
    outputs = [f"bench.raw.{n}" for n in range(FAN_OUT)]
    await create_topics(settings, [TopicSpec(t, 6) for t in outputs])
    consumer = make_consumer(settings, TOPIC, group_id="bench-raw", max_poll_records=2000)
    producer = make_producer(settings)
    await consumer.start()
    await producer.start()
    try:
        done, started, warm = 0, time.perf_counter(), 0
        while done < count:
            batch = await consumer.getmany(timeout_ms=100, max_records=2000)
            futures = []
            for records in batch.values():
                for r in records:
                    for topic in outputs:
                        futures.append(
                            await producer.send(topic, key=r.key, value=r.value, headers=list(r.headers))
                        )
                done += len(records)
            await asyncio.gather(*futures)
            if batch:
                await consumer.commit()
            if not warm:  # the first batch pays for topic metadata; time the steady state
                warm, started = done, time.perf_counter()
        return (count - warm) / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


async def _pipeline(settings: KafkaSettings, registry: str, token: str, count: int) -> float:
    processor = Processor(
        settings,
        ProcessorSettings(
            group_id="bench-pipeline",
            registry_url=registry,
            operator_token=token,
            topic_pattern=rf"^{TOPIC}$",
        ),
    )
    await processor.start()
    try:
        await processor.routes.refresh()
        while not await processor.step():  # first batch: creates delivery/state topics, untimed
            pass
        warm, started = processor.processed, time.perf_counter()
        while processor.processed < count:
            await processor.step()
        return (count - warm) / (time.perf_counter() - started)
    finally:
        await processor.stop()


async def run(count: int) -> dict[str, Any]:
    token = new_token()
    key = Ed25519PrivateKey.generate()
    async with EmbeddedBroker() as broker:
        settings = broker.settings()
        registry = RegistryService(settings, RegistrySettings(port=free_port(), operator_token=token))
        await registry.start()
        stop, up = asyncio.Event(), asyncio.Event()
        serving = asyncio.create_task(registry.serve(stop, on_started=up.set))
        await up.wait()
        url = f"http://127.0.0.1:{registry.settings.port}"
        try:
            await create_topics(settings, [spec_for(TOPIC), spec_for(SystemTopic.AUDIT)])
            async with RegistryClient(url, token=token) as client:
                await client.register(f"{TOPIC}-value", SCHEMA.read_text())
            public = key.public_key()
            await put_agency(
                settings,
                AgencyEntry(
                    id=PROVIDER, name="Bench", public_keys={key_id_for(public): public_key_text(public)}
                ),
            )
            producer = make_producer(settings)
            await producer.start()
            for name, grant in GRANTS.items():
                agreement = Agreement(
                    id=f"bench-{name}",
                    provider=PROVIDER,
                    consumer=f"bench-{name}",
                    record_type="person",
                    fields=grant,
                    purpose=name,
                    legal_basis="bench",
                    valid_from=dt.date(2026, 1, 1),
                )
                await producer.send_and_wait(
                    SystemTopic.AGREEMENTS,
                    key=agreement.id.encode(),
                    value=agreement.model_dump_json().encode(),
                )
            await producer.stop()
            records = people(min(count, 5000))
            with tempfile.TemporaryDirectory() as tmp:
                async with Publisher(
                    PROVIDER,
                    "bench",
                    key,
                    bootstrap=settings,
                    registry=url,
                    spool_path=Path(tmp) / "spool.sqlite",
                ) as publisher:
                    for start in range(0, count, 1000):
                        await publisher.publish_many(
                            [
                                Change(ChangeKind.CREATED, "person", r["iin"], r)
                                for r in (
                                    records[i % len(records)] for i in range(start, min(start + 1000, count))
                                )
                            ]
                        )
                    await publisher.flush(timeout_s=600)
            raw = await _raw(settings, count)
            pipeline = await _pipeline(settings, url, token, count)
        finally:
            stop.set()
            await serving
            await registry.stop()
    return {
        "events": count,
        "fan_out": FAN_OUT,
        "raw_events_per_s": raw,
        "pipeline_events_per_s": pipeline,
        "ratio_to_raw": pipeline / raw,
        "workers": 1,
    }
