"""Turn a table row (column -> Python value) into a bus record and its key, as the YAML says.

Pure: the same function serves snapshot rows and replicated tuples, so a record looks the same
whichever way it arrived. Every failure is a ``RowMappingError`` naming table, column and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.postgres.config import Conversion, FieldSpec, TableConfig
from connectors.postgres.errors import RowMappingError

Row = Mapping[str, Any]


class RowMapper:
    """The compiled mapping of one table."""

    def __init__(self, config: TableConfig) -> None:
        self.config = config
        self.table = config.table
        self.record_type = config.record_type
        self.key_columns = tuple(config.key)
        self.columns = frozenset(config.columns())

    def key(self, row: Row) -> str:
        """The record key: the key columns' values as text, joined by ``/`` when there are several."""
        parts = []
        for column in self.key_columns:
            value = row.get(column)
            if value is None:
                raise RowMappingError(
                    self.table,
                    column,
                    "(key)",
                    f"table {self.table}: key column {column} is NULL or missing",
                    hint=f"make {column} NOT NULL or choose other key columns; deletes need the key in "
                    f"the replica identity (ALTER TABLE {self.table} REPLICA IDENTITY FULL)",
                )
            parts.append(_text(value))
        return "/".join(parts)

    def record(self, row: Row) -> dict[str, Any]:
        """The record for ``row``; fields whose spec yields nothing are left out (Avro defaults apply)."""
        return {name: self._field(name, spec, row) for name, spec in self.config.fields.items()}

    def _field(self, path: str, spec: FieldSpec, row: Row) -> Any:
        if spec.fields is not None:
            nested = {name: self._field(f"{path}.{name}", sub, row) for name, sub in spec.fields.items()}
            if spec.null_when_empty and all(row.get(c) is None for c in spec.columns()):
                return None
            return nested
        if spec.column is None:
            return spec.value
        value = row.get(spec.column)
        if value is None:
            return spec.default
        try:
            if spec.enum is not None:
                return _enum(value, spec.enum)
            if spec.convert is not None:
                return _convert(value, spec.convert, spec.format)
        except (ValueError, TypeError) as exc:
            raise RowMappingError(
                self.table,
                spec.column,
                path,
                f"table {self.table}: a {type(value).__name__} value of column {spec.column} cannot "
                f"become field {path}: {exc}",
                hint=f"fix the row at the source, or the `{path}` entry of the mapping (as/format/enum)",
            ) from None
        return value


def _enum(value: Any, symbols: Mapping[str, str]) -> str:
    text = _text(value)
    if text not in symbols:
        raise ValueError(f"the value is not one of the mapped source values {sorted(symbols)}")
    return symbols[text]


def _convert(value: Any, conversion: Conversion, fmt: str | None) -> Any:
    if conversion is Conversion.STRING:
        return _text(value)
    if conversion is Conversion.INT:
        if isinstance(value, bool) or (isinstance(value, float | Decimal) and value != int(value)):
            raise ValueError("is not a whole number")
        return int(value)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise TypeError(f"a {type(value).__name__} is not a date")
    try:
        return datetime.strptime(value, fmt).date() if fmt else date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"the text is not a date in the form {fmt or 'YYYY-MM-DD'}") from None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)
