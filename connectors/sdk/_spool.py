"""The publisher's durable store-and-forward queue (DESIGN §8).

A publish is committed to a local SQLite file before it is acknowledged; a sender drains the
spool in order and removes entries only after the broker acknowledged them. The spool is
bounded by a quota (``SpoolFullError`` past it, never a silent drop) and survives restarts.

On-disk layout (schema version 1 in ``PRAGMA user_version``; WAL mode with ``synchronous=FULL``,
so the ``-wal``/``-shm`` files beside the spool belong to it): ``events`` holds the backlog, one
row per event under ``position INTEGER PRIMARY KEY AUTOINCREMENT`` (never reused, even once the
table drained) with ``topic`` and ``key`` (TEXT), ``value`` (BLOB, NULL = tombstone), ``headers``
(one BLOB of big-endian ``u16 name length, UTF-8 name, u32 value length, value`` records in order),
``sequence``, ``enqueued_at`` (unix seconds) and ``size`` (the bytes it counts against the quota:
topic + key + value + header names and values). ``key_sequences`` (``key`` TEXT primary key,
WITHOUT ROWID) keeps the last sequence handed out per key and is never pruned, so a key's sequence
never goes back. ``meta`` is one row (``id = 1``) with the backlog's ``size_bytes`` and ``depth``,
updated in the same transaction as every append and removal. The file keeps its high-water size;
freed pages are reused.
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from bus.errors import BusError, ConfigError

__all__ = ["NewEvent", "Spool", "SpoolError", "SpoolFullError", "SpoolTransaction", "SpooledEvent"]

_BUSY_TIMEOUT_S = 10.0
_REMOVE_CHUNK = 500
_NAME_LEN = struct.Struct(">H")
_VALUE_LEN = struct.Struct(">I")

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (
            position INTEGER PRIMARY KEY AUTOINCREMENT,
            topic TEXT NOT NULL,
            key TEXT NOT NULL,
            value BLOB,
            headers BLOB NOT NULL,
            sequence INTEGER NOT NULL,
            enqueued_at REAL NOT NULL,
            size INTEGER NOT NULL
        )""",
        "CREATE TABLE key_sequences (key TEXT PRIMARY KEY, last_sequence INTEGER NOT NULL) WITHOUT ROWID",
        """CREATE TABLE meta (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            size_bytes INTEGER NOT NULL,
            depth INTEGER NOT NULL
        )""",
        "INSERT INTO meta (id, size_bytes, depth) VALUES (1, 0, 0)",
    ),
)


class SpoolError(BusError):
    """The spool file cannot be opened, read or written."""

    code = "spool_unavailable"


class SpoolFullError(SpoolError):
    """Appending would take the spool past its quota (or the disk under it is full)."""

    code = "spool_full"
    retriable = True

    def __init__(
        self, path: Path, *, quota_bytes: int, size_bytes: int | None, needed_bytes: int | None
    ) -> None:
        if size_bytes is None or needed_bytes is None:
            message = f"the disk holding publish spool {path} is full before its {quota_bytes}-byte quota"
        else:
            message = (
                f"publish spool {path} is full: {size_bytes} of {quota_bytes} quota bytes in use, "
                f"this change needs {needed_bytes} more"
            )
        super().__init__(
            message,
            hint="changes pile up while the broker is unreachable: check the broker link and the "
            "sender's log so the backlog drains, or raise --spool-quota (and free disk space)",
        )
        self.path = path
        self.quota_bytes = quota_bytes
        self.size_bytes = size_bytes


@dataclass(frozen=True, slots=True)
class SpooledEvent:
    position: int
    topic: str
    key: str
    value: bytes | None
    headers: list[tuple[str, bytes]]
    sequence: int
    enqueued_at: float


@dataclass(frozen=True, slots=True)
class NewEvent:
    topic: str
    key: str
    value: bytes | None
    headers: list[tuple[str, bytes]]
    sequence: int


class SpoolTransaction:
    """One ``BEGIN IMMEDIATE`` transaction; valid only inside its ``with spool.transaction()`` block.

    If ``append`` or ``next_sequence`` raises, the transaction is doomed: it rolls back when the
    block ends, and the error is raised again there even if the caller caught it.
    """

    __slots__ = ("_closed", "_conn", "_failure", "_spool")

    def __init__(self, spool: Spool, conn: sqlite3.Connection) -> None:
        self._spool = spool
        self._conn = conn
        self._failure: BaseException | None = None
        self._closed = False

    def next_sequence(self, key: str) -> int:
        """Allocate the key's next sequence (1, 2, 3, ...); it is spent only if the transaction commits."""
        self._check_usable()
        try:
            with _translated(self._spool.path, self._spool.quota_bytes):
                self._conn.execute(
                    "INSERT INTO key_sequences (key, last_sequence) VALUES (?, 1) "
                    "ON CONFLICT (key) DO UPDATE SET last_sequence = last_sequence + 1",
                    (key,),
                )
                row = self._conn.execute(
                    "SELECT last_sequence FROM key_sequences WHERE key = ?", (key,)
                ).fetchone()
        except BaseException as exc:
            self._failure = exc
            raise
        return int(row[0])

    def append(self, event: NewEvent) -> int:
        """Store ``event`` and return its position; ``SpoolFullError`` past the quota."""
        self._check_usable()
        try:
            return self._append(event)
        except BaseException as exc:
            self._failure = exc
            raise

    def _append(self, event: NewEvent) -> int:
        headers, header_bytes = _encode_headers(event.headers)
        size = len(event.topic.encode()) + len(event.key.encode()) + len(event.value or b"") + header_bytes
        spool = self._spool
        with _translated(spool.path, spool.quota_bytes):
            claimed = self._conn.execute(
                "UPDATE meta SET size_bytes = size_bytes + ?, depth = depth + 1 "
                "WHERE id = 1 AND size_bytes + ? <= ?",
                (size, size, spool.quota_bytes),
            ).rowcount
            if not claimed:
                (current,) = self._conn.execute("SELECT size_bytes FROM meta WHERE id = 1").fetchone()
                raise SpoolFullError(
                    spool.path, quota_bytes=spool.quota_bytes, size_bytes=current, needed_bytes=size
                )
            cursor = self._conn.execute(
                "INSERT INTO events (topic, key, value, headers, sequence, enqueued_at, size) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event.topic, event.key, event.value, headers, event.sequence, time.time(), size),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise SpoolError(
                f"a transaction on publish spool {self._spool.path} was used after it ended",
                hint="call next_sequence/append only inside the `with spool.transaction()` block",
            )


class Spool:
    """A durable FIFO of events in one SQLite file.

    One connection guarded by a lock: the object may be called from any thread (e.g. through
    ``asyncio.to_thread``), one call at a time; a transaction block must run on one thread.
    """

    def __init__(self, path: Path, *, quota_bytes: int = 1 << 30) -> None:
        if quota_bytes <= 0:
            raise ConfigError(
                f"spool quota for {path} must be positive, not {quota_bytes}",
                hint="pass --spool-quota in bytes, e.g. 1073741824 for 1 GiB",
            )
        self.path = Path(path)
        self.quota_bytes = quota_bytes
        self._lock = threading.RLock()
        with _translated(self.path, self.quota_bytes):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            try:
                _configure(conn, self.path)
                _migrate(conn, self.path)
            except BaseException:
                conn.close()
                raise
        self._conn: sqlite3.Connection | None = conn

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[SpoolTransaction]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (fsynced when the block returns); rollback on any error."""
        with self._lock:
            conn = self._connection()
            if conn.in_transaction:
                raise SpoolError(
                    f"a transaction on publish spool {self.path} is already open",
                    hint="spool transactions do not nest; append everything inside one block",
                )
            with _translated(self.path, self.quota_bytes):
                conn.execute("BEGIN IMMEDIATE")
            tx = SpoolTransaction(self, conn)
            try:
                yield tx
                if tx._failure is not None:
                    raise tx._failure
                with _translated(self.path, self.quota_bytes):
                    conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
            finally:
                tx._closed = True

    def peek(self, limit: int, *, after: int = 0) -> list[SpooledEvent]:
        """Up to ``limit`` waiting events with position > ``after``, oldest first."""
        if limit <= 0:
            return []
        with self._lock, _translated(self.path, self.quota_bytes):
            rows = (
                self._connection()
                .execute(
                    "SELECT position, topic, key, value, headers, sequence, enqueued_at FROM events "
                    "WHERE position > ? ORDER BY position LIMIT ?",
                    (after, limit),
                )
                .fetchall()
            )
        return [
            SpooledEvent(position, topic, key, value, _decode_headers(headers), sequence, enqueued_at)
            for position, topic, key, value, headers, sequence, enqueued_at in rows
        ]

    def remove(self, positions: Sequence[int]) -> None:
        """Drop these events (unknown or already removed positions are ignored) and free their quota."""
        if not positions:
            return
        with self._lock, self._write() as conn:
            for start in range(0, len(positions), _REMOVE_CHUNK):
                chunk = list(positions[start : start + _REMOVE_CHUNK])
                marks = ",".join("?" * len(chunk))
                freed, count = conn.execute(
                    f"SELECT COALESCE(SUM(size), 0), COUNT(*) FROM events WHERE position IN ({marks})", chunk
                ).fetchone()
                if count:
                    conn.execute(f"DELETE FROM events WHERE position IN ({marks})", chunk)
                    conn.execute(
                        "UPDATE meta SET size_bytes = size_bytes - ?, depth = depth - ? WHERE id = 1",
                        (freed, count),
                    )

    def depth(self) -> int:
        """How many events wait to be sent."""
        return self._meta("depth")

    def size_bytes(self) -> int:
        """Bytes counted against the quota: topic + key + value + header bytes of waiting events."""
        return self._meta("size_bytes")

    def oldest_age_s(self, now: float | None = None) -> float | None:
        """Seconds the oldest waiting event has waited; None when the spool is empty."""
        with self._lock, _translated(self.path, self.quota_bytes):
            row = (
                self._connection()
                .execute("SELECT enqueued_at FROM events ORDER BY position LIMIT 1")
                .fetchone()
            )
        if row is None:
            return None
        return max(0.0, (time.time() if now is None else now) - float(row[0]))

    def _meta(self, column: str) -> int:
        with self._lock, _translated(self.path, self.quota_bytes):
            (value,) = self._connection().execute(f"SELECT {column} FROM meta WHERE id = 1").fetchone()
        return int(value)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction of its own, or the caller's when one is open on this thread."""
        conn = self._connection()
        if conn.in_transaction:
            with _translated(self.path, self.quota_bytes):
                yield conn
            return
        with _translated(self.path, self.quota_bytes):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SpoolError(f"publish spool {self.path} is closed", hint="open a new Spool on the file")
        return self._conn


def _configure(conn: sqlite3.Connection, path: Path) -> None:
    (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if str(mode).lower() != "wal":
        raise SpoolError(
            f"publish spool {path} cannot use write-ahead logging (journal mode stays {mode})",
            hint="put the spool on a local disk, not a network share",
        )
    for pragma in ("synchronous = FULL", "fullfsync = ON", "checkpoint_fullfsync = ON"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(f"PRAGMA journal_size_limit = {64 << 20}")


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    latest = len(_MIGRATIONS)
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > latest:
        raise SpoolError(
            f"publish spool {path} has schema version {version}; this agency-bus knows up to {latest}",
            hint="run the agency-bus version that wrote the spool until it drains, then upgrade",
        )
    if version == latest:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()  # another process may have migrated
        for statements in _MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {latest}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def _translated(path: Path, quota_bytes: int) -> Iterator[None]:
    """Turn sqlite3 and file-system errors into spool errors; the one place that does so."""
    try:
        yield
    except sqlite3.Error as exc:
        primary = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if primary == sqlite3.SQLITE_FULL:
            raise SpoolFullError(path, quota_bytes=quota_bytes, size_bytes=None, needed_bytes=None) from exc
        busy = primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        raise SpoolError(
            f"publish spool {path} cannot be used: {exc}",
            hint="another process holds the spool; retry or stop it"
            if busy
            else "check that the file is a spool, readable and writable, and that the disk is healthy",
            retriable=busy,
        ) from exc
    except OSError as exc:
        raise SpoolError(
            f"publish spool {path} cannot be used: {exc}",
            hint="check that the spool's directory exists and is writable",
        ) from exc


def _encode_headers(headers: list[tuple[str, bytes]]) -> tuple[bytes, int]:
    """The headers as one blob, and the header bytes they count against the quota."""
    parts: list[bytes] = []
    counted = 0
    for name, value in headers:
        raw = name.encode()
        if len(raw) > 0xFFFF:
            raise ConfigError(
                f"header name {name[:40]!r}... is {len(raw)} bytes long",
                hint="header names fit in 65535 bytes",
            )
        parts += (_NAME_LEN.pack(len(raw)), raw, _VALUE_LEN.pack(len(value)), value)
        counted += len(raw) + len(value)
    return b"".join(parts), counted


def _decode_headers(blob: bytes) -> list[tuple[str, bytes]]:
    headers: list[tuple[str, bytes]] = []
    offset, end = 0, len(blob)
    while offset < end:
        (name_len,) = _NAME_LEN.unpack_from(blob, offset)
        offset += _NAME_LEN.size
        name = blob[offset : offset + name_len].decode()
        offset += name_len
        (value_len,) = _VALUE_LEN.unpack_from(blob, offset)
        offset += _VALUE_LEN.size
        headers.append((name, blob[offset : offset + value_len]))
        offset += value_len
    return headers
