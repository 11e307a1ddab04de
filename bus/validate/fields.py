"""Check every identifier inside a record, by field name, and say which field is wrong.

Field-name conventions of the canonical schemas: ``iin`` / ``*_iin``, ``bin`` / ``*_bin``,
``vin``, ``cadastral_number``. A person's ``iin`` is also checked against its
``birth_date`` and ``sex``. VINs are checked for form only: the ISO 3779 check digit is
mandatory in North America but not for the European and Asian vehicles common here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from bus.validate.cadastral import validate_cadastral
from bus.validate.iin import validate_bin, validate_iin
from bus.validate.result import Invalid, Verdict
from bus.validate.vin import validate_vin

__all__ = ["MAX_KEY_LENGTH", "FieldProblem", "check_identifiers", "check_key", "identifier_validator"]

MAX_KEY_LENGTH = 256


@dataclass(frozen=True, slots=True)
class FieldProblem:
    path: str
    reason: str


@cache  # schemas have few field names and every event asks again for each of them
def identifier_validator(field: str) -> Callable[[str], Verdict] | None:
    """The validator a field name calls for, or None for ordinary fields."""
    if field == "iin" or field.endswith("_iin"):
        return validate_iin
    if field == "bin" or field.endswith("_bin"):
        return validate_bin
    if field == "vin":
        return _validate_vin_form
    if field == "cadastral_number":
        return validate_cadastral
    return None


def check_identifiers(record: Mapping[str, Any], *, prefix: str = "") -> list[FieldProblem]:
    """Every invalid identifier in ``record`` (nested records included), with its dotted path."""
    problems: list[FieldProblem] = []
    for field, value in record.items():
        if type(value) is dict or isinstance(value, Mapping):
            problems += check_identifiers(value, prefix=f"{prefix}{field}.")
            continue
        if value is None:
            continue
        validator = identifier_validator(field)
        if validator is None:
            continue
        verdict = _person_iin(record, str(value)) if field == "iin" and not prefix else validator(str(value))
        if isinstance(verdict, Invalid):
            problems.append(FieldProblem(f"{prefix}{field}", verdict.reason))
    return problems


def check_key(key: str, key_field: str | None, record: Mapping[str, Any] | None) -> list[FieldProblem]:
    """A record key must be printable, a valid identifier when the record has one, and equal to it."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        return [FieldProblem("key", f"must be 1-{MAX_KEY_LENGTH} printable characters")]
    validator = identifier_validator(key_field) if key_field else None
    verdict = validator(key) if validator else None
    if isinstance(verdict, Invalid):
        return [FieldProblem("key", verdict.reason)]
    if record is not None and key_field and record.get(key_field) != key:
        return [FieldProblem("key", f"must equal the record's {key_field} ({record.get(key_field)!r})")]
    return []


def _validate_vin_form(value: str) -> Verdict:
    return validate_vin(value, require_check_digit=False)


def _person_iin(record: Mapping[str, Any], value: str) -> Verdict:
    birth = record.get("birth_date")
    if isinstance(birth, str):  # JSON input (HTTP gateway, CLI) carries ISO dates
        try:
            birth = date.fromisoformat(birth)
        except ValueError:
            birth = None  # the schema check reports the bad date itself
    sex = record.get("sex")
    return validate_iin(
        value,
        birth_date=birth if isinstance(birth, date) else None,
        sex=sex if sex in ("MALE", "FEMALE") else None,
    )
