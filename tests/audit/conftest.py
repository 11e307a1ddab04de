"""Audit archive specs: entries produced onto a topic of their own, archived by a real Archiver."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bus.acl.rules import ARCHIVER, Operation
from bus.audit.archive import Archiver, ArchiveSettings
from bus.audit.db import ArchiveStore
from bus.audit.entry import AUDIT_SCHEMA, AUDIT_SUBJECT, AuditEntry, Decision
from bus.audit.keys import load_trusted_keys, public_key_path
from bus.audit.verify import VerifyReport, verify_archive
from bus.broker.engine import LocalBroker
from bus.event.serde import AvroSerde
from bus.event.topics import TopicSpec
from bus.ids import SchemaId, TopicName
from bus.kafka.client import KafkaSettings, create_topics, make_producer
from tests.support.eventually import eventually
from tests.support.logins import grant, may
from tests.support.world import World

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
CONSUMERS = ("tax", "police", "health", None)
FIELDS = (("iin", "surname"), ("iin", "registered_address"), ())


def register_audit_schema(registry_url: str, operator_token: str) -> SchemaId:
    response = httpx.post(
        f"{registry_url}/subjects/{AUDIT_SUBJECT}/versions",
        json={"schema": json.dumps(AUDIT_SCHEMA)},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert response.status_code == 200, response.text
    return SchemaId(response.json()["id"])


def an_entry(n: int, *, subject: str | None = None) -> AuditEntry:
    """Entry number n: varied subjects, consumers, decisions and fields, one millisecond apart."""
    consumer = CONSUMERS[n % len(CONSUMERS)]
    decision = Decision.DENIED if consumer is None else (Decision.DELIVERED, Decision.BACKFILLED)[n % 2]
    return AuditEntry(
        time=T0 + dt.timedelta(milliseconds=n),
        decision=decision,
        subject=subject or f"9005143{n % 997:05d}",
        provider="civil-registry",
        record_type="person",
        event_id=f"event-{n}",
        event_time=T0 + dt.timedelta(milliseconds=n - 40),
        reason="no_agreement" if consumer is None else None,
        consumer=consumer,
        agreement_id=f"civil-to-{consumer}" if consumer else None,
        purpose=f"{consumer} purpose" if consumer else None,
        legal_basis="Law on «data», Art. 5" if consumer else None,
        fields=FIELDS[n % len(FIELDS)] if consumer else (),
        replaces="certificate of residence" if consumer == "tax" else None,
    )


@dataclass
class AuditWorld(World):
    """A world whose archivers read an audit topic and checkpoint topic of this test's own, with the
    audit schema's id."""

    schema_id: SchemaId = field(kw_only=True)

    @property
    def audit_topic(self) -> str:
        return f"test-audit-{self.unique}"

    @property
    def checkpoint_topic(self) -> str:
        return f"test-audit-cp-{self.unique}"

    def sqlite_url(self, name: str = "audit") -> str:
        return f"sqlite:///{self.tmp / f'{name}.sqlite'}"

    async def create_topics(self) -> None:
        await create_topics(
            self.settings,
            [
                TopicSpec(TopicName(self.audit_topic), 3, {"cleanup.policy": "delete"}),
                TopicSpec(TopicName(self.checkpoint_topic), 1, {"cleanup.policy": "compact"}),
            ],
        )
        archiver = ARCHIVER.principal  # its own topics, in place of bus.audit and bus.audit.checkpoints
        await grant(
            self.admin,
            may(archiver, Operation.READ, self.audit_topic),
            may(archiver, Operation.WRITE, self.checkpoint_topic),
        )

    async def produce(self, count: int, *, start: int = 0, subject: str | None = None) -> None:
        """Entries ``start`` .. ``start+count-1``, keyed by subject (so spread over the 3 partitions)."""
        serde = AvroSerde({self.schema_id: AUDIT_SCHEMA}.get)
        producer = make_producer(self.settings)
        await producer.start()
        try:
            for first in range(start, start + count, 5000):
                futures = []
                for n in range(first, min(first + 5000, start + count)):
                    entry = an_entry(n, subject=subject)
                    value = serde.encode(self.schema_id, entry.to_record())
                    futures.append(
                        await producer.send(self.audit_topic, key=entry.subject.encode(), value=value)
                    )
                await asyncio.gather(*futures)
        finally:
            await producer.stop()

    def archive_settings(self, db_url: str, **settings: Any) -> ArchiveSettings:
        """This test's topics, a checkpoint every 1000 entries, unless ``settings`` say otherwise."""
        own = {"topic": self.audit_topic, "checkpoint_topic": self.checkpoint_topic, "checkpoint_every": 1000}
        return super().archive_settings(db_url, **(own | settings))

    async def archive(self, db_url: str, expected: int, **overrides: object) -> Archiver:
        """Run an archiver until ``expected`` rows are in the database, then stop it."""
        async with self.archiver(db_url, **overrides) as archiver:
            await eventually(lambda: rows_in(db_url, expected))
        return archiver

    async def verify(self, db_url: str, **kwargs: object) -> VerifyReport:
        store = ArchiveStore(db_url)
        try:
            return await verify_archive(
                store,
                self.settings,
                load_trusted_keys([public_key_path(self.audit_key_file)]),
                audit_topic=self.audit_topic,
                checkpoint_topic=self.checkpoint_topic,
                **kwargs,  # type: ignore[arg-type]
            )
        finally:
            store.close()

    async def verify_chains_only(self, db_url: str) -> VerifyReport:
        store = ArchiveStore(db_url)
        try:
            return await verify_archive(
                store, None, {}, audit_topic=self.audit_topic, checkpoint_topic=self.checkpoint_topic
            )
        finally:
            store.close()


async def rows_in(db_url: str, expected: int) -> bool:
    def count() -> int:
        store = ArchiveStore(db_url)
        try:
            store.require_schema()
            return store.count()
        except Exception:  # the archiver has not created the schema yet
            return 0
        finally:
            store.close()

    return await asyncio.to_thread(count) >= expected


@pytest.fixture(scope="session")
def audit_schema_id(registry_url: str, operator_token: str) -> SchemaId:
    return register_audit_schema(registry_url, operator_token)


@pytest.fixture
async def audit(
    kafka_settings: KafkaSettings,
    broker_admin: KafkaSettings | None,
    registry_url: str,
    operator_token: str,
    audit_schema_id: SchemaId,
    unique: str,
    tmp_path: Path,
) -> AuditWorld:
    world = AuditWorld(
        kafka_settings,
        registry_url,
        operator_token,
        unique,
        tmp_path,
        admin=broker_admin,
        schema_id=audit_schema_id,
    )
    await world.create_topics()
    return world


ARCHIVED = 600


@pytest.fixture(scope="module")
def archived(
    session_broker: LocalBroker,
    broker_admin: KafkaSettings | None,
    registry_url: str,
    operator_token: str,
    audit_schema_id: SchemaId,
    tmp_path_factory: pytest.TempPathFactory,
) -> AuditWorld:
    """600 entries archived once per test module (a checkpoint every 50 rows per partition)."""
    world = AuditWorld(
        session_broker.settings(),
        registry_url,
        operator_token,
        uuid.uuid4().hex[:10],
        tmp_path_factory.mktemp("archive"),
        admin=broker_admin,
        schema_id=audit_schema_id,
    )

    async def build() -> None:
        await world.create_topics()
        await world.produce(ARCHIVED)
        await world.archive(world.sqlite_url(), ARCHIVED, checkpoint_every=50)

    asyncio.run(build())
    return world
