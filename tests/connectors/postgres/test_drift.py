"""Schema drift stops only the table concerned, says what to do, and survives a restart."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import yaml

from bus.demo.civil_registry_db import citizen, populate
from bus.event.envelope import ChangeKind
from connectors.postgres.state import load_state, state_path
from tests.connectors.postgres.conftest import Cdc


def map_newborns_too(cdc: Cdc) -> None:
    """A second captured table, registry.newborns, shaped and mapped like registry.citizens."""
    cdc.execute(
        "CREATE TABLE registry.newborns (LIKE registry.citizens INCLUDING ALL)",
        "ALTER TABLE registry.newborns REPLICA IDENTITY FULL",
    )
    mapping = yaml.safe_load(cdc.config_path.read_text())
    mapping["tables"].append({**mapping["tables"][0], "table": "registry.newborns"})
    cdc.config_path.write_text(yaml.safe_dump(mapping, sort_keys=False))


def insert(table: str, n: int, *, without: str = "") -> str:
    row = {c: v for c, v in citizen(n).items() if c != without}
    columns = ", ".join(row)
    values = ", ".join("NULL" if v is None else f"'{v}'" for v in row.values())
    return f"INSERT INTO {table} ({columns}) VALUES ({values})"


async def test_a_dropped_mapped_column_stops_that_table_and_not_the_others(
    cdc: Cdc, caplog: pytest.LogCaptureFixture
) -> None:
    # given two captured tables
    map_newborns_too(cdc)
    populate(cdc.dsn, 2)
    caplog.set_level(logging.INFO, logger="connectors.postgres")
    async with cdc.running() as connector:
        await cdc.wait_for(2)
        # when the newborns table loses a mapped column and the citizens table gains an unmapped one
        cdc.execute(
            "ALTER TABLE registry.newborns DROP COLUMN phone",
            "ALTER TABLE registry.citizens ADD COLUMN nickname text",
            insert("registry.newborns", 500, without="phone"),
            insert("registry.citizens", 501),
            f"UPDATE registry.citizens SET nickname = 'Nurik', phone = '+77015550000' "
            f"WHERE iin = '{citizen(0)['iin']}'",
        )
        events = await cdc.wait_for(4)
        # then citizens' changes still arrive
        assert connector.stopped == {"registry.newborns"}
    kinds = {(e.envelope.kind, e.key) for e in events}
    assert (ChangeKind.CREATED, citizen(501)["iin"]) in kinds
    assert (ChangeKind.UPDATED, citizen(0)["iin"]) in kinds
    assert citizen(500)["iin"] not in {e.key for e in events}
    # and the report names table, column and field, and what to do
    assert "table registry.newborns no longer has column phone" in caplog.text
    assert "field phone" in caplog.text
    assert "--resnapshot" in caplog.text
    assert "new column(s) nickname" in caplog.text
    # and the stop is remembered across restarts
    state = load_state(state_path(Path(yaml.safe_load(cdc.config_path.read_text())["spool"])))
    assert state is not None
    assert "registry.newborns" in state.stopped_tables


async def test_an_unmappable_value_is_reported_with_table_column_and_field(
    cdc: Cdc, caplog: pytest.LogCaptureFixture
) -> None:
    # given a running connector
    async with cdc.running() as connector:
        # when a row carries a document type the mapping does not know
        row = citizen(7)
        cdc.execute(insert("registry.citizens", 7))
        cdc.execute(f"UPDATE registry.citizens SET doc_type = 'DIPLOMATIC' WHERE iin = '{row['iin']}'")
        await cdc.wait_for(1)
        for _ in range(50):
            if connector.stopped:
                break
            await asyncio.sleep(0.1)
    # then the table stops with a message naming the column and the field
    assert connector.stopped == {"registry.citizens"}
    assert "column doc_type cannot become field document.type" in caplog.text
