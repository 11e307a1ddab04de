"""One file row → one record in the schema's shape, or the list of what is wrong with it.

Conversion never raises for bad data: a row with a wrong IIN check digit, a missing required
field or an unreadable date comes back with its problems (row, column, field, value, reason)
so the import can reject that row and carry on. Only a mapping that cannot fit the file at
all (a mapped column missing from the header) is an error, before the first row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from openpyxl.utils.datetime import from_excel

from bus.validate.fields import check_identifiers, check_key, identifier_validator
from bus.validate.iin import validate_bin, validate_iin
from connectors.files.mapping import ColumnRule, FileMapping, MappingError, normalize_header
from connectors.files.shape import NO_DEFAULT, Field, Kind, RecordShape

__all__ = ["Converted", "RowConverter", "RowProblem"]

_INT_RANGE: Final = {Kind.INT: (-(2**31), 2**31 - 1), Kind.LONG: (-(2**63), 2**63 - 1)}
_TRUE: Final = frozenset({"true", "1", "yes", "y", "да", "д", "иә"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "нет", "н", "жоқ"})
_NUMBER_SPACES: Final = str.maketrans("", "", " \u00a0\u202f\u2009'")
_IDENTIFIER_DIGITS: Final = 12
_EPOCH: Final = dt.date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why one cell (or one row, when ``column`` is empty) cannot be published."""

    row: int
    column: str
    field: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class Converted:
    """A converted row: ``record`` is None exactly when ``problems`` is not empty."""

    row: int
    key: str | None
    record: dict[str, Any] | None
    problems: tuple[RowProblem, ...]


class _Bad(Exception):
    """A cell value that does not convert; the message is the reason a clerk reads."""


@dataclass(frozen=True, slots=True)
class _Leaf:
    index: int
    column: str
    path: str
    convert: Callable[[Any], Any]
    empty: frozenset[str]
    strip: bool


class RowConverter:
    """Bound to one file's header: converts its rows; ``ignored_columns`` are headers not mapped."""

    def __init__(
        self, mapping: FileMapping, shape: RecordShape, key_field: str, header: Sequence[str], source: str
    ) -> None:
        self._shape = shape
        self._key_field = key_field
        positions: dict[str, int] = {}
        for index, text in enumerate(header):
            positions.setdefault(normalize_header(text), index)
        missing = [column for column in mapping.columns if normalize_header(column) not in positions]
        if missing:
            raise MappingError(
                source,
                [f"column {c!r} is not in the file's header" for c in missing],
                hint=f"the header has: {', '.join(repr(h) for h in header if h)}; "
                "correct the column names in the mapping (case and extra spaces do not matter)",
            )
        empty = frozenset(mapping.empty)
        self._leaves = tuple(
            _Leaf(
                positions[normalize_header(column)],
                column,
                rule.field,
                _converter(shape.by_path[rule.field], rule, mapping.date_formats),
                empty,
                rule.strip,
            )
            for column, rule in mapping.columns.items()
        )
        self.columns = {leaf.path: leaf.column for leaf in self._leaves}
        mapped = {leaf.index for leaf in self._leaves}
        self.ignored_columns = [text for index, text in enumerate(header) if index not in mapped and text]
        self._defaults: dict[str, Any] = {}
        problems = []
        for path, raw in mapping.defaults.items():
            field = shape.by_path[path]
            try:
                self._defaults[path] = _converter(field, ColumnRule(field=path), mapping.date_formats)(raw)
            except _Bad as exc:
                problems.append(f"default {path!r}: {exc}")
        if problems:
            raise MappingError(source, problems)

    def convert(self, row: int, cells: Sequence[Any]) -> Converted:
        """Build the record of one row, collecting every problem instead of stopping at the first."""
        values: dict[str, Any] = {}
        empty: set[str] = set()
        problems: list[RowProblem] = []
        for leaf in self._leaves:
            raw = cells[leaf.index] if leaf.index < len(cells) else None
            if isinstance(raw, str):
                text = raw.strip() if leaf.strip else raw
                raw = None if text in leaf.empty or raw.strip() in leaf.empty else text
            if raw is None:
                empty.add(leaf.path)
                continue
            try:
                values[leaf.path] = leaf.convert(raw)
            except _Bad as exc:
                problems.append(RowProblem(row, leaf.column, leaf.path, _shown(raw), str(exc)))
        record = self._build(self._shape.fields, values, row, problems, bad={p.field for p in problems})
        for found in check_identifiers(record):
            column, shown = self.columns.get(found.path, ""), _shown(_get(record, found.path))
            problems.append(RowProblem(row, column, found.path, shown, found.reason))
        key = record.get(self._key_field)
        if key is not None and not any(p.field == self._key_field for p in problems):
            for found in check_key(str(key), self._key_field, record):
                column = self.columns.get(self._key_field, "")
                problems.append(RowProblem(row, column, self._key_field, _shown(key), found.reason))
        elif key is None and not any(p.field == self._key_field for p in problems):
            column = self.columns.get(self._key_field, "")
            problems.append(RowProblem(row, column, self._key_field, "", "the record key is empty"))
        if problems:
            return Converted(row, None if key is None else str(key), None, tuple(problems))
        return Converted(row, str(key), record, ())

    def _build(
        self,
        fields: tuple[Field, ...],
        values: dict[str, Any],
        row: int,
        problems: list[RowProblem],
        bad: set[str],
    ) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for field in fields:
            if field.kind is Kind.RECORD:
                prefix = f"{field.path}."
                present = any(path.startswith(prefix) for path in values) or any(
                    path.startswith(prefix) for path in bad
                )
                if present or field.required:
                    record[field.name] = self._build(field.children, values, row, problems, bad)
                else:
                    record[field.name] = _schema_default(field)
            elif field.path in values:
                record[field.name] = values[field.path]
            elif field.path in self._defaults:
                record[field.name] = self._defaults[field.path]
            elif field.path in bad:
                continue
            elif not field.required:
                record[field.name] = _schema_default(field)
            else:
                column = self.columns.get(field.path, "")
                reason = "required field is empty" if column else "required field has no column or default"
                problems.append(RowProblem(row, column, field.path, "", reason))
        return record


def _schema_default(field: Field) -> Any:
    if field.default is NO_DEFAULT:
        return None
    if field.kind is Kind.DATE and isinstance(field.default, int):
        return _EPOCH + dt.timedelta(days=field.default)
    return field.default


def _get(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _shown(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return "" if value is None else str(value)


def _converter(field: Field, rule: ColumnRule, date_formats: tuple[str, ...]) -> Callable[[Any], Any]:
    kind = field.kind
    if kind is Kind.STRING:
        return _string(field, rule)
    if kind is Kind.ENUM:
        return _enum(field, rule)
    if kind is Kind.DATE:
        return _date(rule.formats or date_formats)
    if kind in (Kind.INT, Kind.LONG):
        return _integer(*_INT_RANGE[kind])
    if kind in (Kind.FLOAT, Kind.DOUBLE):
        return _number
    if kind is Kind.BOOLEAN:
        return _boolean
    raise AssertionError(f"check_mapping lets no {kind} field through")  # pragma: no cover


def _text(raw: Any) -> str:
    """A cell as text; spreadsheets store numbers (an IIN typed as a number) and dates as such."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat() if raw.time() == dt.time() else raw.isoformat(sep=" ")
    if isinstance(raw, dt.date):
        return raw.isoformat()
    return str(raw)


def _lookup(values: dict[str, str] | None) -> Callable[[str], str]:
    if not values:
        return lambda text: text
    exact = dict(values)
    folded = {k.strip().casefold(): v for k, v in values.items()}
    return lambda text: exact.get(text) or folded.get(text.casefold(), text)


def _string(field: Field, rule: ColumnRule) -> Callable[[Any], Any]:
    lookup = _lookup(rule.values)
    case = rule.case
    numeric_id = identifier_validator(field.name) in (validate_iin, validate_bin)

    def convert(raw: Any) -> str:
        text = lookup(_text(raw))
        if numeric_id and isinstance(raw, int | float) and len(text) < _IDENTIFIER_DIGITS:
            text = text.zfill(_IDENTIFIER_DIGITS)  # Excel drops the leading zero of IINs born in 2000s
        if case == "upper":
            return text.upper()
        return text.lower() if case == "lower" else text

    return convert


def _enum(field: Field, rule: ColumnRule) -> Callable[[Any], Any]:
    lookup = _lookup(rule.values)
    symbols = set(field.symbols)
    listed = ", ".join(field.symbols)

    def convert(raw: Any) -> str:
        text = lookup(_text(raw))
        for candidate in (text, text.upper()):
            if candidate in symbols:
                return candidate
        raise _Bad(f"{text!r} is not one of {listed}; add it under 'enum' for this column in the mapping")

    return convert


def _date(formats: tuple[str, ...]) -> Callable[[Any], Any]:
    shown = " or ".join(formats)

    def convert(raw: Any) -> dt.date:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            try:
                value = from_excel(raw)
            except (ValueError, OverflowError):
                raise _Bad(f"{raw!r} is not a spreadsheet date") from None
            return value.date() if isinstance(value, dt.datetime) else value
        text = _text(raw)
        for form in formats:
            try:
                return dt.datetime.strptime(text, form).date()
            except ValueError:
                continue
        raise _Bad(f"{text!r} is not a date in the form {shown}")

    return convert


def _integer(low: int, high: int) -> Callable[[Any], Any]:
    def convert(raw: Any) -> int:
        if isinstance(raw, bool):
            raise _Bad(f"{raw!r} is not a whole number")
        if isinstance(raw, int):
            value = raw
        elif isinstance(raw, float) and raw.is_integer():
            value = int(raw)
        else:
            try:
                value = int(_text(raw).translate(_NUMBER_SPACES))
            except ValueError:
                raise _Bad(f"{_text(raw)!r} is not a whole number") from None
        if not low <= value <= high:
            raise _Bad(f"{value} is outside the range {low}..{high}")
        return value

    return convert


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise _Bad(f"{raw!r} is not a number")
    if isinstance(raw, int | float):
        return float(raw)
    text = _text(raw).translate(_NUMBER_SPACES)
    text = text.replace(",", "") if "." in text else text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        raise _Bad(f"{_text(raw)!r} is not a number (use digits, with ',' or '.' before decimals)") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _Bad(f"{_text(raw)!r} is not a finite number")
    return value


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = _text(raw).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Bad(f"{text!r} is not yes/no (true/false, 1/0, да/нет)")
