"""An agreement compiled once: projection, ``where`` matcher, grant test and derived Avro schema.

The derived schema is what ``deliver.<consumer>.<agreement>`` carries: the provider's record
with only the granted fields, under the provider's full record name so a consumer's generated
classes keep their names. Nested records keep only their granted sub-fields; granting a whole
nested record keeps it whole. Optional stays optional, required stays required, and docs are
kept. Every named type is defined once and referenced by name afterwards, as both fastavro and
the Apache ``avro`` package require.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, TypeAlias
from uuid import UUID

import fastavro

from bus.errors import ConfigError, RecordInvalidError
from bus.policy.agreement import Agreement, Condition, schema_problems
from bus.policy.schema_paths import (
    PRIMITIVES,
    AvroNames,
    Definition,
    ancestors,
    namespace_of,
    path_problem,
    provider_root,
)

__all__ = ["CompiledAgreement", "changed_paths", "compile_agreement", "compile_for_version"]

# A grant tree: field name -> None (granted whole) or the grant tree of its sub-fields.
_Tree: TypeAlias = dict[str, "_Tree | None"]
# The same, frozen for the hot path: ((name, sub-plan or None for whole), ...).
_Plan: TypeAlias = tuple[tuple[str, "_Plan | None"], ...]

_WHOLE: Final = "whole"
# Types of decoded Avro values that hold no containers (checked by exact type: cheaper than an ABC).
_LEAVES: Final = frozenset({str, int, float, bool, bytes, type(None), date, datetime, Decimal, UUID})


@dataclass(frozen=True)
class CompiledAgreement:
    """An agreement ready for the hot path, with the Avro schema of its deliveries."""

    agreement: Agreement
    schema: dict[str, Any]
    _plan: _Plan = field(init=False, repr=False, compare=False)
    _granted: frozenset[str] = field(init=False, repr=False, compare=False)
    _inside: frozenset[str] = field(init=False, repr=False, compare=False)
    _where: tuple[tuple[tuple[str, ...], Condition], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = self.agreement.fields
        object.__setattr__(self, "_plan", _freeze(_grant_tree(fields)))
        object.__setattr__(self, "_granted", frozenset(fields))
        object.__setattr__(self, "_inside", frozenset(p for path in fields for p in ancestors(path)))
        where = self.agreement.where or {}
        object.__setattr__(self, "_where", tuple((tuple(path.split(".")), c) for path, c in where.items()))

    def __hash__(self) -> int:
        return hash(("CompiledAgreement", self.agreement.id))

    def project(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Only the granted paths of ``record``; a null nested record stays null.

        Fields absent from ``record`` stay absent (so Avro defaults apply when encoding).
        """
        return _project(record, self._plan, "")

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether every ``where`` condition holds for ``record`` (True when there are none)."""
        return all(condition.holds(_value_at(record, parts)) for parts, condition in self._where)

    def grants(self, changed_path: str) -> bool:
        """Whether a changed dotted path overlaps a granted one (either may be inside the other)."""
        if changed_path in self._granted or changed_path in self._inside:
            return True
        return any(parent in self._granted for parent in ancestors(changed_path))


def compile_agreement(agreement: Agreement, provider_schema: Mapping[str, Any]) -> CompiledAgreement:
    """Compile ``agreement`` against the provider's record schema; ``ConfigError`` if it does not fit."""
    problems = schema_problems(agreement, provider_schema)
    if problems:
        raise ConfigError(
            f"agreement {agreement.id!r} does not fit the {agreement.provider} {agreement.record_type} "
            "schema: " + "; ".join(problems),
            hint="correct the agreement's field paths to the provider's current schema and apply it again",
        )
    schema = _Deriver(provider_schema, agreement).derive()
    try:
        fastavro.parse_schema(copy.deepcopy(schema))
    except Exception as exc:  # fastavro raises several unrelated types for a bad schema
        raise ConfigError(
            f"agreement {agreement.id!r}: the derived delivery schema is not valid Avro: {exc}",
            hint="report this as a bug in bus.policy.compile, with the agreement and the provider schema",
        ) from exc
    return CompiledAgreement(agreement, schema)


def compile_for_version(
    agreement: Agreement, provider_schema: Mapping[str, Any]
) -> tuple[CompiledAgreement, tuple[str, ...]]:
    """``agreement`` compiled against one version of its provider's schema, and the granted paths it lacks.

    Events are delivered in the projection of the schema version they were written with
    (docs/processor.md). A version without a granted field (one added later, or removed since)
    projects to the granted fields it has: the consumer gets what that version carries and never
    more than granted. A ``where`` path must exist: a condition that cannot be checked is never
    taken as met, so a version without one raises ``ConfigError`` like ``compile_agreement``.
    """
    names, root = provider_root(provider_schema)
    missing = () if root is None else tuple(p for p in agreement.fields if path_problem(names, root, p)[0])
    if missing:
        kept = tuple(path for path in agreement.fields if path not in missing)
        agreement = agreement.model_copy(update={"fields": kept})
    return compile_agreement(agreement, provider_schema), missing


def changed_paths(previous: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Dotted paths of the leaf fields that differ between two versions of a record.

    Nested records are compared field by field; a nested record that appears or disappears
    (null on one side) is reported as its own path. A field missing on one side reads as null.
    Paths come in field order (``current``'s, then fields only ``previous`` has).
    """
    return tuple(_diff(previous or {}, current or {}, ""))


# --- grants and projection -----------------------------------------------------------------------


def _grant_tree(paths: tuple[str, ...]) -> _Tree:
    root: _Tree = {}
    for path in paths:
        *parents, leaf = path.split(".")
        node = root
        for part in parents:
            child = node.setdefault(part, {})
            if child is None:  # an ancestor is already granted whole (Agreement forbids this)
                break
            node = child
        else:
            node[leaf] = None
    return root


def _freeze(tree: _Tree) -> _Plan:
    return tuple((name, None if sub is None else _freeze(sub)) for name, sub in tree.items())


def _tree_key(tree: _Tree | None) -> Hashable:
    if tree is None:
        return _WHOLE
    return tuple(sorted((name, _tree_key(sub)) for name, sub in tree.items()))


def _project(record: Mapping[str, Any], plan: _Plan, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, sub in plan:
        if name not in record:
            continue
        value = record[name]
        if sub is None:
            out[name] = _copy_value(value)
        elif value is None:
            out[name] = None
        elif type(value) is dict or isinstance(value, Mapping):
            out[name] = _project(value, sub, f"{prefix}{name}.")
        else:
            raise RecordInvalidError(
                "record does not fit the agreement's projection",
                [(f"{prefix}{name}", f"expected a nested record or null, got {type(value).__name__}")],
                hint="validate records against the provider schema before evaluating agreements",
            )
    return out


def _copy_value(value: Any) -> Any:
    """A copy of the containers in ``value`` (so a projection never shares them); leaves as they are."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {key: _copy_value(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_copy_value(item) for item in value]
    return value


def _value_at(record: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    value: Any = record
    for part in parts:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _diff(previous: Mapping[str, Any], current: Mapping[str, Any], prefix: str) -> list[str]:
    changed: list[str] = []
    names = list(current) + [name for name in previous if name not in current]
    for name in names:
        before, after = previous.get(name), current.get(name)
        path = f"{prefix}{name}"
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            changed += _diff(before, after, f"{path}.")
        elif before != after:
            changed.append(path)
    return changed


# --- the derived schema --------------------------------------------------------------------------


class _Deriver:
    """Builds the derived schema in one walk, defining each named type once."""

    def __init__(self, provider_schema: Mapping[str, Any], agreement: Agreement) -> None:
        self._names, root = provider_root(provider_schema)
        if root is None:  # schema_problems has reported this already
            raise ConfigError(f"agreement {agreement.id!r}: the provider schema is not an Avro record schema")
        self._root = root
        self._agreement = agreement
        self._tree = _grant_tree(agreement.fields)
        # full name emitted -> which variant (whole, or the grant tree it was projected with)
        self._emitted: dict[str, Hashable] = {}

    def derive(self) -> dict[str, Any]:
        agreement = self._agreement
        schema = self._record(self._root, self._tree, "")
        if isinstance(schema, str):  # the root is the first thing emitted, so always a definition
            raise AssertionError("root record emitted as a reference")
        original = str(self._root.schema.get("doc", "")).strip()
        schema["doc"] = (
            f"Projection of {self._root.full_name} for agreement {agreement.id}: only the fields "
            f"{agreement.provider} shares with {agreement.consumer} ({agreement.purpose})."
            + (f" {original}" if original else "")
        )
        return schema

    def _claim(self, full_name: str, variant: Hashable, path: str) -> tuple[str, bool]:
        """The name to emit a named type under, and whether it still needs its definition.

        A type met again in the same variant is referenced by name; a different variant of the
        same type (projected differently at another path) gets a name of its own.
        """
        name = full_name
        if name in self._emitted and self._emitted[name] != variant:
            name = f"{full_name}_{path.replace('.', '_')}" if path else f"{full_name}_whole"
        if name in self._emitted:
            return name, False
        self._emitted[name] = variant
        return name, True

    def _record(self, definition: Definition, tree: _Tree, path: str) -> dict[str, Any] | str:
        name, define = self._claim(definition.full_name, _tree_key(tree), path)
        if not define:
            return name
        namespace = namespace_of(definition.full_name)
        out = self._named_header(definition.schema, name)
        fields: list[dict[str, Any]] = []
        for source in definition.schema.get("fields", ()):
            field_name = source["name"]
            if field_name not in tree:
                continue
            sub = tree[field_name]
            child_path = f"{path}.{field_name}" if path else field_name
            if sub is None:
                fields.append(
                    self._field(source, self._copy(source["type"], namespace), source.get("default"))
                )
            else:
                avro_type = self._narrowed(source["type"], namespace, sub, child_path)
                default = _project_default(source.get("default"), sub)
                fields.append(self._field(source, avro_type, default))
        out["fields"] = fields
        return out

    @staticmethod
    def _named_header(schema: Mapping[str, Any], full_name: str) -> dict[str, Any]:
        namespace, _, short = full_name.rpartition(".")
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "name":
                out["name"] = short
                if namespace:
                    out["namespace"] = namespace
            elif key not in {"namespace", "fields"}:
                out[key] = copy.deepcopy(value)
        return out

    @staticmethod
    def _field(source: Mapping[str, Any], avro_type: Any, default: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in source.items():
            if key == "type":
                out[key] = avro_type
            elif key == "default":
                out[key] = default
            else:
                out[key] = copy.deepcopy(value)
        return out

    def _narrowed(self, avro_type: Any, namespace: str | None, tree: _Tree, path: str) -> Any:
        """``avro_type`` (a record, optional record or reference) with the record projected to ``tree``."""
        if isinstance(avro_type, list):
            return [
                self._narrowed(branch, namespace, tree, path)
                if self._names.record_of(branch, namespace)
                else self._copy(branch, namespace)
                for branch in avro_type
            ]
        if isinstance(avro_type, dict) and isinstance(avro_type.get("type"), dict | list):
            return self._narrowed(avro_type["type"], namespace, tree, path)
        record = self._names.record_of(avro_type, namespace)
        if record is None:  # schema_problems guarantees a record here
            raise AssertionError(f"{path} is not a record")
        return self._record(record, tree, path)

    def _copy(self, avro_type: Any, namespace: str | None) -> Any:
        """``avro_type`` whole, with named types defined at their first use and referenced after."""
        if isinstance(avro_type, str):
            if avro_type in PRIMITIVES:
                return avro_type
            definition = self._names.resolve(avro_type, namespace)
            if definition is None:
                return avro_type
            return self._copy(definition.schema, namespace_of(definition.full_name))
        if isinstance(avro_type, list):
            return [self._copy(branch, namespace) for branch in avro_type]
        if not isinstance(avro_type, dict):
            return copy.deepcopy(avro_type)
        kind = avro_type.get("type")
        if isinstance(kind, dict | list):
            return {**copy.deepcopy(avro_type), "type": self._copy(kind, namespace)}
        if kind in {"record", "error", "enum", "fixed"}:
            full = AvroNames.full_name(avro_type, namespace)
            name, define = self._claim(full, _WHOLE, "")
            if not define:
                return name
            out = self._named_header(avro_type, name)
            if kind in {"record", "error"}:
                inner = namespace_of(full)
                out["fields"] = [
                    self._field(f, self._copy(f["type"], inner), f.get("default"))
                    for f in avro_type.get("fields", ())
                ]
            return out
        if kind == "array":
            return {**copy.deepcopy(avro_type), "items": self._copy(avro_type["items"], namespace)}
        if kind == "map":
            return {**copy.deepcopy(avro_type), "values": self._copy(avro_type["values"], namespace)}
        return copy.deepcopy(avro_type)


def _project_default(default: Any, tree: _Tree) -> Any:
    """A nested record field's default, cut down to the granted sub-fields."""
    if not isinstance(default, Mapping):
        return default
    out: dict[str, Any] = {}
    for name, sub in tree.items():
        if name in default:
            out[name] = _project_default(default[name], sub) if sub is not None else default[name]
    return out
