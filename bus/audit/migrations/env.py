"""Alembic environment of the audit archive: run programmatically on the connection it is given.

``ArchiveStore.migrate`` passes an open connection in ``config.attributes["connection"]``; there is
no alembic.ini and no offline (SQL script) mode. The version table has its own name so the archive
can share a database with other applications.
"""

from __future__ import annotations

from alembic import context

from bus.audit.db import VERSION_TABLE, Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the audit migrations run through bus.audit.db.ArchiveStore.migrate(), not the alembic CLI"
    )
context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
