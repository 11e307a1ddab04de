"""Resolve an agency's record types to their registered ingress schemas, once, and keep them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from bus.errors import UnknownRecordTypeError
from bus.ids import SchemaId
from bus.registry.client import RegistryClient
from bus.registry.errors import SubjectNotFound
from bus.topics import ingress, record_type

REFRESH_S = 60.0


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
    """Latest version of ``ingress.<agency>.<type>-value``, refreshed every minute."""

    def __init__(self, registry: RegistryClient) -> None:
        self._registry = registry
        self._cache: dict[tuple[str, str], tuple[float, RecordSchema]] = {}

    async def resolve(self, agency: str, rtype: str) -> RecordSchema:
        cached = self._cache.get((agency, rtype))
        if cached is not None and time.monotonic() - cached[0] < REFRESH_S:
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
        document = json.loads(latest["schema"])
        name = document["name"]
        if "." not in name and document.get("namespace"):
            name = f"{document['namespace']}.{name}"
        schema = RecordSchema(
            topic, subject, SchemaId(latest["id"]), latest["schema"], name, _key_field(document)
        )
        self._cache[(agency, rtype)] = (time.monotonic(), schema)
        return schema
