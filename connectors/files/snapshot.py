"""The last published state of each file feed, so the next import publishes only the difference.

One SQLite file (WAL, ``synchronous=FULL``) may hold many feeds (``<agency>/<type>`` by
default). Table ``snapshot_rows``: ``feed``, ``key`` (primary key together), ``hash`` (16 bytes
of SHA-256 over the record's canonical JSON) and ``record`` (that JSON, kept so an update can
name its changed field paths in ``bus_changed``). Schema version 1 in ``PRAGMA user_version``.

The store is written only after the publisher's spool accepted the same changes; a crash
between the two commits leaves those rows unrecorded, so the next run publishes them again
(same content, new ``ce_id``): at-least-once, never lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from bus.errors import BusError
from bus.policy.compile import changed_paths

__all__ = ["Diff", "Fingerprint", "SnapshotError", "SnapshotStore", "Verdict", "fingerprint"]

_VERSION: Final = 1
_HASH_BYTES: Final = 16


class SnapshotError(BusError):
    """The snapshot file cannot be opened, read or written."""

    code = "snapshot_unavailable"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A record's canonical JSON and its hash: equal records, equal hashes, across runs."""

    digest: bytes
    text: str


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a snapshot")


def fingerprint(record: Mapping[str, Any]) -> Fingerprint:
    """Canonical JSON (sorted keys, ISO dates, no spaces) and the first 16 bytes of its SHA-256."""
    text = json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )
    return Fingerprint(hashlib.sha256(text.encode()).digest()[:_HASH_BYTES], text)


class Verdict(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class Diff:
    """Compares a file's rows, one by one, with the stored snapshot of its feed."""

    def __init__(self, stored: dict[str, bytes]) -> None:
        self._stored = stored
        self._seen: set[str] = set()

    def classify(self, key: str, digest: bytes) -> Verdict:
        self._seen.add(key)
        before = self._stored.get(key)
        if before is None:
            return Verdict.CREATED
        return Verdict.UNCHANGED if before == digest else Verdict.UPDATED

    def protect(self, key: str) -> None:
        """A key present in the file but rejected this time: it must not read as deleted."""
        self._seen.add(key)

    def deleted(self) -> list[str]:
        """Stored keys the file no longer has, in key order."""
        return sorted(key for key in self._stored if key not in self._seen)

    @property
    def stored_count(self) -> int:
        return len(self._stored)


class SnapshotStore:
    """``with SnapshotStore(path) as store``: read a feed's hashes, apply committed changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            raise SnapshotError(
                f"cannot open snapshot store {path}: {exc}", hint="check the --state path and its permissions"
            ) from None
        try:
            self._migrate()
        except sqlite3.Error as exc:
            self._conn.close()
            raise SnapshotError(
                f"snapshot store {path} is unusable: {exc}",
                hint="another import may hold it; else move it away (the next run then republishes all rows)",
            ) from None

    def _migrate(self) -> None:
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > _VERSION:
            raise sqlite3.DatabaseError(f"schema version {version} is newer than this program's {_VERSION}")
        if version < _VERSION:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS snapshot_rows (feed TEXT NOT NULL, key TEXT NOT NULL, "
                "hash BLOB NOT NULL, record TEXT NOT NULL, PRIMARY KEY (feed, key)) WITHOUT ROWID"
            )
            self._conn.execute(f"PRAGMA user_version = {_VERSION}")

    def hashes(self, feed: str) -> dict[str, bytes]:
        """Every stored key of ``feed`` with its content hash."""
        rows = self._conn.execute("SELECT key, hash FROM snapshot_rows WHERE feed = ?", (feed,))
        return {key: bytes(digest) for key, digest in rows}

    def record(self, feed: str, key: str) -> dict[str, Any] | None:
        """The stored (JSON) record of a key, to name what an update changed."""
        row = self._conn.execute(
            "SELECT record FROM snapshot_rows WHERE feed = ? AND key = ?", (feed, key)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def changed(self, feed: str, key: str, new: Fingerprint) -> list[str]:
        """Dotted paths that differ from the stored record (all fields when there is none)."""
        return list(changed_paths(self.record(feed, key), json.loads(new.text)))

    def apply(
        self, feed: str, upserts: Iterable[tuple[str, Fingerprint]], deletes: Iterable[str] = ()
    ) -> None:
        """Record one published batch in one transaction (call right after the spool accepted it)."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO snapshot_rows (feed, key, hash, record) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (feed, key) DO UPDATE SET hash = excluded.hash, record = excluded.record",
                    ((feed, key, f.digest, f.text) for key, f in upserts),
                )
                self._conn.executemany(
                    "DELETE FROM snapshot_rows WHERE feed = ? AND key = ?", ((feed, key) for key in deletes)
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise SnapshotError(
                f"cannot write snapshot store {self.path}: {exc}",
                hint="free disk space; the rows just spooled will be published again on the next run",
            ) from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
