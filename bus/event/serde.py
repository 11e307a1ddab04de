"""Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary body.

Any Confluent client can read what this writes and vice versa. Parsed schemas are
cached by id, so the registry is asked once per schema, not once per event.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import fastavro
import fastavro.validation
from fastavro.types import Schema

from bus.errors import (
    AvroDecodeError,
    EmptyPayloadError,
    MagicByteError,
    RecordMismatchError,
    TruncatedPayloadError,
    UnknownSchemaIdError,
)
from bus.event.avro_reader import Reader, Unsupported, compile_reader
from bus.ids import SchemaId
from bus.metrics import AVRO_READER_FALLBACKS

log = logging.getLogger(__name__)

MAGIC = 0
_HEADER = struct.Struct(">bI")
HEADER_SIZE = _HEADER.size

SchemaLookup = Callable[[SchemaId], "str | Mapping[str, Any] | None"]
"""Returns the Avro schema (JSON text or parsed) registered under an id, or None."""


@dataclass(frozen=True, slots=True)
class Decoded:
    schema_id: SchemaId
    record: dict[str, Any]
    body: bytes = b""  # the Avro body the record was read from
    spans: tuple[int, ...] = ()  # top-level field boundaries in ``body`` when known (bus.event.avro_reader)


def frame(schema_id: int, body: bytes) -> bytes:
    """Prefix an Avro body with the Confluent header."""
    return _HEADER.pack(MAGIC, schema_id) + body


def unframe(payload: bytes, *, topic: str = "?") -> tuple[SchemaId, bytes]:
    """Split a Confluent-framed value into schema id and Avro body, checking the header."""
    if not payload:
        raise EmptyPayloadError(
            f"value on topic {topic!r} is empty",
            hint="send a Confluent-framed Avro record; a delete is a null value, not empty bytes",
        )
    if payload[0] != MAGIC:
        raise MagicByteError(
            f"value on topic {topic!r} starts with byte 0x{payload[0]:02x}, "
            "not the Confluent magic byte 0x00",
            hint="serialize with a Confluent-compatible Avro serializer (wire format v0)",
        )
    if len(payload) < HEADER_SIZE:
        raise TruncatedPayloadError(
            f"value on topic {topic!r} is {len(payload)} bytes, "
            f"shorter than the {HEADER_SIZE}-byte Confluent header",
            hint="the message was cut off; re-publish it",
        )
    _, schema_id = _HEADER.unpack_from(payload)
    return SchemaId(schema_id), payload[HEADER_SIZE:]


def framed_schema_ids(values: Iterable[bytes | None]) -> set[SchemaId]:
    """The schema ids named by well-framed values (others are left for decode to reject with a reason)."""
    framed = (v for v in values if v is not None and len(v) >= HEADER_SIZE and v[0] == MAGIC)
    return {SchemaId(_HEADER.unpack_from(v)[1]) for v in framed}


class AvroSerde:
    """Encode and decode Confluent-framed Avro with schemas resolved through ``lookup``."""

    def __init__(self, lookup: SchemaLookup) -> None:
        self._lookup = lookup
        self._parsed: dict[SchemaId, Schema] = {}
        self._field_names: dict[SchemaId, tuple[frozenset[str], frozenset[str]]] = {}
        self._readers: dict[SchemaId, Reader | None] = {}

    def _reader(self, schema_id: SchemaId, topic: str) -> Reader | None:
        """The generated reader for a record schema (None: fastavro only); built with the schema."""
        self.schema(schema_id, topic=topic)  # unknown ids raise here, as before
        return self._readers.get(schema_id)

    def schema(self, schema_id: SchemaId, *, topic: str = "?") -> Schema:
        """The parsed schema for an id, from cache or the lookup; unknown ids raise."""
        parsed = self._parsed.get(schema_id)
        if parsed is None:
            raw = self._lookup(schema_id)
            if raw is None:
                raise UnknownSchemaIdError(
                    schema_id,
                    f"schema id {schema_id} used on topic {topic!r} is not registered",
                    hint="register the schema first (bus schemas register) and "
                    "serialize with the id the registry returned",
                )
            loaded = json.loads(raw) if isinstance(raw, str) else dict(raw)
            try:
                self._readers[schema_id] = compile_reader(copy.deepcopy(loaded))
            except (Unsupported, ValueError, SyntaxError, RecursionError) as exc:
                self._readers[schema_id] = None  # compiled once per schema id, so this logs once per schema
                AVRO_READER_FALLBACKS.labels(type(exc).__name__).inc()
                log.warning(
                    "schema id %s (topic %r) is decoded by fastavro, not the generated reader: %s",
                    schema_id,
                    topic,
                    exc,
                )
            parsed = fastavro.parse_schema(loaded)
            self._parsed[schema_id] = parsed
        return parsed

    def encode(self, schema_id: SchemaId, record: Mapping[str, Any], *, topic: str = "?") -> bytes:
        """Validate ``record`` against the schema and return the framed bytes."""
        schema = self.schema(schema_id, topic=topic)
        buffer = io.BytesIO()
        buffer.write(_HEADER.pack(MAGIC, schema_id))
        try:
            fastavro.schemaless_writer(buffer, schema, record, strict_allow_default=True)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, struct.error) as exc:
            raise RecordMismatchError(
                f"record for topic {topic!r} does not match schema id {schema_id}: "
                f"{self._mismatch_detail(exc, schema_id, record)}",
                hint="fix the named field, or register a schema version that has it",
            ) from None
        return buffer.getvalue()

    def problems(self, schema_id: SchemaId, record: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Every field of ``record`` that breaks the schema, as (dotted path, reason); [] if it encodes.

        A bad field inside a nested record is named by its full path (``registered_address.building``),
        an array item by its index (``phones[2]``), a map value by its key (``labels[home]``).
        """
        schema = self.schema(schema_id)
        if not isinstance(schema, dict):
            return []
        fields, required = self._field_names.get(schema_id) or self._names(schema_id, schema)
        if fields.issuperset(record) and required.issubset(record) and _valid_record(record, schema):
            return []  # one validation of the whole record; the walk below only to name what is wrong
        named: dict[str, Any] = schema.get("__named_schemas", {})
        found = [(name, "not in the schema") for name in record if name not in fields]
        return found + _record_problems(record, schema, "", named)

    def _names(self, schema_id: SchemaId, schema: dict[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
        """A record schema's field names, and those a record must carry (no default)."""
        declared = schema.get("fields", [])
        names = (
            frozenset(f["name"] for f in declared),
            frozenset(f["name"] for f in declared if "default" not in f),
        )
        self._field_names[schema_id] = names
        return names

    def _mismatch_detail(self, exc: Exception, schema_id: SchemaId, record: Mapping[str, Any]) -> str:
        """Name the offending field: the writer's message when it does, else the first listed problem."""
        if "field" in str(exc).lower():
            return str(exc)
        found = self.problems(schema_id, record)
        return f"field {found[0][0]!r}: {found[0][1]}" if found else str(exc)

    def decode(self, payload: bytes | None, *, topic: str = "?") -> Decoded | None:
        """Decode a framed value; ``None`` (a tombstone) decodes to ``None`` = delete."""
        if payload is None:
            return None
        schema_id, body = unframe(payload, topic=topic)
        reader = self._readers.get(schema_id) or self._reader(schema_id, topic)
        if reader is not None:
            try:
                fast, spans, end = reader(body)
            except Exception:
                pass
            else:
                if end == len(body):
                    return Decoded(schema_id, fast, body, spans)
        schema = self.schema(schema_id, topic=topic)
        stream = io.BytesIO(body)
        try:
            record = fastavro.schemaless_reader(stream, schema, None)
        except EOFError:
            raise TruncatedPayloadError(
                f"Avro body on topic {topic!r} ends early for schema id {schema_id}",
                hint="the message was cut off or written with another schema; re-publish it",
            ) from None
        except Exception as exc:  # fastavro raises many types on garbage input
            raise AvroDecodeError(
                f"Avro body on topic {topic!r} does not decode with schema id {schema_id}: "
                f"{type(exc).__name__}: {exc}",
                hint="serialize with the schema whose id is in the header",
            ) from None
        if stream.tell() != len(body):
            raise AvroDecodeError(
                f"Avro body on topic {topic!r} has {len(body) - stream.tell()} bytes left over "
                f"after decoding with schema id {schema_id}",
                hint="the header names a different schema than the one the body was written with",
            )
        if not isinstance(record, dict):
            raise AvroDecodeError(
                f"schema id {schema_id} on topic {topic!r} is not a record schema",
                hint="ingress values must be Avro records",
            )
        return Decoded(schema_id, record, body)


def _record_problems(
    record: Mapping[str, Any], schema: Mapping[str, Any], prefix: str, named: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The problems of each field of a record schema, paths prefixed with ``prefix``."""
    found: list[tuple[str, str]] = []
    for field in schema.get("fields", []):
        name, path = field["name"], f"{prefix}{field['name']}"
        if name not in record:
            if "default" not in field:
                found.append((path, "required field is missing"))
            continue
        found += _value_problems(record[name], field["type"], path, named)
    return found


def _value_problems(value: Any, avro_type: Any, path: str, named: Mapping[str, Any]) -> list[tuple[str, str]]:
    """[] if ``value`` is valid for ``avro_type``; else the innermost fields that are not, by path."""
    try:
        if _valid(value, avro_type, named):
            return []
        detail = None
    except Exception as exc:  # logical-type converters raise their own errors
        detail = str(exc)
    branches = [_resolved(t, named) for t in (avro_type if isinstance(avro_type, list) else [avro_type])]
    kinds = {b.get("type"): b for b in branches if isinstance(b, dict)}
    if isinstance(value, Mapping) and "record" in kinds:
        candidates = [
            _record_problems(value, b, f"{path}.", named)
            for b in branches
            if isinstance(b, dict) and b.get("type") == "record"
        ]
        return min(candidates, key=len)  # the record branch the value comes closest to
    if isinstance(value, Mapping) and "map" in kinds:
        values = kinds["map"]["values"]
        return [p for k, v in value.items() for p in _value_problems(v, values, f"{path}[{k}]", named)]
    if isinstance(value, list | tuple) and "array" in kinds:
        items = kinds["array"]["items"]
        return [p for i, v in enumerate(value) for p in _value_problems(v, items, f"{path}[{i}]", named)]
    return [(path, detail or f"{value!r} does not match type {_type_text(avro_type)}")]


def _valid_record(record: Mapping[str, Any], schema: Schema) -> bool:
    try:
        return bool(fastavro.validation.validate(record, schema, raise_errors=False))
    except Exception:  # logical-type converters raise their own errors: the walk reports them
        return False


def _valid(value: Any, avro_type: Any, named: Mapping[str, Any]) -> bool:
    """fastavro's validation of one value, with the named types of the whole schema in scope."""
    probe = {
        "type": "record",
        "name": "_probe",
        "fields": [{"name": "value", "type": avro_type}],
        "__fastavro_parsed": True,
        "__named_schemas": named,
    }
    return bool(fastavro.validation.validate({"value": value}, probe, raise_errors=False))


def _resolved(avro_type: Any, named: Mapping[str, Any]) -> Any:
    """A named type's definition in place of a reference to it by name."""
    return named.get(avro_type, avro_type) if isinstance(avro_type, str) else avro_type


def _type_text(avro_type: Any) -> str:
    if isinstance(avro_type, list):
        return " | ".join(_type_text(t) for t in avro_type)
    if isinstance(avro_type, dict):
        return str(avro_type.get("logicalType") or avro_type.get("name") or avro_type.get("type"))
    return str(avro_type)
