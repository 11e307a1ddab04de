"""The archiver: identical chains on SQLite and PostgreSQL, checkpoints, and no gaps or duplicates."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import pytest
from aiokafka import TopicPartition
from sqlalchemy import text

from bus.audit.checkpoint import Checkpoint
from bus.audit.db import ArchiveStore
from bus.kafka.client import make_consumer, read_to_end
from tests.audit.conftest import AuditWorld, rows_in
from tests.engine import PROFILE
from tests.postgres import PostgresServer
from tests.processes import bus_env
from tests.support.eventually import eventually


def chains(db_url: str) -> dict[int, list[tuple[int, str]]]:
    """Every partition's (offset, hash) list, in offset order."""
    store = ArchiveStore(db_url)
    try:
        return {p: [(r.entry.kafka_offset, r.hash) for r in store.rows(p)] for p in store.partitions()}
    finally:
        store.close()


def assert_contiguous(chain: dict[int, list[tuple[int, str]]]) -> None:
    for partition, links in chain.items():
        offsets = [offset for offset, _ in links]
        assert offsets == list(range(len(offsets))), f"partition {partition} has gaps or repeats"


@pytest.mark.parametrize(
    "count", [5_000, pytest.param(100_000, marks=pytest.mark.slow, id="100000")], ids=str
)
async def test_entries_archive_to_sqlite_and_postgresql_with_identical_chains(
    audit: AuditWorld, postgres: PostgresServer, count: int
) -> None:
    # given `count` audit entries on a 3-partition audit topic
    await audit.produce(count)
    pg_url = postgres.create_database(f"audit_{audit.unique}")
    # when one archiver writes them to SQLite and another to PostgreSQL
    started = time.monotonic()
    await audit.archive(audit.sqlite_url(), count, group_id=f"bus-audit-archiver-sqlite-{audit.unique}")
    sqlite_s = time.monotonic() - started
    started = time.monotonic()
    await audit.archive(pg_url, count, group_id=f"bus-audit-archiver-pg-{audit.unique}")
    postgres_s = time.monotonic() - started
    print(f"archived {count} entries: SQLite {sqlite_s:.1f} s, PostgreSQL {postgres_s:.1f} s")
    # then both hold every entry once, gap-free, with the very same hash chains
    on_sqlite, on_postgres = chains(audit.sqlite_url()), chains(pg_url)
    assert sum(len(c) for c in on_sqlite.values()) == count
    assert_contiguous(on_sqlite)
    assert on_sqlite == on_postgres
    # and `verify` passes on both, every checkpoint matched
    for url in (audit.sqlite_url(), pg_url):
        report = await audit.verify(url)
        assert report.ok, report.breaks
        assert report.rows == count
        assert all(p.checkpoints >= 1 for p in report.partitions)


async def test_a_checkpoint_is_published_every_n_entries_and_on_shutdown(audit: AuditWorld) -> None:
    # given 1,000 entries over 3 partitions
    await audit.produce(1000)
    # when they are archived with a checkpoint every 100 entries per partition, and the archiver stops
    archiver = await audit.archive(audit.sqlite_url(), 1000, checkpoint_every=100)
    # then each partition got one checkpoint per 100 rows plus one for its remainder at shutdown
    records = await read_to_end(audit.settings, audit.checkpoint_topic)
    checkpoints = [Checkpoint.from_json(r.value) for r in records]
    heads = archiver.heads
    for partition, head in heads.items():
        mine = [c for c in checkpoints if c.partition == partition]
        remainder = [head.count] if head.count % 100 else []
        assert [c.count for c in mine] == [*range(100, head.count + 1, 100), *remainder]
        assert mine[-1].offset == head.offset
        assert mine[-1].head == head.hash
        assert {r.key for r in records if Checkpoint.from_json(r.value).partition == partition} == {
            str(partition).encode()
        }


async def test_a_failed_sql_transaction_commits_no_offsets_and_is_archived_after_recovery(
    audit: AuditWorld,
) -> None:
    # given an archive database that refuses every insert (a trigger aborts the transaction)
    url = audit.sqlite_url()
    store = ArchiveStore(url)
    store.migrate()
    sql(
        store,
        "CREATE TRIGGER refuse BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    )
    await audit.produce(300)
    async with audit.archiver(url):
        # when the archiver has tried to write the entries for a while
        await asyncio.sleep(3)
        # then nothing is archived and no offset was committed
        assert store.count() == 0
        assert await committed(audit) == {}
        # when the database recovers
        sql(store, "DROP TRIGGER refuse")
        await eventually(lambda: rows_in(url, 300), timeout_s=60)
    # then every entry is archived once, gap-free, and the committed offsets reach the end
    assert_contiguous(chains(url))
    assert sum((await committed(audit)).values()) == 300
    store.close()


async def test_kill_9_mid_archive_then_restart_leaves_no_gap_and_no_duplicate(audit: AuditWorld) -> None:
    # given 20,000 entries and the `archive` command archiving them in batches of 500
    await audit.produce(20_000)
    url = audit.sqlite_url()
    argv = [
        "bus", "audit", "archive",
        "--db", url, "--key", str(audit.audit_key_file), "--max-batch", "500", "--checkpoint-every", "1000",
        "--group", f"bus-audit-archiver-{audit.unique}", "--registry", audit.registry_url,
        "--bootstrap", audit.settings.bootstrap, "--profile", PROFILE,
        "--topic", audit.audit_topic, "--checkpoint-topic", audit.checkpoint_topic,
    ]  # fmt: skip
    # when it is killed with SIGKILL part-way
    env = bus_env(argv, None)
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env) as proc:
        await eventually(lambda: rows_in(url, 2000), timeout_s=60)
        os.kill(proc.pid, signal.SIGKILL)
    store = ArchiveStore(url)
    before = store.count()
    store.close()
    # and started again
    await audit.archive(url, 20_000)
    # then every entry is archived exactly once, offsets gap-free, and the chains verify
    assert before < 20_000
    chain = chains(url)
    assert sum(len(links) for links in chain.values()) == 20_000
    assert_contiguous(chain)
    report = await audit.verify(url)
    assert report.ok, report.breaks


async def test_a_restart_resumes_from_the_database_even_without_committed_offsets(audit: AuditWorld) -> None:
    # given 1,000 entries archived, then 500 more
    url = audit.sqlite_url()
    await audit.produce(1000)
    await audit.archive(url, 1000)
    await audit.produce(500, start=1000)
    # when an archiver of another group (no committed offsets: as after a crash right after the SQL
    # commit) archives into the same database
    await audit.archive(url, 1500, group_id=f"bus-audit-archiver-fresh-{audit.unique}")
    # then nothing was archived twice and nothing skipped
    chain = chains(url)
    assert sum(len(links) for links in chain.values()) == 1500
    assert_contiguous(chain)
    assert (await audit.verify(url)).ok


def sql(store: ArchiveStore, statement: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(statement))


async def committed(audit: AuditWorld) -> dict[int, int]:
    """The archiver group's committed offsets per partition."""
    consumer = make_consumer(audit.settings, group_id=f"bus-audit-archiver-{audit.unique}")
    await consumer.start()
    try:
        found = {}
        for partition in range(3):
            offset = await consumer.committed(TopicPartition(audit.audit_topic, partition))
            if offset is not None:
                found[partition] = offset
        return found
    finally:
        await consumer.stop()
