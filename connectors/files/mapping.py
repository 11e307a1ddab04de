"""The mapping file: which spreadsheet column fills which schema field, and how to read it.

Agencies export with their own headers ("ИИН", "Дата рождения"); the mapping names them
once, checked against the registered schema before any row is read, so a typo fails the whole
import with the list of valid fields instead of rejecting every row. Example::

    columns:
      ИИН: iin
      Дата рождения: {field: birth_date, date: "%d.%m.%Y"}
      Пол: {field: sex, enum: {Муж: MALE, Жен: FEMALE}}
      Населённый пункт: registered_address.settlement
    defaults:
      citizenship: KAZ
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bus.errors import ConfigError
from connectors.files.shape import Field as SchemaField
from connectors.files.shape import Kind, RecordShape

__all__ = ["ColumnRule", "FileMapping", "MappingError", "check_mapping", "load_mapping", "normalize_header"]

DefaultValue = str | int | float | bool | dt.date | None
_SPACES = re.compile(r"\s+")


class MappingError(ConfigError):
    """The mapping file cannot be read or does not fit the record schema; ``problems`` lists each."""

    code = "file_mapping_invalid"

    def __init__(self, source: str, problems: list[str], *, hint: str = "") -> None:
        super().__init__(
            f"mapping {source}: " + "; ".join(problems),
            hint=hint or "correct the mapping file (columns: <header>: <field path>) and run again",
        )
        self.problems = problems


def normalize_header(text: object) -> str:
    """Headers match ignoring case, surrounding spaces and repeated inner spaces (exports vary)."""
    return _SPACES.sub(" ", str(text if text is not None else "")).strip().casefold()


class ColumnRule(BaseModel):
    """How one column becomes one field: a dotted schema path plus optional transforms."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: str
    formats: tuple[str, ...] = Field(default=(), alias="date")
    values: dict[str, str] | None = Field(default=None, alias="enum")
    case: Literal["upper", "lower"] | None = None
    strip: bool = True

    @field_validator("formats", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("values", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value


class FileMapping(BaseModel):
    """A whole mapping file; ``record_type`` and ``key`` may also come from the command line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_type: str | None = None
    key: str | None = None
    columns: dict[str, ColumnRule]
    defaults: dict[str, DefaultValue] = {}
    empty: tuple[str, ...] = ("", "-", "—")
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)

    @field_validator("columns", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {str(k): {"field": v} if isinstance(v, str) else v for k, v in value.items()}


def load_mapping(path: Path) -> FileMapping:
    """Read and validate a mapping YAML file; every problem is named in one ``MappingError``."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise MappingError(str(path), [f"cannot read it: {exc.strerror}"], hint="check the path") from None
    except UnicodeDecodeError:
        raise MappingError(str(path), ["it is not UTF-8 text"], hint="save the mapping as UTF-8") from None
    except yaml.YAMLError as exc:
        raise MappingError(str(path), [f"not valid YAML: {exc}"]) from None
    if not isinstance(document, dict):
        raise MappingError(str(path), ["expected a YAML mapping with a 'columns' section"])
    try:
        return FileMapping.model_validate(document)
    except ValidationError as exc:
        where = [".".join(str(p) for p in error["loc"]) or "top level" for error in exc.errors()]
        problems = [f"{at}: {error['msg']}" for at, error in zip(where, exc.errors(), strict=True)]
        raise MappingError(str(path), problems) from None


def check_mapping(mapping: FileMapping, shape: RecordShape, key_field: str, source: str) -> None:
    """Check every column, default and the key against the schema; raise one error naming all."""
    problems: list[str] = []
    targets: dict[str, str] = {}
    headers: dict[str, str] = {}
    for column, rule in mapping.columns.items():
        normalized = normalize_header(column)
        if normalized in headers:
            problems.append(f"columns {headers[normalized]!r} and {column!r} are the same header")
        headers[normalized] = column
        problem = _leaf_problem(shape, rule.field)
        if problem:
            problems.append(f"column {column!r}: {problem}")
            continue
        field = shape.by_path[rule.field]
        if rule.field in targets:
            problems.append(f"columns {targets[rule.field]!r} and {column!r} both fill {rule.field!r}")
        targets[rule.field] = column
        problems += [f"column {column!r}: {p}" for p in _rule_problems(rule, field)]
    for path in mapping.defaults:
        problem = _leaf_problem(shape, path)
        if problem:
            problems.append(f"default {path!r}: {problem}")
    filled = set(targets) | set(mapping.defaults)
    problems += _unfilled(shape.fields, filled, inside_optional=False)
    if key_field not in shape.by_path or "." in key_field:
        problems.append(f"key {key_field!r} is not a top-level field of {shape.full_name}")
    elif key_field not in targets:
        problems.append(f"key field {key_field!r} is not filled by any column; map the column holding it")
    if problems:
        raise MappingError(source, problems)


def _leaf_problem(shape: RecordShape, path: str) -> str | None:
    field = shape.by_path.get(path)
    if field is None:
        parent, _, name = path.rpartition(".")
        if parent and parent not in shape.by_path:
            return _leaf_problem(shape, parent)
        siblings = shape.by_path[parent].children if parent else shape.fields
        known = ", ".join(f.path for f in siblings)
        where = f"record field {parent!r}" if parent else shape.full_name
        return f"{where} has no field {name!r} (its fields: {known})"
    if field.kind is Kind.RECORD:
        inner = ", ".join(f.path for f in field.children)
        return f"{path!r} is a nested record; map its fields one by one ({inner})"
    if field.kind is Kind.UNSUPPORTED:
        return f"{path!r} has type {field.type_text}, which a file cell cannot fill"
    return None


def _rule_problems(rule: ColumnRule, field: SchemaField) -> list[str]:
    problems = []
    if rule.formats and field.kind is not Kind.DATE:
        problems.append(f"'date' formats apply to date fields, and {field.path!r} is {field.type_text}")
    if rule.values is not None:
        if field.kind not in (Kind.ENUM, Kind.STRING):
            problems.append(f"'enum' values apply to enum or string fields, not {field.type_text}")
        elif field.kind is Kind.ENUM:
            bad = sorted({v for v in rule.values.values() if v not in field.symbols})
            if bad:
                problems.append(
                    f"'enum' maps to {', '.join(bad)}, not symbols of {field.path!r} "
                    f"({', '.join(field.symbols)})"
                )
    return problems


def _unfilled(fields: tuple[SchemaField, ...], filled: set[str], *, inside_optional: bool) -> list[str]:
    """Required fields nothing fills (inside an optional record: only if that record is filled at all)."""
    problems = []
    for field in fields:
        if field.kind is Kind.RECORD:
            optional = not field.required
            touched = any(path.startswith(f"{field.path}.") for path in filled)
            if optional and not touched:
                continue
            problems += _unfilled(field.children, filled, inside_optional=optional)
        elif field.required and field.path not in filled:
            context = " (other fields of its record are mapped)" if inside_optional else ""
            problems.append(
                f"required field {field.path!r}{context} is neither mapped to a column nor given a default"
            )
    return problems
