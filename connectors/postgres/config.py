"""The connector's YAML: which database, slot and publication, and how each table becomes records.

Validated once at start-up with pydantic (``extra="forbid"``: a misspelt option is an error
naming the entry, never silently ignored). The file format is documented in
``docs/connectors-postgres.md``; ``deploy/connectors/civil-registry.postgres.yaml`` is an example.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from bus.event.topics import agency_id
from connectors.postgres.errors import CdcConfigError

_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*$")
_QUALIFIED = re.compile(r"^[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*$")


def _qualified(value: object) -> object:
    """``citizens`` -> ``public.citizens``; names must be plain lower-case identifiers."""
    if isinstance(value, str) and "." not in value:
        value = f"public.{value}"
    if isinstance(value, str) and not _QUALIFIED.fullmatch(value):
        raise ValueError("must be a lower-case table name, optionally schema-qualified (registry.citizens)")
    return value


def _identifier(value: object) -> object:
    if isinstance(value, str) and not _IDENT.fullmatch(value):
        raise ValueError("must be a lower-case PostgreSQL identifier (letters, digits, _)")
    return value


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


Identifier = Annotated[str, BeforeValidator(_identifier)]
TableName = Annotated[str, BeforeValidator(_qualified)]


class Conversion(StrEnum):
    """What ``as:`` turns a column's value into before it becomes a field."""

    STRING = "string"
    INT = "int"
    DATE = "date"


class FieldSpec(BaseModel):
    """Where one record field comes from: a column (with transforms), a constant, or nested fields.

    Written as a bare column name (a rename), or as a mapping with exactly one of ``column``,
    ``value`` or ``fields``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    column: Identifier | None = None
    value: Any = None
    fields: dict[str, FieldSpec] | None = None
    convert: Conversion | None = Field(default=None, alias="as")
    format: str | None = None  # strptime format for ``as: date`` from text, e.g. "%d.%m.%Y"
    enum: dict[str, str] | None = None  # source value (as text) -> Avro enum symbol
    default: Any = None  # used when the column is NULL
    null_when_empty: bool = True  # nested: null record when all its source columns are NULL

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, data: Any) -> Any:
        return {"column": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        sources = [s for s in ("column", "value", "fields") if s in self.model_fields_set]
        if len(sources) != 1:
            raise ValueError("give exactly one of column, value or fields")
        if self.fields is None and "null_when_empty" in self.model_fields_set:
            raise ValueError("null_when_empty applies to nested fields only")
        if self.column is None and (self.convert or self.format or self.enum or self.default is not None):
            raise ValueError("as, format, enum and default apply to a column only")
        if self.format is not None and self.convert is not Conversion.DATE:
            raise ValueError("format needs `as: date`")
        return self

    def columns(self) -> set[str]:
        """Every source column this field reads."""
        if self.column is not None:
            return {self.column}
        return set().union(*(f.columns() for f in (self.fields or {}).values()))


class TableConfig(BaseModel):
    """One captured table: its record type, the key columns and the field mapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: TableName
    record_type: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    key: Annotated[list[Identifier], BeforeValidator(_as_list)] = Field(min_length=1)
    fields: dict[str, FieldSpec] = Field(min_length=1)

    def columns(self) -> set[str]:
        return set(self.key).union(*(f.columns() for f in self.fields.values()))


class SnapshotMode(StrEnum):
    INITIAL = "initial"  # publish every existing row as a `snapshot` event when the slot is created
    NEVER = "never"  # only changes from the slot's creation on


class ConnectorConfig(BaseModel):
    """A whole connector: one database, one slot, one publication, one agency, many tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agency: str
    system: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    key_file: Path
    database: str = Field(min_length=1)  # a libpq DSN or URL; passwords via PGPASSWORD or ~/.pgpass
    slot: Identifier
    publication: Identifier
    spool: Path
    snapshot: SnapshotMode = SnapshotMode.INITIAL
    batch_size: int = Field(default=500, ge=1, le=10_000)
    tables: list[TableConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ConnectorConfig:
        agency_id(self.agency)  # raises TopicNameError naming the bad id
        names = [t.table for t in self.tables]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"table {twice[0]} is mapped twice; map each table once")
        return self

    def table(self, name: str) -> TableConfig | None:
        return next((t for t in self.tables if t.table == name), None)


def load_config(path: Path) -> ConnectorConfig:
    """Read and check a connector YAML; relative paths in it are relative to the file."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CdcConfigError(
            f"cannot read connector config {path}: {exc}", hint="pass --config FILE"
        ) from None
    except yaml.YAMLError as exc:
        raise CdcConfigError(
            f"connector config {path} is not valid YAML: {exc}", hint="fix the syntax"
        ) from None
    if not isinstance(raw, dict):
        raise CdcConfigError(
            f"connector config {path} must be a mapping", hint="see docs/connectors-postgres.md"
        )
    for name in ("key_file", "spool"):
        if isinstance(raw.get(name), str) and not Path(raw[name]).is_absolute():
            raw[name] = str(path.parent / raw[name])
    try:
        return ConnectorConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise CdcConfigError(
            f"connector config {path}: {where}: {first['msg'].removeprefix('Value error, ')}",
            hint="see docs/connectors-postgres.md for the mapping format",
        ) from None
