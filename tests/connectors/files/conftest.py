"""An agency with the canonical person schema and its ingress topic, and a way to import into it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.event.topics import spec_for
from bus.kafka.client import KafkaSettings, create_topics
from bus.registry.client import RegistryClient
from bus.registry.subjects import SchemaCache
from connectors.files import ImportOptions, ImportSummary, SnapshotStore, import_file, load_mapping
from connectors.sdk import Publisher
from tests.connectors.files.exports import MAPPING


@pytest.fixture
def agency(unique: str) -> str:
    return f"civil-{unique}"


@pytest.fixture
def topic(agency: str, person_subject_for: Callable[[str], str], kafka_settings: KafkaSettings) -> str:
    name = person_subject_for(agency)
    asyncio.run(create_topics(kafka_settings, [spec_for(name)]))
    return name


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "person-mapping.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


class Importer:
    """Runs the connector as the CLI does, with one spool, key and snapshot store across runs."""

    def __init__(self, work: Path, agency: str, settings: KafkaSettings, registry_url: str) -> None:
        self.work, self.agency, self.settings, self.registry_url = work, agency, settings, registry_url
        self.key = Ed25519PrivateKey.generate()

    async def run(self, path: Path, mapping: Path, **options: Any) -> ImportSummary:
        async with RegistryClient(self.registry_url) as client:
            schema = await SchemaCache(client).resolve(self.agency, "person")
        opts = ImportOptions(feed=f"{self.agency}/person", **options)
        with SnapshotStore(self.work / "snapshots.sqlite") as store:
            if opts.dry_run:
                return await import_file(path, load_mapping(mapping), schema, "person", store, None, opts)
            async with Publisher(
                self.agency,
                "files",
                self.key,
                bootstrap=self.settings,
                registry=self.registry_url,
                spool_path=self.work / "spool.sqlite",
            ) as publisher:
                summary = await import_file(
                    path, load_mapping(mapping), schema, "person", store, publisher, opts
                )
                await publisher.flush(timeout_s=180)
        return summary


@pytest.fixture
def importer(
    tmp_path: Path, agency: str, topic: str, kafka_settings: KafkaSettings, registry_url: str
) -> Importer:
    return Importer(tmp_path, agency, kafka_settings, registry_url)
