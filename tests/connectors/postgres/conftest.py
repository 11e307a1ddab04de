"""A civil-registry database on the session's real PostgreSQL, a mapping for it, and event read-back."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import psycopg2
import psycopg2.errors
import psycopg2.extensions
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.demo.civil_registry_db import create_schema
from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.event.envelope import Envelope
from bus.event.signing import key_id_for, private_key_pem, public_key_text
from bus.event.topics import spec_for
from bus.kafka.client import KafkaSettings, create_topics, read_to_end
from connectors.postgres import PostgresConnector, load_config
from tests.conftest import REPO
from tests.postgres import PostgresServer
from tests.support.logins import agency_login

PERSON = fastavro.parse_schema(json.loads((REPO / "schemas" / "civil" / "person.avsc").read_text()))
DEPLOY_MAPPING = REPO / "deploy" / "connectors" / "civil-registry.postgres.yaml"


@dataclass(frozen=True)
class Event:
    envelope: Envelope
    record: dict[str, Any] | None
    key: str
    value: bytes | None


@dataclass
class Cdc:
    """One test's database, agency, topic and connector mapping."""

    dsn: str
    agency: str
    topic: str
    config_path: Path
    settings: KafkaSettings
    registry_url: str
    login: KafkaSettings
    """The provider's own broker login, for the connector run as its own process."""

    def connect(self) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(self.dsn)
        conn.autocommit = True
        return conn

    def execute(self, *statements: str) -> None:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    async def events(self) -> list[Event]:
        return [decode(r) for r in await read_to_end(self.settings, self.topic)]

    async def wait_for(self, count: int, timeout_s: float = 60.0) -> list[Event]:
        """Events once at least ``count`` distinct ce_ids are on the topic."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            events = await self.events()
            if len({e.envelope.id for e in events}) >= count:
                return events
            if loop.time() > deadline:
                raise AssertionError(f"only {len(events)} of {count} events arrived in {timeout_s} s")
            await asyncio.sleep(0.3)

    @contextlib.asynccontextmanager
    async def running(self, **options: Any) -> AsyncIterator[PostgresConnector]:
        """The connector in this process, streaming until the block ends."""
        connector = PostgresConnector(
            load_config(self.config_path), kafka=self.settings, registry_url=self.registry_url, **options
        )
        stop = asyncio.Event()
        await connector.start()
        task = asyncio.create_task(connector.run(stop))
        try:
            yield connector
        finally:
            stop.set()
            await task
            await connector.close()


def decode(message: Any) -> Event:
    value: bytes | None = message.value
    record = fastavro.schemaless_reader(io.BytesIO(value[5:]), PERSON, None) if value else None
    assert record is None or isinstance(record, dict)
    return Event(Envelope.from_headers(message.headers), record, message.key.decode(), value)


@pytest.fixture
def cdc(
    postgres: PostgresServer,
    unique: str,
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    registry_url: str,
    person_subject_for: Callable[[str], str],
) -> Iterator[Cdc]:
    database = f"cdc_{unique}"
    postgres.create_database(database)
    dsn = f"host=127.0.0.1 port={postgres.port} user={postgres.user} dbname={database}"
    create_schema(dsn)
    agency = f"civil-{unique}"
    topic = person_subject_for(agency)
    asyncio.run(create_topics(kafka_settings, [spec_for(topic)]))
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "civil.pem"
    key_file.write_bytes(private_key_pem(key))
    public = AgencyEntry(
        id=agency,
        name="Civil registry",
        public_keys={key_id_for(key.public_key()): public_key_text(key.public_key())},
    )
    asyncio.run(put_agency(kafka_settings, public))
    login = asyncio.run(agency_login(kafka_settings, agency, publishes=True))
    mapping = yaml.safe_load(DEPLOY_MAPPING.read_text())
    mapping.update(
        agency=agency,
        database=dsn,
        key_file=str(key_file),
        slot=f"bus_{unique}",
        publication=f"bus_{unique}",
        spool=str(tmp_path / "spool.sqlite"),
    )
    config_path = tmp_path / "mapping.yaml"
    config_path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    yield Cdc(dsn, agency, topic, config_path, kafka_settings, registry_url, login)
    # a slot left behind would pin WAL for the rest of the session
    conn = psycopg2.connect(f"host=127.0.0.1 port={postgres.port} user={postgres.user} dbname=postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                "WHERE slot_name = %s AND active_pid IS NOT NULL",
                (f"bus_{unique}",),
            )
            for _ in range(50):  # the terminated walsender may still hold the slot for a moment
                try:
                    cur.execute(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                        "WHERE slot_name = %s",
                        (f"bus_{unique}",),
                    )
                    break
                except psycopg2.errors.ObjectInUse:
                    time.sleep(0.1)
    finally:
        conn.close()
