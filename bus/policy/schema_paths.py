"""Dotted field paths over Avro record schemas: following them through nested records.

A path such as ``registered_address.region`` steps from a record into one of its fields; it
may pass through a nested record, an optional nested record (``["null", record]``) or a
reference to a named record defined earlier in the schema. Arrays, maps and other unions are
leaves: they can be granted whole, not entered. Shared by ``agreement`` (checking paths) and
``compile`` (deriving the delivery schema).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "NAMED",
    "PRIMITIVES",
    "AvroNames",
    "Definition",
    "ancestors",
    "describe",
    "enum_symbols",
    "field_named",
    "namespace_of",
    "path_problem",
    "provider_root",
    "qualify",
]


def ancestors(path: str) -> Iterator[str]:
    """``a.b.c`` → ``a``, ``a.b`` (the proper prefixes, outermost first)."""
    parts = path.split(".")
    for end in range(1, len(parts)):
        yield ".".join(parts[:end])


PRIMITIVES: Final = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED: Final = frozenset({"record", "error", "enum", "fixed"})


def qualify(name: str, namespace: str | None) -> str:
    """The full name of a type named ``name`` in ``namespace`` (a dotted name is already full)."""
    return name if "." in name or not namespace else f"{namespace}.{name}"


def namespace_of(name: str) -> str | None:
    return name.rpartition(".")[0] or None


@dataclass(frozen=True)
class Definition:
    schema: dict[str, Any]
    full_name: str


class AvroNames:
    """The named types of one Avro schema, by full name, so references can be followed."""

    def __init__(self, schema: Any) -> None:
        self.types: dict[str, Definition] = {}
        self._collect(schema, None)

    def _collect(self, avro_type: Any, namespace: str | None) -> None:
        if isinstance(avro_type, list):
            for branch in avro_type:
                self._collect(branch, namespace)
            return
        if not isinstance(avro_type, dict):
            return
        kind = avro_type.get("type")
        if isinstance(kind, dict | list):
            self._collect(kind, namespace)
        elif kind in NAMED and isinstance(avro_type.get("name"), str):
            full = self.full_name(avro_type, namespace)
            self.types.setdefault(full, Definition(avro_type, full))
            for field in avro_type.get("fields", ()) if kind in {"record", "error"} else ():
                if isinstance(field, dict):
                    self._collect(field.get("type"), namespace_of(full))
        elif kind == "array":
            self._collect(avro_type.get("items"), namespace)
        elif kind == "map":
            self._collect(avro_type.get("values"), namespace)

    @staticmethod
    def full_name(definition: Mapping[str, Any], namespace: str | None) -> str:
        own = definition.get("namespace")
        return qualify(str(definition["name"]), own if own is not None else namespace)

    def resolve(self, reference: str, namespace: str | None) -> Definition | None:
        """The definition a type name refers to (short names resolve in ``namespace`` first)."""
        return self.types.get(qualify(reference, namespace)) or self.types.get(reference)

    def record_of(self, avro_type: Any, namespace: str | None) -> Definition | None:
        """The record ``avro_type`` denotes, directly, by reference, or as the one non-null union branch."""
        if isinstance(avro_type, str):
            if avro_type in PRIMITIVES:
                return None
            definition = self.resolve(avro_type, namespace)
            return definition if definition and definition.schema.get("type") in {"record", "error"} else None
        if isinstance(avro_type, list):
            branches = [b for b in avro_type if b != "null" and b != {"type": "null"}]
            return self.record_of(branches[0], namespace) if len(branches) == 1 else None
        if isinstance(avro_type, dict):
            kind = avro_type.get("type")
            if isinstance(kind, dict | list):
                return self.record_of(kind, namespace)
            if kind in {"record", "error"} and isinstance(avro_type.get("name"), str):
                return Definition(avro_type, self.full_name(avro_type, namespace))
        return None


def field_named(record: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    for field in record.get("fields", ()):
        if isinstance(field, dict) and field.get("name") == name:
            return field
    return None


def describe(avro_type: Any) -> str:
    """A short human name for a type: ``string``, ``[null, string]``, ``RegisteredAddress``."""
    if isinstance(avro_type, list):
        return "[" + ", ".join(describe(branch) for branch in avro_type) + "]"
    if isinstance(avro_type, dict):
        kind = avro_type.get("type")
        return str(avro_type.get("name") or avro_type.get("logicalType") or describe(kind))
    return str(avro_type)


def path_problem(names: AvroNames, root: Definition, path: str) -> tuple[str | None, Any, str | None]:
    """Walk ``path`` down the record ``root``.

    Returns ``(problem, None, None)``, or ``(None, type, namespace)`` with the last field's type
    and the namespace its references resolve in.
    """
    record = root
    parts = path.split(".")
    for depth, part in enumerate(parts):
        field = field_named(record.schema, part)
        if field is None:
            known = ", ".join(
                str(f.get("name")) for f in record.schema.get("fields", ()) if isinstance(f, dict)
            )
            return f"record {record.full_name} has no field {part!r} (its fields: {known})", None, None
        if depth == len(parts) - 1:
            return None, field.get("type"), namespace_of(record.full_name)
        inner = names.record_of(field.get("type"), namespace_of(record.full_name))
        if inner is None:
            done = ".".join(parts[: depth + 1])
            return (
                f"{done!r} is of type {describe(field.get('type'))}, not a record or an optional record, "
                f"so nothing can be selected inside it; name {done!r} itself",
                None,
                None,
            )
        record = inner
    raise AssertionError("unreachable: a path has at least one part")


def enum_symbols(names: AvroNames, avro_type: Any, namespace: str | None) -> list[Any] | None:
    """The symbols of an enum (or optional enum) type; None for any other type."""
    if isinstance(avro_type, list):
        found = [enum_symbols(names, branch, namespace) for branch in avro_type if branch != "null"]
        return found[0] if len(found) == 1 else None
    if isinstance(avro_type, str) and avro_type not in PRIMITIVES:
        definition = names.resolve(avro_type, namespace)
        return enum_symbols(names, definition.schema, namespace) if definition else None
    if isinstance(avro_type, dict):
        kind = avro_type.get("type")
        if isinstance(kind, dict | list):
            return enum_symbols(names, kind, namespace)
        if kind == "enum":
            return list(avro_type.get("symbols", ()))
    return None


def provider_root(provider_schema: Mapping[str, Any]) -> tuple[AvroNames, Definition | None]:
    """The named types of a provider schema and its top-level record (None if it is not a record)."""
    names = AvroNames(dict(provider_schema))
    return names, names.record_of(dict(provider_schema), None)
