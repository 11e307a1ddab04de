"""The subscriber's local SQLite file: ``ce_id``s already handled (dedup) and parked updates.

Dedup is bounded by time: an id is kept for ``retention`` (default 7 days, the delivery topics'
retention), because after that the broker can no longer re-deliver the record that carried it.
So the table holds about one row per update received in the retention window (~60 bytes each).
WAL with ``synchronous=NORMAL``: a commit survives a killed process (not a power cut), which is
the failure the dedup must cover; a power cut costs at most re-delivery of the last updates.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (ce_id TEXT PRIMARY KEY, agreement TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS seen_at ON seen (at);
CREATE TABLE IF NOT EXISTS parked (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" INTEGER NOT NULL,
    key TEXT, ce_id TEXT, reason TEXT NOT NULL, detail TEXT NOT NULL,
    value BLOB, headers TEXT NOT NULL
);
"""
_PRUNE_EVERY = 1000


@dataclass(frozen=True)
class Parked:
    """An update the handler could not take (or a delivery that could not be decoded), kept locally."""

    at: float
    topic: str
    partition: int
    offset: int
    key: str | None
    event_id: str | None
    reason: str
    detail: str
    value: bytes | None
    headers: list[tuple[str, bytes]]


class SubscriberStore:
    def __init__(self, path: Path, *, retention: timedelta = timedelta(days=7)) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._retention_s = retention.total_seconds()
        self._since_prune = 0

    def seen(self, event_id: str) -> bool:
        return self.seen_at(event_id) is not None

    def seen_at(self, event_id: str) -> float | None:
        """When the id was handled (Unix seconds), or None if it was not (within the retention)."""
        row = self._db.execute("SELECT at FROM seen WHERE ce_id = ?", (event_id,)).fetchone()
        return None if row is None else float(row[0])

    def remember(self, event_id: str, agreement: str) -> None:
        """Record a handled id (committed before the offset is, so a crash in between cannot duplicate)."""
        now = time.time()
        self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (event_id, agreement, now))
        self._since_prune += 1
        if self._since_prune >= _PRUNE_EVERY:
            self._since_prune = 0
            self._db.execute("DELETE FROM seen WHERE at < ?", (now - self._retention_s,))

    def park(self, item: Parked) -> None:
        self._db.execute(
            'INSERT INTO parked (at, topic, partition, "offset", key, ce_id, reason, detail, value, headers)'
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.at, item.topic, item.partition, item.offset, item.key, item.event_id, item.reason,
                item.detail, item.value, json.dumps([(k, v.decode("latin-1")) for k, v in item.headers]),
            ),
        )  # fmt: skip

    def parked(self) -> list[Parked]:
        rows = self._db.execute(
            'SELECT at, topic, partition, "offset", key, ce_id, reason, detail, value, headers'
            " FROM parked ORDER BY id"
        ).fetchall()
        return [
            Parked(
                at, topic, partition, offset, key, event_id, reason, detail, value,
                [(k, v.encode("latin-1")) for k, v in json.loads(headers)],
            )
            for at, topic, partition, offset, key, event_id, reason, detail, value, headers in rows
        ]  # fmt: skip

    def close(self) -> None:
        self._db.close()
