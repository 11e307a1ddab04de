"""The ``schemas/`` folder as a catalogue: canonical ``.avsc`` files and who publishes them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bus.errors import ConfigError
from bus.event.topics import agency_id, ingress, record_type
from bus.registry.client import RegistryClient

PROVIDERS_FILE = "providers.yaml"


@dataclass(frozen=True)
class CatalogueEntry:
    subject: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text()


def subject_for(provider: str, rtype: str) -> str:
    """TopicNameStrategy: the value subject of the provider's ingress topic."""
    return f"{ingress(provider, rtype)}-value"


def load_catalogue(folder: Path) -> list[CatalogueEntry]:
    """Every (subject, schema file) pair that ``providers.yaml`` in ``folder`` declares."""
    schemas = {path.stem: path for path in sorted(folder.rglob("*.avsc"))}
    providers_path = folder / PROVIDERS_FILE
    try:
        providers = yaml.safe_load(providers_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"cannot read {providers_path}: {exc}",
            hint="it maps each agency id to the record types it publishes, e.g. civil-registry: [person]",
        ) from None
    entries = []
    for provider, types in providers.items():
        for rtype in types or []:
            if rtype not in schemas:
                raise ConfigError(
                    f"{providers_path}: agency {provider!r} publishes {rtype!r} but there is no {rtype}.avsc",
                    hint=f"known types: {', '.join(sorted(schemas))}",
                )
            entries.append(
                CatalogueEntry(subject_for(agency_id(provider), record_type(rtype)), schemas[rtype])
            )
    return entries


async def apply_catalogue(client: RegistryClient, folder: Path) -> list[tuple[CatalogueEntry, int]]:
    """Register every catalogue entry (idempotent: unchanged schemas keep their ids)."""
    return [(entry, await client.register(entry.subject, entry.text)) for entry in load_catalogue(folder)]
