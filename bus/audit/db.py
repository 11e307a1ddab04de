"""The archive's SQL tables (SQLAlchemy 2.x) and the one blocking adapter over them.

``audit_entries``: one row per audit entry with every ``AuditEntry`` field, its place in the topic
(``kafka_partition``, ``kafka_offset`` = primary key, so a replayed entry can never be a second row)
and its chain ``hash``. ``audit_chain_heads``: the archiver's own bookkeeping, one row per partition
(last offset, head hash, row count, count at the last published checkpoint), written in the same
transaction as the rows, so a restart resumes exactly after the last committed row.

The same code runs on SQLite (a file, the default) and PostgreSQL (``postgresql+psycopg2://…``);
the schema is created by Alembic (``bus/audit/migrations``). SQLAlchemy is synchronous here:
callers on an event loop run these methods with ``asyncio.to_thread``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bus.audit.chain import ArchivedEntry, utc
from bus.audit.entry import Decision
from bus.audit.errors import ArchiveDatabaseError

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "audit_alembic_version"
_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class AuditRow(Base):
    """One archived audit entry, chained; ``kafka_partition`` + ``kafka_offset`` is its identity."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_subject_time", "subject", "time"),
        Index("ix_audit_entries_time", "time"),
    )

    kafka_partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kafka_offset: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[str] = mapped_column(String(64))
    time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decision: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(256))
    provider: Mapped[str] = mapped_column(String(64))
    consumer: Mapped[str | None] = mapped_column(String(64))
    agreement_id: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    record_type: Mapped[str] = mapped_column(String(64))
    fields: Mapped[list[str]] = mapped_column(JSON)
    event_id: Mapped[str] = mapped_column(String(64))
    event_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    replaces: Mapped[str | None] = mapped_column(Text)
    purpose_code: Mapped[str | None] = mapped_column(String(128))
    hidden_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_legal_basis: Mapped[str | None] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))


class ChainHead(Base):
    """The archiver's resume point and checkpoint schedule for one partition."""

    __tablename__ = "audit_chain_heads"

    kafka_partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kafka_offset: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger)
    checkpointed_count: Mapped[int] = mapped_column(BigInteger, default=0)


@dataclass(frozen=True, slots=True)
class Head:
    """A partition's chain head: last archived offset, its hash, rows so far, rows at the last checkpoint."""

    partition: int
    offset: int
    hash: str
    count: int
    checkpointed_count: int = 0


@dataclass(frozen=True, slots=True)
class StoredRow:
    entry: ArchivedEntry
    hash: str


def to_values(row: StoredRow) -> dict[str, Any]:
    entry = row.entry
    return {
        "kafka_partition": entry.kafka_partition,
        "kafka_offset": entry.kafka_offset,
        "entry_id": entry.entry_id,
        "time": entry.time,
        "decision": entry.decision.value,
        "reason": entry.reason,
        "subject": entry.subject,
        "provider": entry.provider,
        "consumer": entry.consumer,
        "agreement_id": entry.agreement_id,
        "purpose": entry.purpose,
        "legal_basis": entry.legal_basis,
        "record_type": entry.record_type,
        "fields": list(entry.fields),
        "event_id": entry.event_id,
        "event_time": entry.event_time,
        "replaces": entry.replaces,
        "purpose_code": entry.purpose_code,
        "hidden_until": entry.hidden_until,
        "hidden_reason": entry.hidden_reason,
        "hidden_legal_basis": entry.hidden_legal_basis,
        "hash": row.hash,
    }


def from_row(row: Any) -> StoredRow:
    """A selected ``audit_entries`` row back as a value (SQLite hands datetimes back naive, in UTC)."""
    entry = ArchivedEntry(
        kafka_partition=row.kafka_partition,
        kafka_offset=row.kafka_offset,
        entry_id=row.entry_id,
        time=utc(row.time),
        decision=Decision(row.decision),
        subject=row.subject,
        provider=row.provider,
        record_type=row.record_type,
        event_id=row.event_id,
        event_time=utc(row.event_time),
        reason=row.reason,
        consumer=row.consumer,
        agreement_id=row.agreement_id,
        purpose=row.purpose,
        legal_basis=row.legal_basis,
        fields=tuple(row.fields or ()),
        replaces=row.replaces,
        purpose_code=row.purpose_code,
        hidden_until=utc(row.hidden_until) if row.hidden_until else None,
        hidden_reason=row.hidden_reason,
        hidden_legal_basis=row.hidden_legal_basis,
    )
    return StoredRow(entry, row.hash)


def database_error(exc: SQLAlchemyError, url: str, doing: str) -> ArchiveDatabaseError:
    """The one translation of database errors (the URL without its password)."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
    return ArchiveDatabaseError(
        f"audit database {url} failed while {doing}: {type(exc).__name__}: {detail}",
        hint="check that the database is reachable and writable; nothing of the failed batch was kept",
    )


def open_engine(url: str) -> Engine:
    """An engine for a SQLite file (parent folder created; WAL, synchronous=FULL) or a PostgreSQL URL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ArchiveDatabaseError(
            f"{url!r} is not a database URL",
            hint="use sqlite:///path/audit.sqlite or postgresql+psycopg2://user@host/db",
        ) from None
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return engine


class ArchiveStore:
    """The archive database; every method is one short blocking transaction or one streamed read."""

    def __init__(self, url: str) -> None:
        self.engine = open_engine(url)
        self.url = self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise database_error(exc, self.url, "migrating the schema") from None

    def require_schema(self) -> None:
        """Fail with an actionable error when the URL holds no audit archive (verify never creates one)."""
        try:
            tables = set(inspect(self.engine).get_table_names())
        except SQLAlchemyError as exc:
            raise database_error(exc, self.url, "opening the archive") from None
        if AuditRow.__tablename__ not in tables:
            raise ArchiveDatabaseError(
                f"{self.url} holds no audit archive (no table {AuditRow.__tablename__})",
                hint="pass the --db URL the archiver writes to (`bus audit archive --db …`)",
                retriable=False,
            )

    def heads(self) -> dict[int, Head]:
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(select(ChainHead.__table__)).all()
        except SQLAlchemyError as exc:
            raise database_error(exc, self.url, "reading the chain heads") from None
        found = (r._mapping for r in rows)  # a Row's own .count is tuple.count
        return {
            m["kafka_partition"]: Head(
                m["kafka_partition"], m["kafka_offset"], m["hash"], m["count"], m["checkpointed_count"]
            )
            for m in found
        }

    def append(self, rows: Sequence[StoredRow], heads: Iterable[Head]) -> None:
        """Insert the rows and move the heads in one transaction: all of it is kept, or none."""
        try:
            with self.engine.begin() as connection:
                if rows:
                    connection.execute(insert(AuditRow), [to_values(r) for r in rows])
                for head in heads:
                    values = {
                        "kafka_offset": head.offset,
                        "hash": head.hash,
                        "count": head.count,
                        "checkpointed_count": head.checkpointed_count,
                    }
                    table = ChainHead.__table__
                    done = connection.execute(
                        update(ChainHead).where(table.c.kafka_partition == head.partition).values(values)
                    )
                    if done.rowcount == 0:
                        connection.execute(insert(ChainHead).values(kafka_partition=head.partition, **values))
        except SQLAlchemyError as exc:
            raise database_error(exc, self.url, f"archiving a batch of {len(rows)} entries") from None

    def mark_checkpointed(self, partition: int, count: int) -> None:
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    update(ChainHead)
                    .where(ChainHead.__table__.c.kafka_partition == partition)
                    .values(checkpointed_count=count)
                )
        except SQLAlchemyError as exc:
            raise database_error(exc, self.url, "recording a published checkpoint") from None

    def partitions(self) -> list[int]:
        """Every partition that has archived rows, ascending."""
        column = AuditRow.__table__.c.kafka_partition
        try:
            with self.engine.connect() as connection:
                return list(connection.scalars(select(column).distinct().order_by(column)))
        except SQLAlchemyError as exc:
            raise database_error(exc, self.url, "listing partitions") from None

    def count(self) -> int:
        try:
            with self.engine.connect() as connection:
                return int(connection.scalar(select(func.count()).select_from(AuditRow)) or 0)
        except SQLAlchemyError as exc:
            raise database_error(exc, self.url, "counting rows") from None

    def rows(self, partition: int, *, after: int | None = None, batch: int = 5000) -> Iterator[StoredRow]:
        """One partition's rows in offset order (streamed; PostgreSQL uses a server-side cursor)."""
        table = AuditRow.__table__
        query = select(table).where(table.c.kafka_partition == partition).order_by(table.c.kafka_offset)
        if after is not None:
            query = query.where(table.c.kafka_offset > after)
        try:
            with self.engine.connect() as connection:
                result = connection.execution_options(yield_per=batch).execute(query)
                for row in result:
                    yield from_row(row)
        except SQLAlchemyError as exc:
            raise database_error(exc, self.url, f"reading partition {partition}") from None

    def row_at(self, partition: int, offset: int) -> StoredRow | None:
        table = AuditRow.__table__
        query = select(table).where(table.c.kafka_partition == partition, table.c.kafka_offset == offset)
        try:
            with self.engine.connect() as connection:
                row = connection.execute(query).first()
        except SQLAlchemyError as exc:
            raise database_error(exc, self.url, f"reading partition {partition} offset {offset}") from None
        return None if row is None else from_row(row)

    def close(self) -> None:
        self.engine.dispose()
