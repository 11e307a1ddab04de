"""What the archive says about one subject: who received what about them, newest first, page by page.

Keyset pagination on (time, partition, offset) descending: a page cursor is the position of the last
entry shown, so pages stay stable while the archiver appends. The citizen tracker and
``bus audit subject`` read through here.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Select, literal, or_, select, tuple_
from sqlalchemy.exc import SQLAlchemyError

from bus.audit.chain import ArchivedEntry, utc
from bus.audit.db import ArchiveStore, AuditRow, database_error, from_row
from bus.audit.entry import Decision
from bus.audit.errors import AuditQueryError
from bus.audit.receipt_store import ReceiptStore

MAX_LIMIT = 500
RECEIPTED = (Decision.DELIVERED, Decision.BACKFILLED)
"""Decisions a consumer receipts: the ones that sent it something."""


@dataclass(frozen=True, slots=True)
class SubjectQuery:
    """Filters for one subject's entries; ``agency`` matches the provider or the consumer."""

    subject: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    consumer: str | None = None
    decision: Decision | None = None
    agency: str | None = None
    limit: int = 50
    cursor: str | None = None
    visible_at: dt.datetime | None = None
    """The citizen's view: leave out entries hidden (delayed disclosure) until after this time."""


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: tuple[ArchivedEntry, ...]
    next_cursor: str | None
    received: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    """(event id, consumer) → when the consumer signed a receipt for the delivery (absent: not yet)."""

    def received_at(self, entry: ArchivedEntry) -> dt.datetime | None:
        return self.received.get((entry.event_id, entry.consumer or ""))


def _encode_cursor(entry: ArchivedEntry) -> str:
    position = [entry.time.isoformat(), entry.kafka_partition, entry.kafka_offset]
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        time, partition, offset = json.loads(raw)
        return utc(dt.datetime.fromisoformat(time)), int(partition), int(offset)
    except (ValueError, TypeError, binascii.Error):
        raise AuditQueryError(
            f"page cursor {cursor!r:.60} is not one this archive returned",
            hint="pass next_cursor of the previous page unchanged, or no cursor for the first page",
        ) from None


def _select(query: SubjectQuery) -> Select[Any]:
    if not 1 <= query.limit <= MAX_LIMIT:
        raise AuditQueryError(
            f"limit {query.limit} is out of range", hint=f"ask for 1 to {MAX_LIMIT} entries per page"
        )
    table = AuditRow.__table__.c
    statement = select(AuditRow.__table__).where(table.subject == query.subject)
    if query.since is not None:
        statement = statement.where(table.time >= utc(query.since))
    if query.until is not None:
        statement = statement.where(table.time < utc(query.until))
    if query.consumer is not None:
        statement = statement.where(table.consumer == query.consumer)
    if query.decision is not None:
        statement = statement.where(table.decision == query.decision.value)
    if query.agency is not None:
        statement = statement.where(or_(table.provider == query.agency, table.consumer == query.agency))
    if query.visible_at is not None:
        due = literal(utc(query.visible_at), DateTime(timezone=True))
        statement = statement.where(or_(table.hidden_until.is_(None), table.hidden_until <= due))
    if query.cursor is not None:
        time, partition, offset = _decode_cursor(query.cursor)
        after = tuple_(
            literal(time, DateTime(timezone=True)), literal(partition, Integer), literal(offset, BigInteger)
        )
        statement = statement.where(tuple_(table.time, table.kafka_partition, table.kafka_offset) < after)
    order = (table.time.desc(), table.kafka_partition.desc(), table.kafka_offset.desc())
    return statement.order_by(*order).limit(query.limit + 1)


def find_subject_entries(store: ArchiveStore, query: SubjectQuery) -> AuditPage:
    """One page of a subject's entries, newest first (blocking; see ``subject_entries``)."""
    statement = _select(query)
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(statement).all()
    except SQLAlchemyError as exc:
        raise database_error(exc, store.url, "querying the entries of a subject") from None
    entries = tuple(from_row(r).entry for r in rows[: query.limit])
    more = len(rows) > query.limit
    delivered = [e.event_id for e in entries if e.decision in RECEIPTED]
    received = ReceiptStore(store).received(delivered)
    return AuditPage(entries, _encode_cursor(entries[-1]) if more and entries else None, received)


async def subject_entries(store: ArchiveStore, query: SubjectQuery) -> AuditPage:
    """``find_subject_entries`` off the event loop (the database driver blocks)."""
    return await asyncio.to_thread(find_subject_entries, store, query)
