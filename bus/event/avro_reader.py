"""Generated Avro readers for record schemas on the hot path, and byte-level projection plans.

fastavro's generic reader costs ~20 µs per call for a 55-byte person record, most of it
per-call set-up; the processor decodes one record per event. ``compile_reader`` turns a record
schema into straight-line Python once (like a parser generator would), which reads the same
record in a fraction of that and also reports where each top-level field's bytes start and end.
With those spans, a projection that keeps whole top-level fields is the concatenation of their
bytes (``projection_plan``): Avro writes a record as its fields' encodings back to back.

Only what this reader is sure to decode exactly as fastavro does is compiled (primitives,
records, enums, arrays, maps, fixed, unions, the ``date`` logical type); any other schema raises
``Unsupported`` and stays with fastavro. The reader is strict: anything odd (an out-of-range
index, a non-canonical boolean, an overlong varint) raises, and the caller then lets fastavro
decide, so an accepted record always equals fastavro's result (a differential test checks it).

Pure: standard library only.
"""

from __future__ import annotations

import datetime as dt
import itertools
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

__all__ = ["Reader", "Unsupported", "compile_reader", "projection_plan"]

Reader = Callable[[bytes], tuple[dict[str, Any], tuple[int, ...], int]]
"""body -> (record, top-level field boundaries (n+1 offsets), end position)."""

_PRIMITIVES: Final = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_DAYS_SHIFT: Final = dt.date(1970, 1, 1).toordinal()


class Unsupported(Exception):
    """The schema uses something the generated reader does not handle; use fastavro."""


def _tail(b: bytes, p: int, x: int) -> tuple[int, int]:
    """The rest of a varint whose first byte ``x`` had the continuation bit (at most 10 bytes)."""
    result = x & 0x7F
    shift = 7
    while True:
        x = b[p]
        p += 1
        result |= (x & 0x7F) << shift
        if not x & 0x80:
            return result, p
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


class _Names:
    """Named types by full name, resolved the Avro way (enclosing namespace for short names)."""

    def __init__(self) -> None:
        self.types: dict[str, Mapping[str, Any]] = {}

    @staticmethod
    def full(name: str, namespace: str | None) -> str:
        return name if "." in name or not namespace else f"{namespace}.{name}"

    def define(self, schema: Mapping[str, Any], namespace: str | None) -> tuple[str, str | None]:
        name = self.full(str(schema["name"]), schema.get("namespace") or namespace)
        self.types[name] = schema
        return name, name.rsplit(".", 1)[0] if "." in name else None

    def resolve(self, name: str, namespace: str | None) -> tuple[str, Mapping[str, Any]]:
        for candidate in (self.full(name, namespace), name):
            if candidate in self.types:
                return candidate, self.types[candidate]
        raise Unsupported(f"unknown named type {name!r}")


class _Generator:
    def __init__(self) -> None:
        self.names = _Names()
        self.constants: dict[str, Any] = {
            "_tail": _tail,
            "_date": dt.date.fromordinal,
            "_float": struct.Struct("<f").unpack_from,
            "_double": struct.Struct("<d").unpack_from,
        }
        self.functions: list[str] = []
        self.record_functions: dict[str, str] = {}
        self._ids = itertools.count()

    def var(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def constant(self, value: Any) -> str:
        name = self.var("_c")
        self.constants[name] = value
        return name

    def varint(self, target: str, lines: list[str], pad: str) -> None:
        """Read a zigzag varint into ``target``."""
        lines += [
            f"{pad}x = b[p]",
            f"{pad}p += 1",
            f"{pad}if x > 127:",
            f"{pad}    x, p = _tail(b, p, x)",
            f"{pad}{target} = (x >> 1) ^ -(x & 1)",
        ]

    def sized(self, target: str, lines: list[str], pad: str, decode: bool) -> None:
        self.varint("n", lines, pad)
        lines += [
            f"{pad}e = p + n",
            f"{pad}if n < 0 or e > len(b):",
            f"{pad}    raise EOFError",
            f"{pad}{target} = b[p:e]{'.decode()' if decode else ''}",
            f"{pad}p = e",
        ]

    def emit(self, schema: Any, target: str, lines: list[str], pad: str, namespace: str | None) -> None:
        """Code that reads one value of ``schema`` into ``target`` and advances ``p``."""
        if isinstance(schema, list):
            self.union(schema, target, lines, pad, namespace)
            return
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                self.primitive(schema, target, lines, pad)
                return
            name, definition = self.names.resolve(schema, namespace)
            if definition.get("type") == "record":
                lines.append(f"{pad}{target}, p = {self.record_function(name, definition)}(b, p)")
                return
            self.emit(definition, target, lines, pad, name.rsplit(".", 1)[0] if "." in name else None)
            return
        if not isinstance(schema, Mapping):
            raise Unsupported(f"schema {schema!r:.80}")
        kind = schema.get("type")
        logical = schema.get("logicalType")
        if logical is not None:
            if logical == "date" and kind == "int":
                self.varint("d", lines, pad)
                lines.append(f"{pad}{target} = _date(d + {_DAYS_SHIFT})")
                return
            raise Unsupported(f"logical type {logical!r}")
        if kind in _PRIMITIVES:
            self.primitive(str(kind), target, lines, pad)
        elif kind == "record":
            if not schema.get("name"):
                raise Unsupported("anonymous record")
            name, _ = self.names.define(schema, namespace)
            lines.append(f"{pad}{target}, p = {self.record_function(name, schema)}(b, p)")
        elif kind == "enum":
            self.names.define(schema, namespace)
            self.enum(schema, target, lines, pad)
        elif kind == "fixed":
            self.names.define(schema, namespace)
            size = int(schema["size"])
            lines += [
                f"{pad}e = p + {size}",
                f"{pad}if e > len(b):",
                f"{pad}    raise EOFError",
                f"{pad}{target} = b[p:e]",
                f"{pad}p = e",
            ]
        elif kind == "array":
            self.block(schema["items"], None, target, lines, pad, namespace)
        elif kind == "map":
            self.block(schema["values"], "string", target, lines, pad, namespace)
        elif isinstance(kind, list | Mapping) or (isinstance(kind, str) and kind not in _PRIMITIVES):
            self.emit(kind, target, lines, pad, namespace)  # {"type": <named or nested schema>}
        else:
            raise Unsupported(f"type {kind!r}")

    def primitive(self, kind: str, target: str, lines: list[str], pad: str) -> None:
        if kind == "null":
            lines.append(f"{pad}{target} = None")
        elif kind == "boolean":
            lines += [
                f"{pad}x = b[p]",
                f"{pad}p += 1",
                f"{pad}if x > 1:",
                f"{pad}    raise ValueError('boolean byte')",
                f"{pad}{target} = x == 1",
            ]
        elif kind in ("int", "long"):
            self.varint(target, lines, pad)
        elif kind == "float":
            lines += [f"{pad}{target} = _float(b, p)[0]", f"{pad}p += 4"]
        elif kind == "double":
            lines += [f"{pad}{target} = _double(b, p)[0]", f"{pad}p += 8"]
        else:
            self.sized(target, lines, pad, decode=kind == "string")

    def enum(self, schema: Mapping[str, Any], target: str, lines: list[str], pad: str) -> None:
        symbols = self.constant(tuple(schema["symbols"]))
        self.varint("i", lines, pad)
        lines += [
            f"{pad}if not 0 <= i < {len(schema['symbols'])}:",
            f"{pad}    raise ValueError('enum index')",
            f"{pad}{target} = {symbols}[i]",
        ]

    def union(
        self, branches: list[Any], target: str, lines: list[str], pad: str, namespace: str | None
    ) -> None:
        self.varint("i", lines, pad)
        for index, branch in enumerate(branches):
            lines.append(f"{pad}{'if' if index == 0 else 'elif'} i == {index}:")
            self.emit(branch, target, lines, pad + "    ", namespace)
        lines += [f"{pad}else:", f"{pad}    raise ValueError('union index')"]

    def block(
        self, items: Any, key: str | None, target: str, lines: list[str], pad: str, namespace: str | None
    ) -> None:
        count, item, name = self.var("n"), self.var("v"), self.var("k")
        lines.append(f"{pad}{target} = {{}}" if key else f"{pad}{target} = []")
        lines.append(f"{pad}while True:")
        inner = pad + "    "
        self.varint(count, lines, inner)
        lines += [
            f"{inner}if {count} == 0:",
            f"{inner}    break",
            f"{inner}if {count} < 0:",
            f"{inner}    {count} = -{count}",
        ]
        self.varint("s", lines, inner + "    ")
        lines.append(f"{inner}for _ in range({count}):")
        body = inner + "    "
        if key:
            self.sized(name, lines, body, decode=True)
        self.emit(items, item, lines, body, namespace)
        lines.append(f"{body}{target}[{name}] = {item}" if key else f"{body}{target}.append({item})")

    def record_function(self, name: str, schema: Mapping[str, Any]) -> str:
        existing = self.record_functions.get(name)
        if existing:
            return existing
        function = self.record_functions[name] = self.var("_record")
        namespace = name.rsplit(".", 1)[0] if "." in name else None
        lines = [f"def {function}(b, p):", "    r = {}"]
        for field in schema["fields"]:
            value = self.var("f")
            self.emit(field["type"], value, lines, "    ", namespace)
            lines.append(f"    r[{field['name']!r}] = {value}")
        lines.append("    return r, p")
        self.functions.append("\n".join(lines))
        return function


def compile_reader(schema: Mapping[str, Any]) -> Reader:
    """A reader for a record schema (JSON-parsed); ``Unsupported`` if it should stay with fastavro."""
    if not isinstance(schema, Mapping) or schema.get("type") != "record" or not schema.get("name"):
        raise Unsupported("not a named record schema")
    generator = _Generator()
    try:
        name, namespace = generator.names.define(schema, None)
        lines = ["def read(b):", "    p = 0", "    r = {}", "    spans = [0]"]
        for field in schema["fields"]:
            value = generator.var("f")
            generator.emit(field["type"], value, lines, "    ", namespace)
            lines += [f"    r[{field['name']!r}] = {value}", "    spans.append(p)"]
        lines.append("    return r, tuple(spans), p")
    except (KeyError, TypeError, ValueError) as exc:
        raise Unsupported(f"schema not understood: {exc}") from None
    generator.record_functions[name] = "read"
    scope: dict[str, Any] = dict(generator.constants)
    exec(
        compile("\n\n".join([*generator.functions, "\n".join(lines)]), f"<avro reader {name}>", "exec"), scope
    )
    reader: Reader = scope["read"]
    return reader


def _shape(schema: Any, names: _Names, namespace: str | None, seen: frozenset[str]) -> Any:
    """What decides a value's binary encoding: structure, enum symbols, fixed sizes; not names or docs."""
    if isinstance(schema, list):
        return ("union", tuple(_shape(s, names, namespace, seen) for s in schema))
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return schema
        name, definition = names.resolve(schema, namespace)
        if name in seen:
            return ("recursive", name)
        return _shape(definition, names, name.rsplit(".", 1)[0] if "." in name else None, seen | {name})
    kind = schema.get("type")
    if isinstance(kind, list | Mapping):
        return _shape(kind, names, namespace, seen)
    if kind == "record":
        name, inner = names.define(schema, namespace)
        fields = schema["fields"]
        return ("record", tuple(_shape(f["type"], names, inner, seen | {name}) for f in fields))
    if kind == "enum":
        names.define(schema, namespace)
        return ("enum", tuple(schema["symbols"]))
    if kind == "fixed":
        names.define(schema, namespace)
        return ("fixed", int(schema["size"]))
    if kind == "array":
        return ("array", _shape(schema["items"], names, namespace, seen))
    if kind == "map":
        return ("map", _shape(schema["values"], names, namespace, seen))
    if isinstance(kind, str) and kind not in _PRIMITIVES:
        return _shape(kind, names, namespace, seen)
    return kind


def _field_shapes(schema: Mapping[str, Any]) -> list[tuple[str, Any]]:
    names = _Names()
    _, namespace = names.define(schema, None)
    return [(str(f["name"]), _shape(f["type"], names, namespace, frozenset())) for f in schema["fields"]]


def projection_plan(provider: Mapping[str, Any], derived: Mapping[str, Any]) -> tuple[int, ...] | None:
    """Provider field indices whose bytes, concatenated, encode a record of ``derived``; else None.

    Holds when ``derived`` keeps some of the provider's top-level fields whole, in the provider's
    order, each with the same binary shape. Anything else (a nested grant, reordered or added
    fields) returns None and is projected and encoded the ordinary way.
    """
    try:
        mine = _field_shapes(provider)
        theirs = _field_shapes(derived)
    except (KeyError, TypeError, ValueError, Unsupported):
        return None
    positions = {name: index for index, (name, _) in enumerate(mine)}
    plan: list[int] = []
    for name, shape in theirs:
        index = positions.get(name)
        if index is None or mine[index][1] != shape or (plan and index <= plan[-1]):
            return None
        plan.append(index)
    return tuple(plan)


def join_fields(body: bytes, spans: Sequence[int], plan: Sequence[int]) -> bytes:
    """The bytes of the planned fields of a record read with spans ``spans``."""
    return b"".join([body[spans[i] : spans[i + 1]] for i in plan])
