"""House rules for the canonical record schemas in ``schemas/`` (DESIGN §3).

Every ``.avsc`` parses with both Avro implementations the bus meets (fastavro in the bus,
the Apache ``avro`` package on the agency side), lives under namespace ``gov.<directory>``,
is named after its file, and explains every field to the clerk who reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import pytest

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
SCHEMA_FILES = sorted(SCHEMAS.rglob("*.avsc"))
CANONICAL_RECORD_TYPES = {"person", "address", "legal_entity", "vehicle", "land_parcel"}
DATE = {"type": "int", "logicalType": "date"}

each_schema = pytest.mark.parametrize(
    "path", SCHEMA_FILES, ids=[str(path.relative_to(SCHEMAS)) for path in SCHEMA_FILES]
)


def load(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def types_within(avro_type: Any) -> Iterator[dict[str, Any]]:
    """Every complex type inside ``avro_type`` (itself included), depth first."""
    if isinstance(avro_type, list):
        for branch in avro_type:
            yield from types_within(branch)
    elif isinstance(avro_type, dict):
        yield avro_type
        kind = avro_type["type"]
        if isinstance(kind, dict | list):
            yield from types_within(kind)
        elif kind == "record":
            for field in avro_type["fields"]:
                yield from types_within(field["type"])
        elif kind == "array":
            yield from types_within(avro_type["items"])
        elif kind == "map":
            yield from types_within(avro_type["values"])


def records(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in types_within(schema) if t["type"] == "record"]


def fields(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(Record.field, field)`` for every field of every record, nested ones included."""
    for record in records(schema):
        for field in record["fields"]:
            yield f"{record['name']}.{field['name']}", field


def full_name(record: dict[str, Any], namespace: str) -> str:
    name: str = record["name"]
    return name if "." in name else f"{record.get('namespace', namespace)}.{name}"


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def is_date_like(field_name: str) -> bool:
    return field_name == "date" or field_name.endswith(("_date", "_on"))


def test_every_canonical_record_type_has_a_schema() -> None:
    assert {path.stem for path in SCHEMA_FILES} >= CANONICAL_RECORD_TYPES


@each_schema
def test_schema_parses_with_fastavro(path: Path) -> None:
    fastavro.parse_schema(load(path))


@each_schema
def test_schema_parses_with_apache_avro(path: Path) -> None:
    avro.schema.parse(path.read_text(encoding="utf-8"))


@each_schema
def test_namespace_is_gov_and_the_schema_directory(path: Path) -> None:
    namespace = load(path)["namespace"]
    assert namespace.startswith("gov.")
    assert namespace == f"gov.{path.parent.name}"


@each_schema
def test_file_stem_is_the_snake_case_record_name(path: Path) -> None:
    schema = load(path)
    assert schema["type"] == "record"
    assert path.stem == snake_case(schema["name"])


@each_schema
def test_every_record_has_a_doc(path: Path) -> None:
    undocumented = [r["name"] for r in records(load(path)) if not str(r.get("doc", "")).strip()]
    assert undocumented == []


@each_schema
def test_every_field_has_a_doc(path: Path) -> None:
    # given every field of the record and of the records nested in it
    # then each says what it means
    undocumented = [name for name, field in fields(load(path)) if not str(field.get("doc", "")).strip()]
    assert undocumented == []


@each_schema
def test_optional_fields_put_null_first_and_default_to_null(path: Path) -> None:
    misdeclared = [
        name
        for name, field in fields(load(path))
        if isinstance(field["type"], list)
        and "null" in field["type"]
        and (field["type"][0] != "null" or "default" not in field or field["default"] is not None)
    ]
    assert misdeclared == []


@each_schema
def test_date_like_fields_use_the_date_logical_type(path: Path) -> None:
    # given fields named date, *_date or *_on
    # then each (or its non-null branch) is an int with logical type date
    wrong = [
        name
        for name, field in fields(load(path))
        if is_date_like(field["name"])
        and [
            b for b in (field["type"] if isinstance(field["type"], list) else [field["type"]]) if b != "null"
        ]
        != [DATE]
    ]
    assert wrong == []


def test_record_full_names_are_unique_across_all_schemas() -> None:
    # given the full names of all records, top-level and nested, in every schema file
    names = [
        full_name(record, load(path)["namespace"]) for path in SCHEMA_FILES for record in records(load(path))
    ]
    # then no two files (and no two places in one file) define the same name
    assert sorted(names) == sorted(set(names))
