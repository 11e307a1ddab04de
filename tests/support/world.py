"""A small world for processor specs: one provider, its consumers, agreements and a running processor."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.audit.entry import AUDIT_SCHEMA
from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.directory.tokens import hash_token, new_token
from bus.event.envelope import ChangeKind
from bus.event.serde import unframe
from bus.event.signing import key_id_for, public_key_text
from bus.event.topics import SystemTopic, dlq, spec_for
from bus.gateway.consent_writer import record_consent
from bus.kafka.client import KafkaSettings, create_topics, make_producer, read_to_end
from bus.policy.agreement import Agreement
from bus.policy.consent import ConsentRecord, ConsentStatus
from bus.processor.service import Processor, ProcessorSettings
from connectors.sdk import Change, Publisher
from tests.support.running import running

TODAY = dt.date.today()


@dataclass
class World:
    settings: KafkaSettings
    registry_url: str
    operator_token: str
    unique: str
    tmp: Path
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def provider(self) -> str:
        return f"civil-{self.unique}"

    @property
    def topic(self) -> str:
        return f"ingress.{self.provider}.person"

    def consumer(self, name: str) -> str:
        return f"{name}-{self.unique}"

    def agreement(self, name: str, fields: Sequence[str], **overrides: Any) -> Agreement:
        values: dict[str, Any] = {
            "id": f"{name}-{self.unique}",
            "provider": self.provider,
            "consumer": self.consumer(name),
            "record_type": "person",
            "fields": tuple(fields),
            "purpose": f"{name} purpose",
            "legal_basis": f"Law on {name}, Art. 1",
            "valid_from": TODAY - dt.timedelta(days=30),
            "valid_until": TODAY + dt.timedelta(days=365),
            "replaces": f"{name} certificate",
        }
        values.update(overrides)
        return Agreement(**values)

    async def setup(self, person_subject_for: Callable[[str], str]) -> None:
        person_subject_for(self.provider)
        public = self.key.public_key()
        await put_agency(
            self.settings,
            AgencyEntry(
                id=self.provider,
                name="Civil registry",
                public_keys={key_id_for(public): public_key_text(public)},
            ),
        )
        await create_topics(self.settings, [spec_for(self.topic)])

    async def apply(self, *agreements: Agreement, revoke: Sequence[str] = ()) -> None:
        producer = make_producer(self.settings)
        await producer.start()
        try:
            for agreement in agreements:
                await producer.send_and_wait(
                    SystemTopic.AGREEMENTS,
                    key=agreement.id.encode(),
                    value=agreement.model_dump_json().encode(),
                )
            for agreement_id in revoke:
                await producer.send_and_wait(SystemTopic.AGREEMENTS, key=agreement_id.encode(), value=None)
        finally:
            await producer.stop()

    async def consent(self, subject: str, consumer: str, purpose: str, status: ConsentStatus) -> None:
        record = ConsentRecord(
            subject=subject, consumer=consumer, purpose=purpose, status=status, time=dt.datetime.now(dt.UTC)
        )
        await record_consent(self.settings, record)

    @contextlib.asynccontextmanager
    async def publisher(self) -> AsyncIterator[Publisher]:
        async with Publisher(
            self.provider,
            "gbd-fl",
            self.key,
            bootstrap=self.settings,
            registry=self.registry_url,
            spool_path=self.tmp / "spool.sqlite",
        ) as publisher:
            yield publisher
            await publisher.flush(timeout_s=60)

    async def publish(self, *changes: Change) -> list[str]:
        async with self.publisher() as publisher:
            return await publisher.publish_many(list(changes))

    @contextlib.asynccontextmanager
    async def processor(self, group: str | None = None) -> AsyncIterator[Processor]:
        settings = ProcessorSettings(
            group_id=group or f"proc-{self.unique}",
            registry_url=self.registry_url,
            operator_token=self.operator_token,
            topic_pattern=rf"^ingress\.{self.provider}\..*",
        )
        async with running(Processor(self.settings, settings)) as processor:
            yield processor

    async def subscriber_agency(self, name: str) -> str:
        """Register the consumer agency ``name`` in the directory; returns its bearer token."""
        token = new_token()
        await put_agency(
            self.settings,
            AgencyEntry(id=self.consumer(name), name=f"{name} agency", token_hashes=(hash_token(token),)),
        )
        return token

    async def records(self, topic: str) -> list[Any]:
        try:
            return await read_to_end(self.settings, topic)
        except Exception:  # the topic does not exist yet
            return []

    async def deliveries(self, agreement: Agreement) -> list[Any]:
        return await self.records(agreement.delivery_topic)

    async def dead_letters(self) -> list[Any]:
        return await self.records(dlq(self.provider))

    async def audit(self) -> list[dict[str, Any]]:
        parsed = fastavro.parse_schema(AUDIT_SCHEMA)
        entries = []
        for record in await self.records(SystemTopic.AUDIT):
            import io

            entry = fastavro.schemaless_reader(io.BytesIO(unframe(record.value)[1]), parsed, None)
            if isinstance(entry, dict) and entry["provider"] == self.provider:
                entries.append(entry)
        return entries


def update(person: dict[str, Any], changed: Sequence[str], **fields: Any) -> Change:
    return Change(ChangeKind.UPDATED, "person", person["iin"], {**person, **fields}, list(changed))


def decode_with(schema_text: str, value: bytes) -> dict[str, Any]:
    import io

    record = fastavro.schemaless_reader(
        io.BytesIO(unframe(value)[1]), fastavro.parse_schema(json.loads(schema_text)), None
    )
    assert isinstance(record, dict)
    return record
