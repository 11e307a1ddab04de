"""The Alembic migration builds exactly the declared tables, and the chain's bytes are pinned."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bus.audit.chain import GENESIS, ArchivedEntry, link
from bus.audit.db import VERSION_TABLE, ArchiveStore, Base
from bus.audit.entry import Decision
from bus.wallet import store as _wallet_tables  # noqa: F401  (its table is part of the archive DB)
from tests.postgres import PostgresServer


def differences(url: str) -> list[object]:
    store = ArchiveStore(url)
    try:
        store.migrate()
        store.migrate()  # idempotent
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return list(compare_metadata(context, Base.metadata))
    finally:
        store.close()


def test_the_migration_matches_the_models_on_sqlite(tmp_path: Path) -> None:
    assert differences(f"sqlite:///{tmp_path / 'new' / 'audit.sqlite'}") == []


def test_the_migration_matches_the_models_on_postgresql(postgres: PostgresServer, unique: str) -> None:
    assert differences(postgres.create_database(f"schema_{unique}")) == []


def test_canonical_bytes_are_sorted_compact_json_with_millisecond_times() -> None:
    # given an entry at partition 2, offset 7
    time = dt.datetime(2026, 3, 1, 8, 0, 0, 123000, tzinfo=dt.UTC)
    entry = ArchivedEntry(
        2, 7, "ab", time, Decision.DELIVERED, "900514300001", "civil", "person", "e-1", time,
        consumer="tax", fields=("iin", "surname"), legal_basis="Налоговый кодекс «ст. 5»",
    )  # fmt: skip
    # when it is made canonical and chained onto the genesis hash
    canonical = entry.canonical_bytes()
    # then the bytes are RFC 8785-style JSON, and the first link is SHA-256(32 zero bytes ‖ bytes)
    assert (
        canonical
        == (
            '{"agreement_id":null,"consumer":"tax","decision":"delivered","entry_id":"ab","event_id":"e-1",'
            '"event_time":1772352000123,"fields":["iin","surname"],"kafka_offset":7,"kafka_partition":2,'
            '"legal_basis":"Налоговый кодекс «ст. 5»","provider":"civil","purpose":null,"reason":null,'
            '"record_type":"person","replaces":null,"subject":"900514300001","time":1772352000123}'
        ).encode()
    )
    assert link(GENESIS, entry).hex() == hashlib.sha256(bytes(32) + canonical).hexdigest()
