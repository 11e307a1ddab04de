"""The end of ``bus up --demo``: this quarter's agency scorecard and the demo citizen's wallet."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from bus.audit.db import ArchiveStore, AuditRow
from bus.demo.scenario import Step
from bus.kafka.client import KafkaSettings
from bus.report.period import current_quarter
from bus.report.render import compact_table
from bus.report.scorecard import scorecard_async
from bus.report.sources import read_agreements, read_directory

console = Console()


async def show_scorecard(settings: KafkaSettings, audit_db: str, event_ids: list[str]) -> None:
    """The agency scorecard of this quarter, once the archive holds the scenario's decisions."""
    store = ArchiveStore(audit_db)
    try:
        for _ in range(100):
            if await asyncio.to_thread(_archived, store, event_ids):
                break
            await asyncio.sleep(0.2)
        now = dt.datetime.now(dt.UTC)
        names = await read_directory(settings)
        card = await scorecard_async(
            store, current_quarter(now), names, await read_agreements(settings), now=now
        )
    finally:
        await asyncio.to_thread(store.close)
    console.print(compact_table(card))
    console.print("all figures, per reason and record type: bus report agencies (docs/scorecard.md)")


def _archived(store: ArchiveStore, event_ids: list[str]) -> bool:
    column = AuditRow.__table__.c.event_id
    with store.engine.connect() as connection:
        found = set(connection.scalars(select(column).where(column.in_(event_ids)).distinct()))
    return found >= set(event_ids)


async def show_wallet(gateway_url: str, token: str, iin: str, steps: list[Step]) -> None:
    """The citizen's wallet through the gateway, as the portal would show it after sign-in."""
    wanted = {event_id for step in steps for event_id in step.event_ids}
    bearer = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=gateway_url, headers=bearer, timeout=10.0) as client:
        issued = await client.post("/v1/wallet/tokens", json={"iin": iin})
        issued.raise_for_status()
        headers = {"X-Wallet-Token": issued.json()["token"]}
        records: list[dict[str, Any]] = []
        for _ in range(50):
            response = await client.get(f"/v1/wallet/{iin}/records", headers=headers)
            response.raise_for_status()
            records = response.json()["records"]
            if records and records[0]["event_id"] in wanted and _settled(records[0], steps):
                break
            await asyncio.sleep(0.2)
    table = Table("record", "from", "changed at", "field", "value", title=f"citizen wallet of {iin}")
    for item in records:
        provider = item["provider"]["name"] or item["provider"]["id"]
        for number, (name, value) in enumerate(item["record"].items()):
            shown = ", ".join(str(v) for v in value.values() if v) if isinstance(value, dict) else value
            first = number == 0
            table.add_row(
                item["record_type"] if first else "",
                provider if first else "",
                item["changed_at"][:19].replace("T", " ") if first else "",
                name,
                "-" if shown in (None, "") else str(shown),
            )
    console.print(table)


def _settled(item: dict[str, Any], steps: list[Step]) -> bool:
    """The wallet shows the last civil-registry change of the scenario (step 3)."""
    return len(steps) < 3 or item["event_id"] in steps[2].event_ids
