"""Read every existing row of the mapped tables inside the snapshot the new slot exported.

Rows read here and changes streamed from the slot meet exactly at the slot's consistent point:
a transaction committed before it is in the snapshot, one committed after it is streamed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg2.extensions
from psycopg2 import sql

from connectors.postgres.source import translated

Row = dict[str, Any]


class SnapshotReader:
    """A REPEATABLE READ, read-only transaction that imported the slot's exported snapshot."""

    def __init__(self, conn: psycopg2.extensions.connection, snapshot: str) -> None:
        self._conn = conn
        with translated(f"import snapshot {snapshot}"):
            conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
            with conn.cursor() as cur:
                cur.execute("SET TRANSACTION SNAPSHOT %s", (snapshot,))

    def rows(self, table: str, columns: list[str], chunk: int) -> Iterator[list[Row]]:
        """The table's rows in chunks (a server-side cursor, so a big table never sits in memory)."""
        schema, name = table.split(".", 1)
        query = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Identifier(schema, name)
        )
        with (
            translated(f"read the snapshot of table {table}"),
            self._conn.cursor(name=f"bus_snapshot_{name}") as cur,
        ):
            cur.itersize = chunk
            cur.execute(query)
            while batch := cur.fetchmany(chunk):
                yield [dict(zip(columns, values, strict=True)) for values in batch]

    def close(self) -> None:
        """End the snapshot transaction; the connection returns to plain autocommit-free use."""
        with translated("end the snapshot transaction"):
            self._conn.rollback()
            self._conn.set_session(isolation_level="DEFAULT", readonly=False)
