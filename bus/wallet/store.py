"""``wallet_records`` in the archive database: (IIN, record type) → the latest delivered record.

Written only by the wallet materialiser (``materialise.py``), read by the gateway. Created by the
archive's Alembic chain (revision 0002); it is a view, rebuilt from ``deliver.wallet.*`` if lost,
and outside the audit hash chains.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, DateTime, String, Table, Text, and_, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from bus.audit.chain import utc
from bus.audit.db import ArchiveStore, Base, database_error

WALLET = "wallet"  # the agency id the bus reserves for the citizen wallet consumer
WALLET_NAME = "Citizen wallet"

wallet_records = Table(  # on the archive's metadata: one migration chain describes the whole database
    "wallet_records",
    Base.metadata,
    Column("iin", String(12), primary_key=True),
    Column("record_type", String(64), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("agreement_id", String(64), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("received", DateTime(timezone=True), nullable=False),
    Column("record", Text, nullable=False),
)


@dataclass(frozen=True, slots=True)
class WalletChange:
    """One delivery to the wallet; ``record`` None is a delete (the row goes)."""

    iin: str
    record_type: str
    provider: str
    agreement_id: str
    purpose: str
    event_id: str
    event_time: dt.datetime
    record: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class WalletRecord:
    iin: str
    record_type: str
    provider: str
    agreement_id: str
    purpose: str
    event_id: str
    event_time: dt.datetime
    received: dt.datetime
    record: dict[str, Any]


def _plain(value: Any) -> Any:
    """Avro logical values as JSON: dates and times in ISO form, decimals as text, bytes in base64."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot store a {type(value).__name__} in the wallet")


def record_json(record: dict[str, Any]) -> str:
    return json.dumps(record, default=_plain, ensure_ascii=False, sort_keys=True)


def apply_changes(store: ArchiveStore, changes: Sequence[WalletChange], received: dt.datetime) -> None:
    """Upsert or delete every change in one transaction; an older change never replaces a newer one.

    Deliveries of one key arrive in order; the event-time guard keeps a re-read (after a crash before
    the offset commit) or a second provider's older record from undoing a newer one.
    """
    table = wallet_records.c
    try:
        with store.engine.begin() as connection:
            for change in changes:
                key = and_(table.iin == change.iin, table.record_type == change.record_type)
                at = utc(change.event_time)
                if change.record is None:
                    connection.execute(delete(wallet_records).where(key, table.event_time <= at))
                    continue
                values = {
                    "provider": change.provider,
                    "agreement_id": change.agreement_id,
                    "purpose": change.purpose,
                    "event_id": change.event_id,
                    "event_time": at,
                    "received": utc(received),
                    "record": record_json(change.record),
                }
                current = connection.execute(select(table.event_time).where(key)).first()
                if current is None:
                    connection.execute(
                        insert(wallet_records).values(
                            iin=change.iin, record_type=change.record_type, **values
                        )
                    )
                elif utc(current[0]) <= at:
                    connection.execute(update(wallet_records).where(key).values(values))
    except SQLAlchemyError as exc:
        raise database_error(exc, store.url, f"storing {len(changes)} wallet deliveries") from None


def forget(store: ArchiveStore, iin: str, purpose: str) -> int:
    """Drop what the wallet holds about ``iin`` under agreements of ``purpose`` (the consent was revoked)."""
    table = wallet_records.c
    try:
        with store.engine.begin() as connection:
            done = connection.execute(
                delete(wallet_records).where(table.iin == iin, table.purpose == purpose)
            )
    except SQLAlchemyError as exc:
        raise database_error(exc, store.url, "forgetting a revoked wallet consent") from None
    return int(done.rowcount or 0)


def records_of(store: ArchiveStore, iin: str) -> list[WalletRecord]:
    """The person's latest record of each type, ordered by record type."""
    table = wallet_records.c
    query = select(wallet_records).where(table.iin == iin).order_by(table.record_type)
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(query).all()
    except SQLAlchemyError as exc:
        raise database_error(exc, store.url, "reading a citizen's wallet") from None
    return [
        WalletRecord(
            iin=r.iin,
            record_type=r.record_type,
            provider=r.provider,
            agreement_id=r.agreement_id,
            purpose=r.purpose,
            event_id=r.event_id,
            event_time=utc(r.event_time),
            received=utc(r.received),
            record=json.loads(r.record),
        )
        for r in rows
    ]
