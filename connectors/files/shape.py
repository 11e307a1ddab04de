"""The fillable shape of a record schema: which fields a spreadsheet column can set, and how.

A file cell is text (CSV) or a typed spreadsheet value (XLSX); an Avro field wants one exact
type. This module walks the registered schema once into a tree of :class:`Field` so that the
mapping can be checked against it and each cell converted without looking at Avro again.
Nested records (also optional ones and references) are entered; arrays, maps, bytes and unions
of several types are ``UNSUPPORTED``: a file cannot fill them, but they may stay at their default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from bus.errors import ConfigError
from bus.policy.schema_paths import AvroNames, Definition, enum_symbols, namespace_of

__all__ = ["NO_DEFAULT", "Field", "Kind", "RecordShape", "record_shape"]


class Kind(StrEnum):
    STRING = "string"
    INT = "int"
    LONG = "long"
    FLOAT = "float"
    DOUBLE = "double"
    BOOLEAN = "boolean"
    ENUM = "enum"
    DATE = "date"
    RECORD = "record"
    UNSUPPORTED = "unsupported"


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Final = _NoDefault()
"""Marks a field without an Avro default (``None`` is a real default: null)."""


@dataclass(frozen=True)
class Field:
    """One schema field as a file can fill it; ``path`` is dotted from the top-level record."""

    path: str
    name: str
    kind: Kind
    nullable: bool
    default: Any
    symbols: tuple[str, ...] = ()
    children: tuple[Field, ...] = ()
    type_text: str = ""

    @property
    def required(self) -> bool:
        """A value must come from the file or the mapping: not nullable and no schema default."""
        return not self.nullable and self.default is NO_DEFAULT


@dataclass(frozen=True)
class RecordShape:
    """The top-level record: its full name and fields, with every dotted path indexed."""

    full_name: str
    fields: tuple[Field, ...]
    by_path: dict[str, Field]


def record_shape(schema_text: str) -> RecordShape:
    """Walk a registered record schema (JSON text) into its fillable shape."""
    document = json.loads(schema_text)
    names = AvroNames(document)
    root = names.record_of(document, None)
    if root is None:
        raise ConfigError(
            "the registered schema is not an Avro record", hint="files can only fill record schemas"
        )
    by_path: dict[str, Field] = {}
    fields = _fields(names, root, "", by_path, seen=frozenset())
    return RecordShape(root.full_name, fields, by_path)


def _fields(
    names: AvroNames, record: Definition, prefix: str, by_path: dict[str, Field], seen: frozenset[str]
) -> tuple[Field, ...]:
    namespace = namespace_of(record.full_name)
    out = []
    for raw in record.schema.get("fields", ()):
        path = f"{prefix}{raw['name']}"
        avro_type = raw["type"]
        branches = avro_type if isinstance(avro_type, list) else [avro_type]
        nullable = any(b == "null" or b == {"type": "null"} for b in branches)
        rest = [b for b in branches if b != "null" and b != {"type": "null"}]
        default = raw.get("default", NO_DEFAULT)
        kind = Kind.UNSUPPORTED
        symbols: tuple[str, ...] = ()
        children: tuple[Field, ...] = ()
        if len(rest) == 1:
            inner = names.record_of(rest[0], namespace)
            if inner is not None and inner.full_name not in seen:  # recursive types stay unsupported
                kind = Kind.RECORD
                children = _fields(names, inner, f"{path}.", by_path, seen | {inner.full_name})
            elif inner is None:
                kind = _leaf_kind(rest[0])
                found = enum_symbols(names, rest[0], namespace)
                if found is not None:
                    kind, symbols = Kind.ENUM, tuple(str(s) for s in found)
        field = Field(path, raw["name"], kind, nullable, default, symbols, children, _type_text(avro_type))
        by_path[path] = field
        out.append(field)
    return tuple(out)


_PRIMITIVE_KINDS: Final = {
    "string": Kind.STRING,
    "int": Kind.INT,
    "long": Kind.LONG,
    "float": Kind.FLOAT,
    "double": Kind.DOUBLE,
    "boolean": Kind.BOOLEAN,
}


def _leaf_kind(avro_type: Any) -> Kind:
    if isinstance(avro_type, str):
        return _PRIMITIVE_KINDS.get(avro_type, Kind.UNSUPPORTED)
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical == "date" and avro_type.get("type") == "int":
            return Kind.DATE
        if logical is None and isinstance(avro_type.get("type"), str):
            return _PRIMITIVE_KINDS.get(avro_type["type"], Kind.UNSUPPORTED)
    return Kind.UNSUPPORTED


def _type_text(avro_type: Any) -> str:
    if isinstance(avro_type, list):
        return "[" + ", ".join(_type_text(b) for b in avro_type) + "]"
    if isinstance(avro_type, dict):
        return str(avro_type.get("logicalType") or avro_type.get("name") or avro_type.get("type"))
    return str(avro_type)
