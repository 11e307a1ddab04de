"""Decode the messages of PostgreSQL's built-in ``pgoutput`` plugin (logical replication protocol v1).

Hand-written (~200 lines, pure, no I/O) because no maintained Python decoder is installable here:
``pypgoutput`` is a 2022 prototype tied to its own reader and pydantic models, and the newer
``pgoutput`` package is not on the registries this project installs from. The format is the one
in the PostgreSQL manual, "Logical Replication Message Formats"; protocol version 1 is enough
because the connector asks for neither streaming nor two-phase nor logical messages, and every
other message type fails loudly with ``PgOutputError`` rather than being skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Final

from bus.errors import BusError

PG_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")


class PgOutputError(BusError):
    """A pgoutput message could not be decoded (corrupt, truncated, or of an unexpected kind)."""

    code = "pgoutput_invalid"


class Unchanged(Enum):
    """An unchanged TOASTed value: pgoutput leaves it out of an update's new tuple."""

    TOAST = "unchanged-toast"


UNCHANGED_TOAST: Final = Unchanged.TOAST

# One column of a tuple: None = SQL NULL, str = text form, bytes = binary form, or UNCHANGED_TOAST.
Cell = str | bytes | None | Unchanged
TupleData = tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int  # the commit record's LSN
    commit_time: datetime
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    commit_lsn: int
    end_lsn: int  # just past the commit record: the position to confirm once the transaction is safe
    commit_time: datetime


@dataclass(frozen=True, slots=True)
class Origin:
    lsn: int
    name: str


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_oid: int
    type_modifier: int
    is_key: bool


@dataclass(frozen=True, slots=True)
class Relation:
    oid: int
    namespace: str
    name: str
    replica_identity: str  # d = default (primary key), n = nothing, f = full, i = index
    columns: tuple[Column, ...]

    @property
    def qualified_name(self) -> str:
        return f"{self.namespace or 'pg_catalog'}.{self.name}"


@dataclass(frozen=True, slots=True)
class TypeInfo:
    oid: int
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class Insert:
    relation_oid: int
    new: TupleData


@dataclass(frozen=True, slots=True)
class Update:
    relation_oid: int
    old: TupleData | None  # full old row (REPLICA IDENTITY FULL) or only its key columns; None if neither
    old_is_key_only: bool
    new: TupleData


@dataclass(frozen=True, slots=True)
class Delete:
    relation_oid: int
    old: TupleData
    old_is_key_only: bool


@dataclass(frozen=True, slots=True)
class Truncate:
    relation_oids: tuple[int, ...]
    cascade: bool
    restart_identity: bool


Message = Begin | Commit | Origin | Relation | TypeInfo | Insert | Update | Delete | Truncate


def lsn_text(lsn: int) -> str:
    """An LSN as PostgreSQL prints it, e.g. ``0/1924E30``."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """``0/1924E30`` -> integer LSN."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def decode(payload: bytes) -> Message:
    """One pgoutput message (the payload of an XLogData message) as a value."""
    if not payload:
        raise PgOutputError("empty pgoutput message", hint="the replication stream is corrupt; reconnect")
    reader = _Reader(payload)
    kind = chr(reader.byte())
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise PgOutputError(
            f"unexpected pgoutput message type {kind!r}",
            hint="the connector uses protocol version 1 without streaming, two-phase or messages; "
            "check the replication options",
        )
    try:
        message = decoder(reader)
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise PgOutputError(
            f"truncated or malformed pgoutput {kind!r} message: {exc}",
            hint="the replication stream is corrupt; reconnect and report it if it repeats",
        ) from None
    if reader.offset != len(payload):
        raise PgOutputError(
            f"pgoutput {kind!r} message has {len(payload) - reader.offset} trailing bytes",
            hint="a newer protocol version was negotiated than this decoder reads (version 1)",
        )
    return message


class _Reader:
    __slots__ = ("data", "offset")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def _unpack(self, fmt: struct.Struct) -> int:
        (value,) = fmt.unpack_from(self.data, self.offset)
        self.offset += fmt.size
        return int(value)

    def byte(self) -> int:
        if self.offset >= len(self.data):
            raise IndexError("message ends early")
        value = self.data[self.offset]
        self.offset += 1
        return value

    def int8(self) -> int:
        return self._unpack(_I8)

    def int16(self) -> int:
        return self._unpack(_I16)

    def int32(self) -> int:
        return self._unpack(_I32)

    def uint32(self) -> int:
        return self._unpack(_U32)

    def int64(self) -> int:
        return self._unpack(_I64)

    def lsn(self) -> int:
        return self._unpack(_U64)

    def time(self) -> datetime:
        return PG_EPOCH + timedelta(microseconds=self.int64())

    def string(self) -> str:
        end = self.data.index(b"\0", self.offset)
        text = self.data[self.offset : end].decode("utf-8")
        self.offset = end + 1
        return text

    def raw(self, length: int) -> bytes:
        if length < 0 or self.offset + length > len(self.data):
            raise IndexError(f"a {length}-byte value runs past the message end")
        value = self.data[self.offset : self.offset + length]
        self.offset += length
        return value

    def tuple_data(self) -> TupleData:
        cells: list[Cell] = []
        for _ in range(self.int16()):
            kind = chr(self.byte())
            if kind == "n":
                cells.append(None)
            elif kind == "u":
                cells.append(UNCHANGED_TOAST)
            elif kind == "t":
                cells.append(self.raw(self.int32()).decode("utf-8"))
            elif kind == "b":
                cells.append(self.raw(self.int32()))
            else:
                raise IndexError(f"unknown tuple column kind {kind!r}")
        return tuple(cells)


def _begin(r: _Reader) -> Begin:
    return Begin(final_lsn=r.lsn(), commit_time=r.time(), xid=r.uint32())


def _commit(r: _Reader) -> Commit:
    r.int8()  # flags, currently unused
    return Commit(commit_lsn=r.lsn(), end_lsn=r.lsn(), commit_time=r.time())


def _origin(r: _Reader) -> Origin:
    return Origin(lsn=r.lsn(), name=r.string())


def _relation(r: _Reader) -> Relation:
    oid, namespace, name, identity = r.uint32(), r.string(), r.string(), chr(r.byte())
    columns = tuple(
        Column(is_key=bool(r.int8() & 1), name=r.string(), type_oid=r.uint32(), type_modifier=r.int32())
        for _ in range(r.int16())
    )
    return Relation(oid, namespace, name, identity, columns)


def _type(r: _Reader) -> TypeInfo:
    return TypeInfo(oid=r.uint32(), namespace=r.string(), name=r.string())


def _insert(r: _Reader) -> Insert:
    oid = r.uint32()
    if chr(r.byte()) != "N":
        raise IndexError("insert without a new tuple")
    return Insert(oid, r.tuple_data())


def _update(r: _Reader) -> Update:
    oid = r.uint32()
    marker = chr(r.byte())
    old: TupleData | None = None
    key_only = False
    if marker in ("K", "O"):
        old, key_only = r.tuple_data(), marker == "K"
        marker = chr(r.byte())
    if marker != "N":
        raise IndexError("update without a new tuple")
    return Update(oid, old, key_only, r.tuple_data())


def _delete(r: _Reader) -> Delete:
    oid = r.uint32()
    marker = chr(r.byte())
    if marker not in ("K", "O"):
        raise IndexError("delete without an old tuple")
    return Delete(oid, r.tuple_data(), marker == "K")


def _truncate(r: _Reader) -> Truncate:
    count, options = r.int32(), r.int8()
    oids = tuple(r.uint32() for _ in range(count))
    return Truncate(oids, cascade=bool(options & 1), restart_identity=bool(options & 2))


_DECODERS: dict[str, Callable[[_Reader], Message]] = {
    "B": _begin,
    "C": _commit,
    "O": _origin,
    "R": _relation,
    "Y": _type,
    "I": _insert,
    "U": _update,
    "D": _delete,
    "T": _truncate,
}
