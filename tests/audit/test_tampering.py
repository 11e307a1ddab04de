"""Every kind of tampering with the archive is detected and named by its first bad position.

One archive of 600 entries (3 partitions, a signed checkpoint every 50 rows per partition) is built
once; each test tampers with its own copy of the SQLite file through plain SQL, as an intruder with
database access would, then runs ``verify``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from bus.audit.chain import GENESIS, link
from bus.audit.db import ArchiveStore
from bus.audit.verify import BreakKind
from tests.audit.conftest import ARCHIVED, AuditWorld

P = 1  # the partition tampered with

# The columns a forged row fills, named: later migrations add columns at the end of the table.
COLUMNS = (
    "kafka_partition, kafka_offset, entry_id, time, decision, reason, subject, provider, consumer, "
    "agreement_id, purpose, legal_basis, record_type, fields, event_id, event_time, replaces, hash"
)


@pytest.fixture
def copy(archived: AuditWorld, tmp_path: Path) -> tuple[AuditWorld, str]:
    """This test's own copy of the archive (and a world that verifies against the shared checkpoints)."""
    source = Path(archived.sqlite_url().removeprefix("sqlite:///"))
    shutil.copy(source, tmp_path / "audit.sqlite")
    return archived, f"sqlite:///{tmp_path / 'audit.sqlite'}"


def sql(url: str, *statements: str) -> None:
    store = ArchiveStore(url)
    with store.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    store.close()


async def test_the_untouched_archive_verifies(copy: tuple[AuditWorld, str]) -> None:
    # given the archive as the archiver left it
    world, url = copy
    # when it is verified
    report = await world.verify(url)
    # then every row and checkpoint is fine
    assert report.ok, report.breaks
    assert report.rows == ARCHIVED
    assert all(p.checkpoints >= 4 for p in report.partitions)


async def test_a_changed_field_is_found_at_its_row(copy: tuple[AuditWorld, str]) -> None:
    # given one row whose consumer was changed
    world, url = copy
    sql(
        url,
        f"UPDATE audit_entries SET consumer = 'intruder' WHERE kafka_partition = {P} AND kafka_offset = 60",
    )
    # when verified
    broken = (await world.verify(url)).first_break
    # then that row is named, with the recomputed hash vs the stored one
    assert broken is not None
    assert (broken.kind, broken.partition, broken.offset) == (BreakKind.HASH_MISMATCH, P, 60)
    assert broken.expected != broken.found


async def test_a_deleted_row_is_found_at_its_offset(copy: tuple[AuditWorld, str]) -> None:
    # given one row deleted from the middle of a chain
    world, url = copy
    sql(url, f"DELETE FROM audit_entries WHERE kafka_partition = {P} AND kafka_offset = 60")
    # when verified
    broken = (await world.verify(url)).first_break
    # then the missing offset is named
    assert broken is not None
    assert (broken.kind, broken.partition, broken.offset) == (BreakKind.ROW_MISSING, P, 60)


async def test_an_inserted_row_is_found_at_its_offset(copy: tuple[AuditWorld, str]) -> None:
    # given a forged row inserted after offset 60: later rows moved down by one and the forged row
    # chained correctly onto its predecessor (the intruder knows the chain rule)
    world, url = copy
    store = ArchiveStore(url)
    previous = store.row_at(P, 60)
    assert previous is not None
    forged = dataclasses.replace(previous.entry, kafka_offset=61, consumer="intruder", event_id="forged")
    forged_hash = link(bytes.fromhex(previous.hash), forged).hex()
    store.close()
    where = f"kafka_partition = {P} AND kafka_offset > 60"
    sql(
        url,
        f"UPDATE audit_entries SET kafka_offset = -(kafka_offset + 1) WHERE {where}",
        f"UPDATE audit_entries SET kafka_offset = -kafka_offset WHERE kafka_partition = {P} "
        "AND kafka_offset < 0",
        f"INSERT INTO audit_entries ({COLUMNS}) SELECT kafka_partition, 61, entry_id, time, decision, "
        "reason, subject, provider, 'intruder', agreement_id, purpose, legal_basis, record_type, fields, "
        f"'forged', event_time, replaces, '{forged_hash}' FROM audit_entries "
        f"WHERE kafka_partition = {P} AND kafka_offset = 60",
    )
    # when verified
    broken = (await world.verify(url)).first_break
    # then the forged row's offset is named
    assert broken is not None
    assert (broken.kind, broken.partition, broken.offset) == (BreakKind.ROW_INSERTED, P, 61)


async def test_a_row_appended_after_the_head_is_found(copy: tuple[AuditWorld, str]) -> None:
    # given a forged row appended after the last one, correctly chained
    world, url = copy
    store = ArchiveStore(url)
    head = store.heads()[P]
    last = store.row_at(P, head.offset)
    assert last is not None
    forged = dataclasses.replace(last.entry, kafka_offset=head.offset + 1, consumer="intruder")
    forged_hash = link(bytes.fromhex(last.hash), forged).hex()
    store.close()
    sql(
        url,
        f"INSERT INTO audit_entries ({COLUMNS}) SELECT kafka_partition, kafka_offset + 1, entry_id, time, "
        "decision, "
        "reason, subject, provider, 'intruder', agreement_id, purpose, legal_basis, record_type, fields, "
        "event_id, "
        f"event_time, replaces, '{forged_hash}' FROM audit_entries "
        f"WHERE kafka_partition = {P} AND kafka_offset = {head.offset}",
    )
    # when verified
    broken = (await world.verify(url)).first_break
    # then the appended row is named
    assert broken is not None
    assert (broken.kind, broken.partition, broken.offset) == (BreakKind.ROW_AFTER_HEAD, P, head.offset + 1)


async def test_two_reordered_rows_are_found_at_the_first(copy: tuple[AuditWorld, str]) -> None:
    # given rows 60 and 61 swapped (each keeps its stored hash)
    world, url = copy
    at = f"WHERE kafka_partition = {P} AND kafka_offset"
    sql(
        url,
        f"UPDATE audit_entries SET kafka_offset = -1 {at} = 60",
        f"UPDATE audit_entries SET kafka_offset = 60 {at} = 61",
        f"UPDATE audit_entries SET kafka_offset = 61 {at} = -1",
    )
    # when verified
    broken = (await world.verify(url)).first_break
    # then the first of the two positions is named
    assert broken is not None
    assert (broken.kind, broken.partition, broken.offset) == (BreakKind.HASH_MISMATCH, P, 60)


async def test_a_rewritten_table_with_a_recomputed_chain_is_caught_by_the_signed_checkpoint(
    copy: tuple[AuditWorld, str],
) -> None:
    # given row 60 changed and the whole chain of its partition recomputed, chain heads included
    world, url = copy
    sql(
        url,
        f"UPDATE audit_entries SET consumer = 'intruder' WHERE kafka_partition = {P} AND kafka_offset = 60",
    )
    store = ArchiveStore(url)
    prev, updates = GENESIS, []
    for row in list(store.rows(P)):
        prev = link(prev, row.entry)
        updates.append(
            f"UPDATE audit_entries SET hash = '{prev.hex()}' "
            f"WHERE kafka_partition = {P} AND kafka_offset = {row.entry.kafka_offset}"
        )
    store.close()
    sql(url, *updates, f"UPDATE audit_chain_heads SET hash = '{prev.hex()}' WHERE kafka_partition = {P}")
    assert (await world.verify_chains_only(url)).ok
    # when verified against the signed checkpoints
    broken = (await world.verify(url)).first_break
    # then the first checkpoint after the change names the rewritten range
    assert broken is not None
    assert (broken.kind, broken.partition, broken.offset) == (BreakKind.CHECKPOINT_MISMATCH, P, 99)
    assert "after offset 49" in broken.detail


async def test_deleted_trailing_rows_are_caught_by_the_checkpoint_that_covered_them(
    copy: tuple[AuditWorld, str],
) -> None:
    # given the rows after offset 120 deleted and the recorded chain head moved back to match
    world, url = copy
    store = ArchiveStore(url)
    row = store.row_at(P, 120)
    assert row is not None
    store.close()
    sql(
        url,
        f"DELETE FROM audit_entries WHERE kafka_partition = {P} AND kafka_offset > 120",
        f"UPDATE audit_chain_heads SET kafka_offset = 120, count = 121, hash = '{row.hash}' "
        f"WHERE kafka_partition = {P}",
    )
    # when verified
    broken = (await world.verify(url)).first_break
    # then the first checkpoint beyond the new end is named
    assert broken is not None
    assert (broken.kind, broken.partition, broken.offset) == (BreakKind.CHECKPOINT_ROW_MISSING, P, 149)


async def test_verify_from_a_time_starts_at_the_checkpoints_signed_before_it(
    copy: tuple[AuditWorld, str],
) -> None:
    # given a change in the oldest rows, which a full verify reports
    world, url = copy
    sql(url, f"UPDATE audit_entries SET purpose = 'other' WHERE kafka_partition = {P} AND kafka_offset = 10")
    assert not (await world.verify(url)).ok
    # when verified from now on (every checkpoint is older)
    report = await world.verify(url, since=dt.datetime.now(dt.UTC))
    # then each partition starts at its newest checkpoint and the rows before it are not recomputed
    assert report.ok, report.breaks
    assert all(p.start is not None for p in report.partitions)
    assert report.rows < ARCHIVED
