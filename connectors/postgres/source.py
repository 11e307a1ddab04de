"""The PostgreSQL side, blocking (psycopg2): catalog checks, publication, slot, replication stream.

psycopg 3 has no replication protocol; psycopg2's ``LogicalReplicationConnection`` does. Every
call here blocks, so the connector runs them through ``asyncio.to_thread`` (STYLE 7), and every
psycopg2 error becomes a ``CdcSourceError`` in ``translated`` (the one place).

Acknowledgement: ``ack(lsn)`` reports ``lsn`` as flushed; the connector calls it only after the
spool committed every change up to that commit. psycopg2 additionally moves the flush position
to a keepalive's WAL end when everything received so far was acknowledged; the server only sends
such a keepalive after every transaction committed before that point, so nothing is skipped.
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql

from connectors.postgres.changes import Assembler, Transaction
from connectors.postgres.errors import CdcSourceError
from connectors.postgres.pgoutput import decode, lsn_text, parse_lsn

# the same text forms on both connections, so replicated values parse like snapshot values
_SESSION: Final = "-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=iso_8601 -c extra_float_digits=3"
PROTO_VERSION: Final = "1"
# the link dropped, the server restarts, or a previous walsender still holds the slot: retry
_CONNECTION_LOST: Final = (
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    psycopg2.errors.ObjectInUse,
    psycopg2.errors.AdminShutdown,
)


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """psycopg2 errors -> ``CdcSourceError``; connection losses are retriable, the rest are not."""
    try:
        yield
    except psycopg2.Error as exc:
        lost = isinstance(exc, _CONNECTION_LOST)
        detail = (
            (exc.pgerror or str(exc)).strip().splitlines()[0]
            if (exc.pgerror or str(exc))
            else type(exc).__name__
        )
        raise CdcSourceError(
            f"PostgreSQL: cannot {what}: {detail}",
            hint="the connector reconnects by itself; check that the server is up and reachable"
            if lost
            else "check the connector's database role: it needs REPLICATION and SELECT on the mapped tables",
            retriable=lost,
        ) from exc


def connect(dsn: str, *, replication: bool = False) -> psycopg2.extensions.connection:
    factory = psycopg2.extras.LogicalReplicationConnection if replication else None
    with translated("connect"):
        return psycopg2.connect(
            dsn, options=_SESSION, application_name="agency-bus-cdc", connection_factory=factory
        )


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: dict[str, int]  # column -> type OID
    replica_identity: str  # d, n, f, i
    identity_columns: frozenset[str]


def describe(conn: psycopg2.extensions.connection, table: str) -> TableInfo | None:
    """Columns, replica identity and its columns of ``schema.table``; None if there is no such table."""
    schema, name = table.split(".", 1)
    with translated(f"describe table {table}"), conn.cursor() as cur:
        cur.execute(
            "SELECT c.oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            (schema, name),
        )
        found = cur.fetchone()
        if found is None:
            return None
        oid, identity = found
        cur.execute(
            "SELECT attname, atttypid FROM pg_attribute "
            "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (oid,),
        )
        columns = {str(n): int(t) for n, t in cur.fetchall()}
        index_kind = "i.indisprimary" if identity == "d" else "i.indisreplident"
        cur.execute(
            f"SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            f"AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s AND {index_kind}",
            (oid,),
        )
        keys = frozenset(str(r[0]) for r in cur.fetchall())
    conn.rollback()
    return TableInfo(table, columns, str(identity), frozenset(columns) if identity == "f" else keys)


def ensure_publication(
    conn: psycopg2.extensions.connection, publication: str, tables: list[str]
) -> list[str]:
    """Create the publication, or add the mapped tables it lacks; returns the tables added."""
    with translated(f"set up publication {publication}"), conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,))
        exists = cur.fetchone() is not None
        have: set[str] = set()
        if exists:
            cur.execute(
                "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = %s",
                (publication,),
            )
            have = {str(r[0]) for r in cur.fetchall()}
        wanted = [t for t in tables if t not in have]
        names = sql.SQL(", ").join(sql.Identifier(*t.split(".", 1)) for t in wanted)
        if not exists:
            cur.execute(
                sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(publication), names)
            )
        elif wanted:
            cur.execute(
                sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(sql.Identifier(publication), names)
            )
    conn.commit()
    return wanted


def slot_exists(conn: psycopg2.extensions.connection, slot: str) -> bool:
    with translated(f"look up replication slot {slot}"), conn.cursor() as cur:
        cur.execute(
            "SELECT plugin, database = current_database() FROM pg_replication_slots WHERE slot_name = %s",
            (slot,),
        )
        row = cur.fetchone()
    conn.rollback()
    if row is not None and (row[0] != "pgoutput" or not row[1]):
        raise CdcSourceError(
            f"replication slot {slot} exists but belongs to plugin {row[0]} or another database",
            hint="choose another `slot:` name in the mapping, or drop that slot if it is unused",
        )
    return row is not None


class ReplicationStream:
    """One logical replication connection: create or drop the slot, stream, acknowledge."""

    def __init__(self, dsn: str, slot: str, publication: str) -> None:
        self.slot = slot
        self.publication = publication
        self._conn = connect(dsn, replication=True)
        self._cur: Any = self._conn.cursor()
        self.assembler = Assembler()
        self.acked = 0

    def create_slot(self, *, export_snapshot: bool) -> tuple[int, str | None]:
        """Create the slot; returns its consistent point and (if asked) the exported snapshot's name.

        The snapshot stays importable until this connection runs its next command (``start``).
        """
        mode = "EXPORT_SNAPSHOT" if export_snapshot else "NOEXPORT_SNAPSHOT"
        with translated(f"create replication slot {self.slot}"):
            self._cur.execute(f"CREATE_REPLICATION_SLOT {self.slot} LOGICAL pgoutput {mode}")
            _, point, snapshot, _ = self._cur.fetchone()
        return parse_lsn(point), snapshot

    def drop_slot(self) -> None:
        with translated(f"drop replication slot {self.slot}"):
            self._cur.drop_replication_slot(self.slot)

    def start(self) -> None:
        """Stream from the slot's confirmed position (the server re-sends anything not yet confirmed)."""
        with translated(f"start replication from slot {self.slot}"):
            self._cur.start_replication(
                slot_name=self.slot,
                decode=False,
                options={"proto_version": PROTO_VERSION, "publication_names": self.publication},
                status_interval=5,
            )

    def cast(self, type_oid: int, text: str) -> Any:
        """A column's text form -> Python value, by psycopg2's typecaster for the type (str if none)."""
        return self._cur.cast(type_oid, text)

    def read(self, max_changes: int, wait_s: float) -> list[Transaction]:
        """Committed transactions received within ``wait_s`` (returns early once some are complete)."""
        done: list[Transaction] = []
        count = 0
        deadline = time.monotonic() + wait_s
        with translated(f"read from replication slot {self.slot}"):
            while True:
                message = self._read_message()
                if message is None:
                    left = deadline - time.monotonic()
                    if done or left <= 0:
                        return done
                    select.select([self._cur], [], [], min(left, 1.0))
                    continue
                txn = self.assembler.feed(decode(bytes(message.payload)))
                if txn is not None:
                    done.append(txn)
                    count += len(txn.changes)
                    if count >= max_changes:
                        return done

    def _read_message(self) -> Any:
        try:
            return self._cur.read_message()
        except psycopg2.DatabaseError as exc:
            if exc.pgcode is not None:
                raise
            # libpq's own "no COPY in progress": the server ended the stream, e.g. while shutting down
            raise CdcSourceError(
                f"PostgreSQL ended the replication stream of slot {self.slot}: {str(exc).strip()}",
                hint="the connector reconnects by itself once the server is back",
                retriable=True,
            ) from exc

    def ack(self, lsn: int) -> None:
        """Confirm everything up to ``lsn`` (a commit's end LSN): the server may recycle that WAL."""
        with translated(f"confirm position {lsn_text(lsn)} on slot {self.slot}"):
            self._cur.send_feedback(write_lsn=lsn, flush_lsn=lsn, force=True)
        self.acked = max(self.acked, lsn)

    def close(self) -> None:
        with contextlib.suppress(psycopg2.Error):
            self._cur.close()
        with contextlib.suppress(psycopg2.Error):
            self._conn.close()
