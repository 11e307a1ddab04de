"""Schema text: parse, check and normalise the Avro schemas the registry stores (pure).

``parse_avro`` turns the text a client sends into a ``ParsedSchema``. Its ``text`` is the
normalised JSON (keys sorted, no whitespace), and its ``fingerprint`` (SHA-256 of ``text``)
is the identity of a schema: equal text means the same schema and the same id, whatever
whitespace or key order the client used.

Parsing uses the ``avro`` package and closes the gaps where avro 1.12 parses differently
from the Java Avro library that Confluent's registry uses:

* avro does not check field defaults (``Field.__init__`` says ``# TODO(hammer): check to
  ensure default is valid``). ``_valid_default`` applies Java's ``Schema.isValidDefault``
  rules: ``{"type": "int", "default": "a"}`` is rejected. A union default may match any
  branch (Java and fastavro accept that too), and textual defaults of ``float``/``double``
  fields are read as numbers as Java does. Two checks are stricter than Java: an enum
  default must be one of the enum's symbols and a ``fixed`` default must have ``size``
  characters, because no reader could decode any other value.
* avro checks names only against ASCII ``[A-Za-z_][A-Za-z0-9_]*`` and never checks field
  names. Java accepts any Unicode letter or digit (``NameValidator.UTF_VALIDATOR``) and
  checks field names as well, so names are checked here with Java's rule, e.g. Kazakh
  record and field names are accepted and ``"x-y"`` is rejected as a field name.
* Python's ``json`` accepts ``NaN`` and ``Infinity``, which are not JSON; they are rejected.
* avro warns (``IgnoredLogicalType``) about unknown or misplaced logical types; Java ignores
  them silently, and so does the registry: the schema keeps the underlying type.
* avro's Parsing Canonical Form differs from the specification in three ways, which
  ``_canonical_form`` corrects: primitives with extra attributes such as ``logicalType``
  come out as ``{"type": "long"}`` instead of ``"long"``; a ``fixed`` type used a second
  time is written out in full again instead of by name; non-ASCII names are written as
  ``\\uXXXX`` escapes instead of UTF-8 text.

Java Avro also allows comments in schema JSON; the registry does not.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from typing import NoReturn

import avro.errors
import avro.name
import avro.schema
from avro.schema import Schema as AvroSchema

from bus.registry.errors import InvalidSchema

SCHEMA_TYPE_AVRO = "AVRO"

_INT_RANGE = range(-(2**31), 2**31)
_LONG_RANGE = range(-(2**63), 2**63)
_NAMED_TYPES = frozenset({"record", "error", "enum", "fixed"})
_PRIMITIVE_TYPES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_JSON_HINT = 'send the schema as JSON text: an object, a union array or a quoted name such as "string"'
_AVRO_HINT = "correct the schema as described (rules: https://avro.apache.org/docs/1.12.0/specification/)"


@dataclass(frozen=True)
class ParsedSchema:
    """One Avro schema as the registry stores it; equal ``text`` means the same schema."""

    text: str
    """Normalised JSON: keys sorted, no whitespace. What the registry stores and serves."""
    fingerprint: str
    """Hex SHA-256 of ``text``; the identity of the schema in the registry."""
    avro: AvroSchema = field(compare=False, repr=False)
    """The schema parsed by the ``avro`` package, for compatibility checks."""
    canonical_form: str
    """Avro Parsing Canonical Form: only what affects decoding, so doc or defaults do not count."""
    full_name: str | None
    """Full name of a named top-level schema (record, enum, fixed); None for others."""


def parse_schema_type(schema_type: str | None) -> None:
    """Accept a missing schema type or ``AVRO`` (in any case); refuse JSON, PROTOBUF and others."""
    if schema_type is None or schema_type.upper() == SCHEMA_TYPE_AVRO:
        return
    raise InvalidSchema(
        f"schema type {schema_type} is not supported: this registry stores Avro only",
        hint='omit "schemaType" or send "schemaType": "AVRO" with an Avro schema',
    )


def parse_avro(text: str, *, subject: str = "?") -> ParsedSchema:
    """Parse and check the Avro schema ``text`` registered under ``subject``.

    Raises ``InvalidSchema`` (422/42201) naming the subject and what is wrong: the JSON
    position for malformed JSON, the avro library's message for an invalid schema, the field
    for a default that does not match its type, the name for an invalid name.
    """
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        _invalid(
            subject,
            f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})",
            hint=_JSON_HINT,
        )
    except ValueError as exc:  # NaN / Infinity
        _invalid(subject, f"is not valid JSON: {exc}", hint=_JSON_HINT)
    except RecursionError:
        _invalid(subject, "is not valid JSON: it is nested too deeply", hint=_JSON_HINT)
    try:
        normalised = json.dumps(document, sort_keys=True, separators=(",", ":"))
        schema = _parse(document)
        problem = _check(schema, set())
        canonical_form = _canonical_form(schema)
    except avro.errors.AvroException as exc:
        _invalid(subject, f"is not a valid Avro schema: {_shorten(str(exc))}")
    except RecursionError:
        _invalid(subject, "is not a valid Avro schema: it is nested too deeply")
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # avro trips on some shapes
        _invalid(subject, f"is not a valid Avro schema: {type(exc).__name__}: {_shorten(str(exc))}")
    if problem is not None:
        _invalid(subject, f"is not a valid Avro schema: {problem}")
    return ParsedSchema(
        text=normalised,
        fingerprint=hashlib.sha256(normalised.encode("utf-8")).hexdigest(),
        avro=schema,
        canonical_form=canonical_form,
        full_name=schema.fullname if isinstance(schema, avro.schema.NamedSchema) else None,
    )


def _parse(document: object) -> AvroSchema:
    with warnings.catch_warnings():
        # Java ignores unknown or misplaced logical types without a word; so does the registry.
        warnings.simplefilter("ignore", avro.errors.IgnoredLogicalType)
        # Names, enum symbols and enum defaults are checked by _check, with Java's rules.
        return avro.schema.make_avsc_object(
            document, _Names(validate_names=False), validate_enum_symbols=False, validate_names=False
        )


class _Names(avro.name.Names):
    """avro's name table, honouring ``"namespace": ""`` inside a namespaced schema.

    The specification (and Java) read an empty namespace as the null namespace, but
    ``NamedSchema`` turns ``""`` into None before registering the name, so avro would put the
    type in the enclosing namespace. A missing namespace reaches here as the enclosing one,
    so None with an enclosing namespace can only be an explicit empty (or null) namespace.
    """

    def add_name(
        self, name_attr: str, space_attr: str | None, new_schema: avro.schema.NamedSchema
    ) -> avro.name.Name:
        if space_attr is None and self.default_namespace:
            space_attr = ""
        return super().add_name(name_attr, space_attr, new_schema)


def _invalid(subject: str, what: str, *, hint: str = _AVRO_HINT) -> NoReturn:
    raise InvalidSchema(f"schema for subject {subject!r} {what}", hint=hint) from None


def _shorten(message: str, limit: int = 400) -> str:
    """avro's messages can quote the whole (client-sized) schema; keep them readable."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


# --- names and defaults ------------------------------------------------------------------


def _name_problem(name: object) -> str | None:
    """Java Avro's ``NameValidator.UTF_VALIDATOR``: a Unicode letter or ``_``, then letters, digits, ``_``."""
    if not isinstance(name, str) or not name:
        return "a name must be a non-empty string"
    if not (name[0].isalpha() or name[0] == "_"):
        return "a name must start with a letter or '_'"
    if not all(c.isalpha() or c.isdecimal() or c == "_" for c in name[1:]):
        return "a name may contain only letters, digits and '_'"
    return None


def _full_name_problem(name: str) -> str | None:
    for part in name.split("."):
        if not part:
            return "a dotted name must not have an empty part"
        if (problem := _name_problem(part)) is not None:
            return problem
    return None


def _aliases_problem(aliases: object) -> str | None:
    """Java requires an array of strings; avro ignores aliases, and its checker would match substrings."""
    if aliases is None:
        return None
    if not isinstance(aliases, list) or not all(isinstance(alias, str) for alias in aliases):
        return "must be an array of names"
    for alias in aliases:
        if (problem := _full_name_problem(alias)) is not None:
            return f"alias {alias!r}: {problem}"
    return None


def _check(schema: AvroSchema, seen: set[str]) -> str | None:
    """The first problem in ``schema`` that avro does not check itself, or None."""
    if isinstance(schema, avro.schema.NamedSchema):
        fullname: str = schema.fullname
        if fullname in seen:
            return None
        seen.add(fullname)
        if (problem := _full_name_problem(fullname)) is not None:
            return f"{schema.type} name {fullname!r}: {problem}"
        if (problem := _aliases_problem(schema.props.get("aliases"))) is not None:
            return f"{schema.type} {fullname!r} aliases: {problem}"
    if isinstance(schema, avro.schema.RecordSchema):
        for avro_field in schema.fields:
            where = f"field {avro_field.name!r} of {schema.type} {schema.fullname!r}"
            if (problem := _name_problem(avro_field.name)) is not None:
                return f"{where}: {problem}"
            if (problem := _aliases_problem(avro_field.props.get("aliases"))) is not None:
                return f"{where} aliases: {problem}"
            if (problem := _check(avro_field.type, seen)) is not None:
                return problem
            if avro_field.has_default and not _valid_field_default(avro_field.type, avro_field.default):
                return (
                    f"{where} has default {json.dumps(avro_field.default, ensure_ascii=False)}, "
                    f"which is not a valid {_describe(avro_field.type)}"
                )
    elif isinstance(schema, avro.schema.EnumSchema):
        if not isinstance(schema.get_prop("symbols"), list):  # avro takes "AB" as ["A", "B"]
            return f"enum {schema.fullname!r}: symbols must be an array of names"
        for symbol in schema.symbols:
            if (problem := _name_problem(symbol)) is not None:
                return f"enum {schema.fullname!r} symbol {symbol!r}: {problem}"
        default = schema.props.get("default")
        if default is not None and default not in schema.symbols:
            return f"enum {schema.fullname!r} has default {default!r}, which is not one of its symbols"
    elif isinstance(schema, avro.schema.ArraySchema):
        return _check(schema.items, seen)
    elif isinstance(schema, avro.schema.MapSchema):
        return _check(schema.values, seen)
    elif isinstance(schema, avro.schema.UnionSchema):
        for branch in schema.schemas:
            if (problem := _check(branch, seen)) is not None:
                return problem
    return None


def _valid_field_default(schema: AvroSchema, value: object) -> bool:
    # Java reads a textual default of a float/double field as a number ("NaN", "Infinity", "1.5").
    if schema.type in ("float", "double") and isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return _valid_default(schema, value)


def _valid_default(schema: AvroSchema, value: object) -> bool:
    """Java Avro's ``Schema.isValidDefault`` on the JSON value, plus enum and fixed checks."""
    kind = schema.type
    if isinstance(schema, avro.schema.UnionSchema):
        return any(_valid_default(branch, value) for branch in schema.schemas)
    if isinstance(schema, avro.schema.RecordSchema):
        if not isinstance(value, dict):
            return False
        for avro_field in schema.fields:
            if avro_field.name in value:
                if not _valid_default(avro_field.type, value[avro_field.name]):
                    return False
            elif not avro_field.has_default:
                return False
        return True
    if isinstance(schema, avro.schema.EnumSchema):
        return isinstance(value, str) and value in schema.symbols
    if isinstance(schema, avro.schema.FixedSchema):
        return isinstance(value, str) and len(value) == schema.size
    if isinstance(schema, avro.schema.ArraySchema):
        return isinstance(value, list) and all(_valid_default(schema.items, item) for item in value)
    if isinstance(schema, avro.schema.MapSchema):
        return isinstance(value, dict) and all(_valid_default(schema.values, v) for v in value.values())
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long"):
        bounds = _INT_RANGE if kind == "int" else _LONG_RANGE
        return isinstance(value, int) and not isinstance(value, bool) and value in bounds
    if kind in ("float", "double"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("string", "bytes"):
        return isinstance(value, str)
    return False


def _describe(schema: AvroSchema) -> str:
    if isinstance(schema, avro.schema.NamedSchema):
        return f"{schema.type} {schema.fullname}"
    if isinstance(schema, avro.schema.UnionSchema):
        return "value of any branch of union [" + ", ".join(_describe(b) for b in schema.schemas) + "]"
    return str(schema.type)


# --- Parsing Canonical Form --------------------------------------------------------------


def _canonical_form(schema: AvroSchema) -> str:
    """avro's Parsing Canonical Form with its deviations from the specification corrected."""
    fixed = _fix_canonical(schema.to_canonical_json(), set())
    return json.dumps(fixed, separators=(",", ":"), ensure_ascii=False)


def _fix_canonical(node: object, defined: set[str]) -> object:
    if isinstance(node, list):  # a union
        return [_fix_canonical(branch, defined) for branch in node]
    if not isinstance(node, dict):
        return node  # a primitive or a reference by full name
    kind = node.get("type")
    if isinstance(kind, str) and kind in _PRIMITIVE_TYPES:
        return kind  # [PRIMITIVES]: {"type": "long", ...} becomes "long"
    if isinstance(kind, str) and kind in _NAMED_TYPES:
        if node["name"] in defined:
            return node["name"]  # a second definition becomes a reference by full name
        defined.add(node["name"])
    fixed = dict(node)
    if "fields" in fixed:
        fixed["fields"] = [{**f, "type": _fix_canonical(f["type"], defined)} for f in node["fields"]]
    for key in ("items", "values"):
        if key in fixed:
            fixed[key] = _fix_canonical(fixed[key], defined)
    return fixed
