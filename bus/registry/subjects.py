"""Resolve an agency's record types to their registered ingress schemas, once, and keep them.

With a ``keep`` file the last resolved schemas survive a restart, so a publisher on a
rural link that restarts while the registry is unreachable still validates and spools.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bus.errors import BrokerError, UnknownRecordTypeError
from bus.event.topics import ingress, record_type
from bus.ids import SchemaId
from bus.registry.client import RegistryClient
from bus.registry.errors import StoreError, StoreTimeout, SubjectNotFound

REFRESH_S = 60.0
RECHECK_S = 1.0
"""A record invalid against a version cached longer than this is checked against the latest once."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordSchema:
    topic: str
    subject: str
    schema_id: SchemaId
    text: str
    record_name: str
    key_field: str | None  # the identifier field the record key must equal, if any


def _key_field(document: dict[str, Any]) -> str | None:
    fields = document.get("fields") or []
    first = fields[0]["name"] if fields else None
    return first if first in ("iin", "bin", "vin", "cadastral_number") else None


class SchemaCache:
    """Latest version of ``ingress.<agency>.<type>-value``, refreshed every minute.

    When the registry cannot be reached, the last known version (in memory, else from the
    ``keep`` file) is used rather than failing the publish.
    """

    def __init__(self, registry: RegistryClient, *, keep: Path | None = None) -> None:
        self._registry = registry
        self._keep = keep
        self._cache: dict[tuple[str, str], tuple[float, RecordSchema]] = {}

    async def resolve(self, agency: str, rtype: str, *, max_age_s: float = REFRESH_S) -> RecordSchema:
        cached = self._cache.get((agency, rtype))
        if cached is not None and time.monotonic() - cached[0] < max_age_s:
            return cached[1]
        topic = ingress(agency, record_type(rtype))
        subject = f"{topic}-value"
        try:
            latest = await self._registry.latest(subject)
        except SubjectNotFound:
            raise UnknownRecordTypeError(
                f"agency {agency!r} has no schema for record type {rtype!r} (subject {subject!r})",
                hint=f"register one: bus schemas register <file.avsc> --subject {subject}",
            ) from None
        except (BrokerError, StoreError, StoreTimeout) as exc:
            known = cached[1] if cached is not None else self._kept().get(subject)
            if known is None:
                raise
            log.warning("registry unavailable (%s); using the last known schema of %s", exc.message, subject)
            return known
        schema = _record_schema(topic, subject, SchemaId(latest["id"]), latest["schema"])
        self._cache[(agency, rtype)] = (time.monotonic(), schema)
        self._remember(schema)
        return schema

    def _kept(self) -> dict[str, RecordSchema]:
        if self._keep is None or not self._keep.exists():
            return {}
        try:
            stored = json.loads(self._keep.read_text())
            return {
                subject: _record_schema(entry["topic"], subject, SchemaId(entry["id"]), entry["schema"])
                for subject, entry in stored.items()
            }
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable schema cache %s", self._keep)
            return {}

    def _remember(self, schema: RecordSchema) -> None:
        if self._keep is None:
            return
        stored = {s: {"topic": r.topic, "id": r.schema_id, "schema": r.text} for s, r in self._kept().items()}
        if stored.get(schema.subject, {}).get("schema") == schema.text:
            return
        stored[schema.subject] = {"topic": schema.topic, "id": schema.schema_id, "schema": schema.text}
        tmp = self._keep.with_name(self._keep.name + ".tmp")
        tmp.write_text(json.dumps(stored))
        os.replace(tmp, self._keep)


def _record_schema(topic: str, subject: str, schema_id: SchemaId, text: str) -> RecordSchema:
    document = json.loads(text)
    name = document["name"]
    if "." not in name and document.get("namespace"):
        name = f"{document['namespace']}.{name}"
    return RecordSchema(topic, subject, schema_id, text, name, _key_field(document))
