"""The archive's receipt tables: one row per verified (consumer, event) receipt, chained per partition.

``hash = SHA-256(prev_hash ‖ canonical JSON of {kafka_partition, kafka_offset, value, signature, proof,
key_id})`` (the audit chain's rules, ``bus/audit/chain.py``). The signed value text is kept exactly as
received, so a row's signature can be checked from the SQL alone and its chain recomputed anywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    String,
    Text,
    UniqueConstraint,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from bus.audit.chain import GENESIS, chain_step, utc
from bus.audit.db import ArchiveStore, Base, database_error


class ReceiptRow(Base):
    __tablename__ = "receipts"
    __table_args__ = (UniqueConstraint("event_id", "consumer"),)  # one receipt per delivery and consumer

    kafka_partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kafka_offset: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    consumer: Mapped[str] = mapped_column(String(64))
    agreement_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    proof: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(128))
    hash: Mapped[str] = mapped_column(String(64))


class ReceiptHead(Base):
    __tablename__ = "receipt_chain_heads"

    kafka_partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kafka_offset: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class StoredReceipt:
    """One archived receipt: its place, what it says, the signed text and proof, and its chain hash."""

    kafka_partition: int
    kafka_offset: int
    consumer: str
    agreement_id: str
    event_id: str
    subject: str
    received_at: dt.datetime
    value: str
    signature: str
    proof: str
    key_id: str
    hash: str = ""

    def canonical_bytes(self) -> bytes:
        document = {
            "kafka_partition": self.kafka_partition,
            "kafka_offset": self.kafka_offset,
            "value": self.value,
            "signature": self.signature,
            "proof": self.proof,
            "key_id": self.key_id,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def linked(self, prev_hash: bytes) -> StoredReceipt:
        """This receipt with its chain hash after ``prev_hash``."""
        return dataclasses.replace(self, hash=chain_step(prev_hash, self.canonical_bytes()).hex())


@dataclass(frozen=True, slots=True)
class ReceiptChainHead:
    partition: int
    offset: int
    hash: str
    count: int


def _values(receipt: StoredReceipt) -> dict[str, object]:
    return {name: getattr(receipt, name) for name in StoredReceipt.__slots__}


class ReceiptStore:
    """Blocking reads and writes of the receipt tables (run off the event loop by callers)."""

    def __init__(self, archive: ArchiveStore) -> None:
        self._engine = archive.engine
        self._url = archive.url

    def heads(self) -> dict[int, ReceiptChainHead]:
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(select(ReceiptHead.__table__)).all()
        except SQLAlchemyError as exc:
            raise database_error(exc, self._url, "reading the receipt chain heads") from None
        return {
            m["kafka_partition"]: ReceiptChainHead(
                m["kafka_partition"], m["kafka_offset"], m["hash"], m["count"]
            )
            for m in (r._mapping for r in rows)
        }

    def known(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (event id, consumer) pairs already have an archived receipt."""
        wanted = list(set(pairs))
        if not wanted:
            return set()
        table = ReceiptRow.__table__.c
        query = select(table.event_id, table.consumer).where(
            tuple_(table.event_id, table.consumer).in_(wanted)
        )
        try:
            with self._engine.connect() as connection:
                return {(e, c) for e, c in connection.execute(query).all()}
        except SQLAlchemyError as exc:
            raise database_error(exc, self._url, "looking up receipts") from None

    def append(self, rows: Sequence[StoredReceipt], heads: Iterable[ReceiptChainHead]) -> None:
        """Insert the receipts and move the heads in one transaction."""
        try:
            with self._engine.begin() as connection:
                if rows:
                    connection.execute(insert(ReceiptRow), [_values(r) for r in rows])
                for head in heads:
                    values = {"kafka_offset": head.offset, "hash": head.hash, "count": head.count}
                    table = ReceiptHead.__table__
                    done = connection.execute(
                        update(ReceiptHead).where(table.c.kafka_partition == head.partition).values(values)
                    )
                    if done.rowcount == 0:
                        connection.execute(
                            insert(ReceiptHead).values(kafka_partition=head.partition, **values)
                        )
        except SQLAlchemyError as exc:
            raise database_error(exc, self._url, f"archiving {len(rows)} receipts") from None

    def received(self, event_ids: Iterable[str]) -> dict[tuple[str, str], dt.datetime]:
        """(event id, consumer) → when the consumer received it, for the given events."""
        ids = sorted(set(event_ids))
        if not ids:
            return {}
        table = ReceiptRow.__table__.c
        query = select(table.event_id, table.consumer, table.received_at).where(table.event_id.in_(ids))
        try:
            with self._engine.connect() as connection:
                return {(e, c): utc(at) for e, c, at in connection.execute(query).all()}
        except SQLAlchemyError as exc:
            raise database_error(exc, self._url, "reading receipts") from None

    def rows(self, partition: int) -> Iterator[StoredReceipt]:
        """One partition's receipts in offset order (for chain verification)."""
        table = ReceiptRow.__table__
        query = select(table).where(table.c.kafka_partition == partition).order_by(table.c.kafka_offset)
        try:
            with self._engine.connect() as connection:
                for row in connection.execution_options(yield_per=5000).execute(query):
                    values = dict(row._mapping)
                    values["received_at"] = utc(values["received_at"])
                    yield StoredReceipt(**values)
        except SQLAlchemyError as exc:
            raise database_error(exc, self._url, f"reading receipts of partition {partition}") from None

    def first_breaks(self) -> list[tuple[int, int, str, str]]:
        """Per partition, the first receipt whose stored hash the chain does not give, or a head that
        does not match the last row: (partition, offset, expected, found). Empty when every chain holds."""
        breaks = []
        heads = self.heads()
        for partition in sorted(heads):
            digest, last = GENESIS, None
            for row in self.rows(partition):
                digest, last = chain_step(digest, row.canonical_bytes()), row
                if digest.hex() != row.hash:
                    breaks.append((partition, row.kafka_offset, digest.hex(), row.hash))
                    break
            else:
                head = heads[partition]
                if head.count and digest.hex() != head.hash:
                    breaks.append((partition, last.kafka_offset if last else -1, head.hash, digest.hex()))
        return breaks
