"""The bench's bus on one machine: embedded broker, registry, agencies, agreements and backlogs.

Every scenario that needs a processor uses ``World``: one provider per measurement (so each
run starts from empty state topics), three agreements per provider (fan-out 7: 3 deliveries,
state, 3 audit entries), a consumer agency with a token for the subscriber SDK, and backlogs
of canonical person records published through the publisher SDK.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.engine import local_broker
from bench.publish import SCHEMA, people
from bus.broker.ports import free_port
from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.directory.tokens import hash_token, new_token
from bus.event.envelope import ChangeKind
from bus.event.signing import key_id_for, private_key_pem, public_key_text
from bus.event.topics import SystemTopic, spec_for
from bus.kafka.client import KafkaSettings, create_system_topics, create_topics, make_producer
from bus.policy.agreement import Agreement
from bus.registry.client import RegistryClient
from bus.registry.service import RegistryService, RegistrySettings
from connectors.sdk import Change, Publisher

FAN_OUT = 7
GRANTS = {
    "tax": ("iin", "surname", "given_name", "registered_address"),
    "social": ("iin", "surname", "birth_date", "registered_address"),
    "portal": ("iin", "surname", "given_name", "patronymic", "registered_address", "document"),
}
CONSUMER = "bench-tax"  # the agency whose subscriber the scenarios run


@dataclass
class Provider:
    name: str
    key: Ed25519PrivateKey
    topic: str
    agreements: list[str] = field(default_factory=list)

    @property
    def tax_agreement(self) -> str:
        return f"{self.name}-tax"


class World:
    """``async with World() as world``: broker + registry up; ``provider()`` adds one more provider."""

    def __init__(self) -> None:
        self.broker = local_broker()
        self.token = new_token()
        self.consumer_token = new_token()
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self._stop = asyncio.Event()
        self._serving: asyncio.Task[None] | None = None
        self.registry: RegistryService | None = None
        self.settings: KafkaSettings
        self.registry_url = ""
        self._count = 0

    async def __aenter__(self) -> Self:
        await self.broker.__aenter__()
        await create_system_topics(self.broker.settings())
        self.settings = self.broker.settings()
        self.registry = RegistryService(
            self.settings, RegistrySettings(port=free_port(), operator_token=self.token)
        )
        await self.registry.start()
        up = asyncio.Event()
        self._serving = asyncio.create_task(self.registry.serve(self._stop, on_started=up.set))
        await up.wait()
        self.registry_url = f"http://127.0.0.1:{self.registry.settings.port}"
        await create_topics(self.settings, [spec_for(SystemTopic.AUDIT)])
        await put_agency(
            self.settings,
            AgencyEntry(id=CONSUMER, name="Bench consumer", token_hashes=(hash_token(self.consumer_token),)),
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._serving is not None:
            await self._serving
        if self.registry is not None:
            await self.registry.stop()
        await self.broker.__aexit__(exc_type, exc, tb)
        self._tmp.cleanup()

    async def provider(self, label: str) -> Provider:
        """A new provider with its ingress topic, schema, key and three agreements (one to CONSUMER)."""
        self._count += 1
        name = f"bench-{label}-{self._count}"
        topic = f"ingress.{name}.person"
        await create_topics(self.settings, [spec_for(topic)])
        async with RegistryClient(self.registry_url, token=self.token) as client:
            await client.register(f"{topic}-value", SCHEMA.read_text())
        key = Ed25519PrivateKey.generate()
        public = key.public_key()
        await put_agency(
            self.settings,
            AgencyEntry(
                id=name, name="Bench provider", public_keys={key_id_for(public): public_key_text(public)}
            ),
        )
        provider = Provider(name, key, topic)
        producer = make_producer(self.settings)
        await producer.start()
        try:
            for purpose, grant in GRANTS.items():
                agreement = Agreement(
                    id=f"{name}-{purpose}",
                    provider=name,
                    consumer=CONSUMER if purpose == "tax" else f"bench-{purpose}",
                    record_type="person",
                    fields=grant,
                    purpose=purpose,
                    legal_basis="bench",
                    valid_from=dt.date(2026, 1, 1),
                )
                await producer.send_and_wait(
                    SystemTopic.AGREEMENTS,
                    key=agreement.id.encode(),
                    value=agreement.model_dump_json().encode(),
                )
                provider.agreements.append(agreement.id)
        finally:
            await producer.stop()
        return provider

    def publisher(self, provider: Provider) -> Publisher:
        return Publisher(
            provider.name,
            "bench",
            provider.key,
            bootstrap=self.settings,
            registry=self.registry_url,
            spool_path=self.tmp / f"{provider.name}.spool.sqlite",
        )

    async def backlog(self, provider: Provider, count: int) -> None:
        """``count`` person changes on the provider's ingress topic, through the publisher SDK."""
        records = people(min(count, 5000))
        async with self.publisher(provider) as publisher:
            for start in range(0, count, 1000):
                await publisher.publish_many(
                    [
                        Change(ChangeKind.CREATED, "person", r["iin"], r)
                        for r in (records[i % len(records)] for i in range(start, min(start + 1000, count)))
                    ]
                )
            await publisher.flush(timeout_s=600)

    def worker_env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def key_file(self, provider: Provider) -> Path:
        path = self.tmp / f"{provider.name}.pem"
        path.write_bytes(private_key_pem(provider.key))
        return path

    def describe(self) -> dict[str, Any]:
        return {"broker": "embedded tansu (memory)", "bootstrap": self.settings.bootstrap}
