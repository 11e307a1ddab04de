"""Change capture from a real PostgreSQL: snapshot, created/updated/deleted, bus_changed, rollbacks."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from bus.demo.civil_registry_db import citizen, populate
from bus.event.envelope import ChangeKind
from bus.validate.iin import make_iin
from tests.connectors.postgres.conftest import Cdc
from tests.connectors.postgres.workload import build, check


async def test_existing_rows_arrive_as_snapshot_then_each_change_as_its_event(cdc: Cdc) -> None:
    # given a registry with 20 citizens
    iins = populate(cdc.dsn, 20)
    newborn = make_iin(dt.date(2026, 1, 1), "FEMALE", 5) or make_iin(dt.date(2026, 1, 1), "FEMALE", 6)
    async with cdc.running():
        # when the connector starts, then every existing row arrives as a snapshot event
        snapshot = await cdc.wait_for(20)
        assert sorted(e.key for e in snapshot) == sorted(iins)
        assert {e.envelope.kind for e in snapshot} == {ChangeKind.SNAPSHOT}
        # when a citizen moves, another is removed, a transaction rolls back, and a newborn is registered
        cdc.execute(
            "UPDATE registry.citizens SET addr_settlement = 'Akkol', addr_street = NULL "
            f"WHERE iin = '{iins[0]}'",
            f"DELETE FROM registry.citizens WHERE iin = '{iins[1]}'",
            f"BEGIN; DELETE FROM registry.citizens WHERE iin = '{iins[2]}'; ROLLBACK",
            "INSERT INTO registry.citizens (iin, last_name, first_name, birth_date, gender, addr_region, "
            f"addr_settlement, addr_building) VALUES ('{newborn}', 'Abenova', 'Aru', '2026-01-01', 'F', "
            "'Akmola', 'Kosshy', '7')",
        )
        events = [e for e in await cdc.wait_for(23) if e.envelope.kind is not ChangeKind.SNAPSHOT]
    # then exactly three events follow, in commit order, with the right kinds, values and changed fields
    events.sort(key=lambda e: e.envelope.time)
    assert [(e.envelope.kind, e.key) for e in events] == [
        (ChangeKind.UPDATED, iins[0]),
        (ChangeKind.DELETED, iins[1]),
        (ChangeKind.CREATED, newborn),
    ]
    moved, removed, born = events
    assert moved.record is not None
    assert moved.record["registered_address"]["settlement"] == "Akkol"
    assert moved.envelope.changed is not None
    assert set(moved.envelope.changed) <= {"registered_address.settlement", "registered_address.street"}
    assert "registered_address.settlement" in moved.envelope.changed
    assert removed.value is None
    assert removed.record is None
    assert born.record is not None
    assert born.record["birth_date"] == dt.date(2026, 1, 1)
    assert born.record["sex"] == "FEMALE"
    assert born.record["document"] is None
    assert born.record["patronymic"] is None


async def test_5000_statements_in_mixed_transactions_arrive_per_key_in_commit_order(cdc: Cdc) -> None:
    # given 100 citizens and a connector streaming their changes
    existing = [citizen(n) for n in range(100)]
    populate(cdc.dsn, 100)
    workload = build(seed=7, statements=5000, existing=existing)
    async with cdc.running():
        # when 5,000 INSERT/UPDATE/DELETE statements run in transactions, a tenth of them rolled back
        started = time.monotonic()
        await asyncio.to_thread(workload.run, cdc.dsn)
        # then each committed change arrives once, per key in commit order, with values and changed fields
        events = await cdc.wait_for(workload.events, timeout_s=90)
        elapsed = time.monotonic() - started
    check(events, workload)
    assert workload.statements >= 5000
    print(f"{workload.statements} statements -> {workload.events} events in {elapsed:.1f} s")
