"""One preparation of a record change for ``ingress.<agency>.<type>``, shared by the SDK and the gateway.

Resolve the agency's registered schema, check the key, list every field that breaks the schema or
carries an invalid identifier, then encode: so "the gateway validates exactly as the SDK does" holds
by construction (docs/ingestion.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bus.errors import RecordInvalidError, RecordTooLargeError
from bus.event.envelope import ChangeKind
from bus.event.serde import AvroSerde
from bus.registry.subjects import RECHECK_S, RecordSchema, SchemaCache
from bus.validate.fields import check_identifiers, check_key


@dataclass(frozen=True, slots=True)
class Prepared:
    """A change that passed every check: where it goes, under which key, and its framed Avro bytes."""

    schema: RecordSchema
    key: str
    value: bytes | None  # None for a deletion

    def too_large(self, size: int, limit: int, *, nothing_sent: str, ask: str = "") -> RecordTooLargeError:
        """The one wording of "this record is over its limit" for the SDK and the gateway."""
        topic = self.schema.topic
        return RecordTooLargeError(
            f"the {self.schema.record_name} record with key {self.key!r} for topic {topic!r} is {size} "
            f"bytes with its signature and CloudEvents headers; the limit is {limit} bytes",
            hint=f"{nothing_sent}; send large content by reference (a document id or URL) instead of "
            f"inline{ask}",
        )


class Preparation:
    """Validates and encodes changes of one process's agencies; caches a serde per schema id."""

    def __init__(self, schemas: SchemaCache) -> None:
        self._schemas = schemas
        self._serdes: dict[int, AvroSerde] = {}

    async def prepare(
        self, agency: str, record_type: str, kind: ChangeKind, key: str, record: Mapping[str, Any] | None
    ) -> Prepared:
        """The prepared change, or ``RecordInvalidError`` listing every problem (nothing is published).

        A change invalid against the cached version is checked once against the latest: the provider
        may have evolved its schema (e.g. made a field optional) since the cache was filled (#25).
        """
        schema = await self._schemas.resolve(agency, record_type)
        try:
            return self._prepare_with(schema, record_type, kind, key, record)
        except RecordInvalidError:
            latest = await self._schemas.resolve(agency, record_type, max_age_s=RECHECK_S)
            if latest.schema_id == schema.schema_id:
                raise
            return self._prepare_with(latest, record_type, kind, key, record)

    def _prepare_with(
        self,
        schema: RecordSchema,
        record_type: str,
        kind: ChangeKind,
        key: str,
        record: Mapping[str, Any] | None,
    ) -> Prepared:
        deleted = kind is ChangeKind.DELETED
        key_problems = check_key(key, schema.key_field, None if deleted else record)
        if key_problems:
            raise RecordInvalidError(
                f"bad key for {schema.subject}",
                [(p.path, p.reason) for p in key_problems],
                hint=f"the key of a {record_type} is its {schema.key_field or 'id'}",
            )
        if deleted:
            return Prepared(schema, key, None)
        if record is None:
            raise RecordInvalidError(f"a {kind} of {schema.subject} needs a record", [("record", "missing")])
        serde = self._serdes.setdefault(schema.schema_id, AvroSerde({schema.schema_id: schema.text}.get))
        problems = serde.problems(schema.schema_id, record)
        problems += [(p.path, p.reason) for p in check_identifiers(record)]
        if problems:
            raise RecordInvalidError(
                f"{record_type} {key!r} does not match {schema.subject}",
                problems,
                hint="fix every field listed; nothing was published",
            )
        return Prepared(schema, key, serde.encode(schema.schema_id, record, topic=schema.topic))
