"""The data-sharing agreement: one reviewed YAML document per provider → consumer grant (DESIGN §5).

An agreement names who shares which record type with whom, the allow-list of dotted field
paths the consumer may see, why (purpose) and under which law (legal basis), when it is in
force, whether the citizen's consent is required, and optionally ``where`` conditions that
select the records it covers. ``load_agreements`` reads a folder of them and reports every
problem with the file, the field and what to do; ``schema_problems`` checks the paths
against the provider's Avro schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from bus.errors import ConfigError, TopicNameError
from bus.event import topics
from bus.ids import Subject, TopicName
from bus.policy.schema_paths import ancestors, enum_symbols, path_problem, provider_root

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

__all__ = [
    "Agreement",
    "Condition",
    "ConsentMode",
    "Disclosure",
    "load_agreement_file",
    "load_agreements",
    "parse_agreement",
    "schema_problems",
]

_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OPERATORS: Final = {"eq": "eq", "ne": "ne", "in_": "in", "not_in": "not_in", "exists": "exists"}
_NEEDS_VALUE: Final = {"in_", "not_in", "exists"}


class ConsentMode(StrEnum):
    NONE = "none"
    REQUIRED = "required"


class Condition(BaseModel):
    """One ``where`` condition on a dotted field path; exactly one operator is given.

    ``eq``/``ne`` compare with ``==`` (``eq: null`` selects records where the field is empty),
    ``in``/``not_in`` test membership in a list, ``exists: true`` means "present and not null".
    A path through a missing or null nested record reads as null. Dates compare as ISO text on
    both sides, so a condition means the same after a round trip through JSON (``bus.agreements``),
    and a condition serialises as it is written: ``{"in": [...]}``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    eq: Any = None
    ne: Any = None
    in_: list[Any] | None = Field(None, alias="in")
    not_in: list[Any] | None = None
    exists: bool | None = None

    @field_validator("eq", "ne")
    @classmethod
    def _comparable_value(cls, value: Any) -> Any:
        return _comparable(value)

    @field_validator("in_", "not_in")
    @classmethod
    def _comparable_values(cls, value: list[Any] | None) -> list[Any] | None:
        return None if value is None else [_comparable(item) for item in value]

    @model_validator(mode="after")
    def _exactly_one_operator(self) -> Condition:
        given = sorted(_OPERATORS[name] for name in self.model_fields_set if name in _OPERATORS)
        choices = ", ".join(_OPERATORS.values())
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            raise ValueError(f"give exactly one operator ({choices}); {found}")
        [name] = [name for name in self.model_fields_set if name in _OPERATORS]
        if name in _NEEDS_VALUE and getattr(self, name) is None:
            raise ValueError(f"operator {_OPERATORS[name]} needs a value, not null")
        return self

    @property
    def operator(self) -> str:
        """The operator as written in YAML (``eq``, ``ne``, ``in``, ``not_in`` or ``exists``)."""
        return next(_OPERATORS[name] for name in _OPERATORS if name in self.model_fields_set)

    @model_serializer(mode="plain")
    def _as_written(self) -> dict[str, Any]:
        name = next(name for name in _OPERATORS if name in self.model_fields_set)
        return {_OPERATORS[name]: getattr(self, name)}

    def holds(self, value: Any) -> bool:
        """Whether a field value satisfies this condition."""
        value = _comparable(value)
        fields_set = self.model_fields_set
        if "eq" in fields_set:
            return bool(value == self.eq)
        if "ne" in fields_set:
            return bool(value != self.ne)
        if self.in_ is not None:
            return value in self.in_
        if self.not_in is not None:
            return value not in self.not_in
        return (value is not None) is self.exists


_PURPOSE_CODE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$")


class Disclosure(BaseModel):
    """Delayed disclosure: the citizen sees deliveries under this agreement only from ``hidden_until``.

    A date hides each delivery until that day starts (UTC); a duration (ISO 8601, e.g. ``P90D``) hides
    each for that long after it was decided. Auditors and operators see them at once, marked hidden.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    hidden_until: date | timedelta
    reason: str
    legal_basis: str

    @field_validator("hidden_until", mode="before")
    @classmethod
    def _not_a_number(cls, value: object) -> object:
        if isinstance(value, int | float):
            raise ValueError("give a date (2027-06-01) or an ISO 8601 duration (P90D), not a bare number")
        return value

    @field_validator("hidden_until")
    @classmethod
    def _check_delay(cls, value: date | timedelta) -> date | timedelta:
        if isinstance(value, timedelta) and value <= timedelta(0):
            raise ValueError("a delay must be positive, e.g. P90D")
        return value

    @field_validator("reason", "legal_basis")
    @classmethod
    def _check_text(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty: the citizen is told it when the line appears")
        return value

    def due(self, decided: datetime) -> datetime:
        """When a delivery decided at ``decided`` becomes visible to the citizen."""
        if isinstance(self.hidden_until, timedelta):
            return decided + self.hidden_until
        return datetime.combine(self.hidden_until, time(), tzinfo=UTC)


class Agreement(BaseModel):
    """One data-sharing agreement, as reviewed and applied (``bus.agreements``, key = ``id``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    provider: str
    consumer: str
    record_type: str
    fields: tuple[str, ...]
    purpose: str
    legal_basis: str
    valid_from: date
    valid_until: date | None = None
    consent: ConsentMode = ConsentMode.NONE
    where: dict[str, Condition] | None = None
    replaces: str | None = None
    purpose_code: str | None = None
    disclosure: Disclosure | None = None

    @field_validator("purpose_code")
    @classmethod
    def _check_purpose_code(cls, value: str | None) -> str | None:
        if value is not None and not _PURPOSE_CODE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a purpose code: lower-case words joined by dots, e.g. tax.registration"
            )
        return value

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        return _named(value, "agreement_id")

    @field_validator("provider")
    @classmethod
    def _check_provider(cls, value: str) -> str:
        return _named(value, "agency_id")

    @field_validator("consumer")
    @classmethod
    def _check_consumer(cls, value: str, info: ValidationInfo) -> str:
        value = _named(value, "agency_id")
        if value == info.data.get("provider"):
            raise ValueError(
                f"the consumer is the provider ({value!r}); an agency needs no agreement with itself"
            )
        return value

    @field_validator("record_type")
    @classmethod
    def _check_record_type(cls, value: str) -> str:
        return _named(value, "record_type")

    @field_validator("fields")
    @classmethod
    def _check_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one field path the consumer may receive")
        for path in value:
            _check_path(path)
        seen: set[str] = set()
        for path in value:
            if path in seen:
                raise ValueError(f"{path!r} is listed twice")
            seen.add(path)
        for path in value:
            for parent in ancestors(path):
                if parent in seen:
                    raise ValueError(
                        f"{parent!r} already grants everything under it, so {path!r} is redundant; "
                        "list one of them"
                    )
        return value

    @field_validator("purpose", "legal_basis", "replaces")
    @classmethod
    def _check_text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("valid_until")
    @classmethod
    def _check_valid_until(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("valid_from")
        if value is not None and start is not None and value < start:
            raise ValueError(f"{value.isoformat()} is before valid_from {start.isoformat()}")
        return value

    @field_validator("where")
    @classmethod
    def _check_where(cls, value: dict[str, Condition] | None) -> dict[str, Condition] | None:
        for path in value or {}:
            _check_path(path)
        return value

    @property
    def delivery_topic(self) -> TopicName:
        """``deliver.<consumer>.<id>``: the topic this agreement's deliveries go to."""
        return topics.deliver(self.consumer, self.id)

    @property
    def subject(self) -> Subject:
        """The registry subject of the derived schema (TopicNameStrategy)."""
        return Subject(f"{self.delivery_topic}-value")


def _comparable(value: Any) -> Any:
    """Dates and times as ISO text, the form they keep in JSON; anything else as it is."""
    return value.isoformat() if isinstance(value, date) else value


def _named(value: str, rule: str) -> str:
    """Check a name with the naming rules of ``bus.event.topics`` (the one place they live)."""
    check = {
        "agreement_id": topics.agreement_id,
        "agency_id": topics.agency_id,
        "record_type": topics.record_type,
    }
    try:
        return str(check[rule](value))
    except TopicNameError as exc:
        raise ValueError(f"{exc.message}: {exc.hint}") from None


def _check_path(path: str) -> None:
    if not isinstance(path, str) or not all(_SEGMENT.fullmatch(part) for part in path.split(".")):
        raise ValueError(
            f"{path!r} is not a dotted field path: use Avro field names (letters, digits, _) joined by '.', "
            "e.g. registered_address.region"
        )


# --- loading a folder ---------------------------------------------------------------------------

_FIELD_HINTS: Final = {
    "id": "use lower-case letters, digits and hyphens (e.g. civil-to-tax) and name the file <id>.yaml",
    "provider": "use the provider's agency id from the directory, e.g. civil-registry",
    "consumer": "use the consumer's agency id from the directory, e.g. tax; it must differ from the provider",
    "record_type": "use the short record type of the provider's ingress topic, e.g. person",
    "fields": "list each dotted field path of the provider's record once, e.g. [iin, registered_address]",
    "purpose": "say in one line what the consumer uses the data for",
    "legal_basis": "cite the law and article that allows the sharing",
    "valid_from": "give the first day the agreement is in force as YYYY-MM-DD",
    "valid_until": "give the last day in force as YYYY-MM-DD, on or after valid_from, or omit it",
    "consent": "use none or required",
    "where": "map each dotted field path to exactly one operator: eq, ne, in, not_in or exists",
    "replaces": "name the paper certificate this delivery makes unnecessary, or omit it",
    "purpose_code": "use a code of the purpose code list (deploy/purpose-codes.yaml), e.g. tax.registration",
    "disclosure": "give hidden_until (a date or a duration such as P90D), reason and legal_basis",
}


def load_agreements(folder: Path) -> list[Agreement]:
    """Every agreement in ``folder`` (``*.yaml``/``*.yml``, one per file, sorted by file name).

    The file stem must equal the agreement id and ids must be unique. All problems in all
    files are collected into one ``ConfigError`` naming each file and field.
    """
    if not folder.is_dir():
        raise ConfigError(
            f"agreements folder {str(folder)!r} does not exist or is not a folder",
            hint="point at the folder that holds one <id>.yaml file per agreement, e.g. deploy/agreements",
        )
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix in {".yaml", ".yml"}), key=lambda p: p.name
    )
    agreements: list[Agreement] = []
    problems: list[tuple[str, str]] = []  # (message, hint)
    first_file: dict[str, Path] = {}
    for path in files:
        loaded = _load_file(path)
        if isinstance(loaded, list):
            problems += loaded
            continue
        if loaded.id != path.stem:
            problems.append(
                (
                    f"{path}: field 'id': {loaded.id!r} does not match the file name {path.name!r}",
                    f"rename the file to {loaded.id}{path.suffix} or set id: {path.stem}",
                )
            )
        elif loaded.id in first_file:
            problems.append(
                (
                    f"{path}: field 'id': agreement {loaded.id!r} is already defined "
                    f"in {first_file[loaded.id]}",
                    "keep one file per agreement id (an agreement lives in either <id>.yaml or <id>.yml)",
                )
            )
        else:
            first_file[loaded.id] = path
            agreements.append(loaded)
    if problems:
        raise _problems_error(f"agreements in {folder} have", problems)
    return agreements


def load_agreement_file(path: Path) -> Agreement:
    """One agreement file, wherever it lives (a draft under review): its problems as one ``ConfigError``."""
    loaded = _load_file(path)
    if isinstance(loaded, list):
        raise _problems_error(f"{path} has", loaded)
    return loaded


def parse_agreement(document: Mapping[str, Any], source: str) -> Agreement:
    """An agreement from a mapping (e.g. command-line options); problems explained as for a file."""
    try:
        return Agreement.model_validate(document)
    except ValidationError as exc:
        raise _problems_error(f"{source} has", [_explain(source, error) for error in exc.errors()]) from None


def _problems_error(what: str, problems: list[tuple[str, str]]) -> ConfigError:
    hints = list(dict.fromkeys(hint for _, hint in problems))
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    return ConfigError(
        f"{what} {count}: " + "; ".join(message for message, _ in problems), hint="; ".join(hints)
    )


def _load_file(path: Path) -> Agreement | list[tuple[str, str]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return [(f"{path}: cannot be read: {exc}", "check the file exists, is readable and is UTF-8 text")]
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return [(f"{path}: is not valid YAML{at}: {reason}", "fix the YAML syntax; one agreement per file")]
    if not isinstance(document, Mapping):
        return [
            (
                f"{path}: must hold one agreement as a YAML mapping, found {type(document).__name__}",
                "write the agreement as key: value lines (id, provider, consumer, record_type, fields, ...)",
            )
        ]
    try:
        return Agreement.model_validate(document)
    except ValidationError as exc:
        return [_explain(str(path), error) for error in exc.errors()]


def _explain(path: str, error: ErrorDetails) -> tuple[str, str]:
    loc = error["loc"]
    field = str(loc[0]) if loc else ""
    where = _loc_text(loc)
    message = error["msg"].removeprefix("Value error, ")
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden" and field == "where" and len(loc) == 3:
        message = f"unknown operator {loc[2]!r}; use one of {', '.join(_OPERATORS.values())}"
    elif kind == "extra_forbidden" and len(loc) == 1:
        message = f"unknown field; an agreement has {', '.join(Agreement.model_fields)}"
    elif kind == "missing":
        message = "is required but missing"
    elif kind.startswith(("enum", "literal", "date", "bool", "string_type")) and _is_scalar(given):
        message = f"{message} (got {given!r})"
    hint = _FIELD_HINTS.get(field, f"remove {field!r} or check its spelling against the agreement fields")
    return f"{path}: field {where!r}: {message}", hint


def _loc_text(loc: tuple[int | str, ...]) -> str:
    text = str(loc[0]) if loc else "(document)"
    for part in loc[1:]:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "." in part:
            text += f"[{part!r}]"
        else:
            text += f".{part}"
    return text


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool | date)


# --- checking paths against the provider's Avro schema ------------------------------------------


def schema_problems(agreement: Agreement, provider_schema: Mapping[str, Any]) -> list[str]:
    """Why ``agreement`` does not fit the provider's record schema; ``[]`` when every path exists.

    Checks every ``fields`` path and every ``where`` path (through nested and optional nested
    records), and that ``where`` values on enum fields are symbols of the enum.
    """
    names, root = provider_root(provider_schema)
    if root is None:
        return [f"agreement {agreement.id!r}: the provider schema is not an Avro record schema"]
    problems: list[str] = []
    for path in agreement.fields:
        problem, _, _ = path_problem(names, root, path)
        if problem:
            problems.append(f"agreement {agreement.id!r}: field path {path!r} does not exist: {problem}")
    for path, condition in (agreement.where or {}).items():
        problem, avro_type, namespace = path_problem(names, root, path)
        if problem:
            problems.append(f"agreement {agreement.id!r}: where path {path!r} does not exist: {problem}")
            continue
        symbols = enum_symbols(names, avro_type, namespace)
        if symbols is None:
            continue
        values = _condition_values(condition)
        unknown = [value for value in values if value is not None and value not in symbols]
        if unknown:
            problems.append(
                f"agreement {agreement.id!r}: where path {path!r} compares with {unknown!r}, "
                f"which is not one of the enum's symbols {symbols}"
            )
    return problems


def _condition_values(condition: Condition) -> list[Any]:
    operator = condition.operator
    if operator in {"in", "not_in"}:
        return list((condition.in_ if operator == "in" else condition.not_in) or ())
    if operator in {"eq", "ne"}:
        return [condition.eq if operator == "eq" else condition.ne]
    return []
