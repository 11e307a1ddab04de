"""``bus audit verify``: recompute every partition's chain and hold it against the signed checkpoints.

A row whose stored hash differs from the recomputed one (a changed, deleted, inserted or reordered
row) is reported with what was expected and what was found; so is a checkpoint whose signed head
differs from the chain at its offset (the whole chain was rewritten and recomputed), a checkpoint
offset with no row (rows deleted at the end), a row count that differs from a checkpoint's, and a
checkpoint that is unreadable or not signed by a trusted key. Only the first break per partition is
reported: everything after it is untrusted anyway.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bus.audit.chain import GENESIS, link, utc
from bus.audit.checkpoint import Checkpoint, verify_checkpoint
from bus.audit.db import ArchiveStore, Head, StoredRow
from bus.audit.errors import CheckpointError
from bus.audit.receipt_store import ReceiptStore
from bus.errors import BrokerError
from bus.kafka.client import KafkaSettings, iter_to_end, make_admin

SIGNED = "signed checkpoint"
HEAD = "archiver's recorded chain head"


class BreakKind(StrEnum):
    HASH_MISMATCH = "hash_mismatch"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    CHECKPOINT_ROW_MISSING = "checkpoint_row_missing"
    CHECKPOINT_COUNT = "checkpoint_count"
    CHECKPOINT_INVALID = "checkpoint_invalid"
    HEAD_MISMATCH = "head_mismatch"
    ROW_MISSING = "row_missing"
    ROW_INSERTED = "row_inserted"
    ROW_AFTER_HEAD = "row_after_head"
    RECEIPT_HASH_MISMATCH = "receipt_hash_mismatch"


@dataclass(frozen=True, slots=True)
class Break:
    """The first bad position of a partition: what the chain or a checkpoint expected there, and what was."""

    kind: BreakKind
    partition: int
    offset: int
    expected: str
    found: str
    detail: str


@dataclass(frozen=True, slots=True)
class Anchor:
    """A known (offset, row count, hash) of a chain: a signed checkpoint, or the archiver's recorded head."""

    offset: int
    count: int
    hash: str
    source: str


@dataclass(frozen=True, slots=True)
class PartitionReport:
    partition: int
    rows: int
    first_offset: int | None
    last_offset: int | None
    checkpoints: int
    unanchored_rows: int
    broken: Break | None = None
    start: Anchor | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Per-partition results plus checkpoints that could not be trusted; ``ok`` only if nothing broke."""

    partitions: tuple[PartitionReport, ...]
    invalid_checkpoints: tuple[Break, ...] = ()
    checkpoints_read: int = 0
    receipt_breaks: tuple[Break, ...] = ()
    """The receipt chains (``bus.receipts`` partitions), recomputed from their rows and heads."""

    @property
    def ok(self) -> bool:
        return not self.invalid_checkpoints and not self.receipt_breaks and all(p.ok for p in self.partitions)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)

    @property
    def breaks(self) -> list[Break]:
        found = [p.broken for p in self.partitions if p.broken is not None]
        return [*found, *self.invalid_checkpoints, *self.receipt_breaks]

    @property
    def first_break(self) -> Break | None:
        return next(iter(self.breaks), None)


def check_checkpoints(
    values: Iterable[tuple[int, bytes | None]], trusted: Mapping[str, Ed25519PublicKey], *, audit_topic: str
) -> tuple[list[Checkpoint], list[Break]]:
    """Split (topic offset, value) records into trusted checkpoints of ``audit_topic`` and invalid ones."""
    good: list[Checkpoint] = []
    bad: list[Break] = []
    for position, value in values:
        try:
            checkpoint = Checkpoint.from_json(value)
        except CheckpointError as exc:
            bad.append(
                Break(BreakKind.CHECKPOINT_INVALID, -1, -1, "a checkpoint", "unreadable", _at(position, exc))
            )
            continue
        if checkpoint.topic != audit_topic:
            continue  # a checkpoint of another audit topic sharing the checkpoint topic
        try:
            verify_checkpoint(checkpoint, trusted)
        except CheckpointError as exc:
            kind = BreakKind.CHECKPOINT_INVALID
            bad.append(
                Break(
                    kind,
                    checkpoint.partition,
                    checkpoint.offset,
                    "trusted signature",
                    "none",
                    _at(position, exc),
                )
            )
            continue
        good.append(checkpoint)
    return good, bad


def _at(position: int, exc: CheckpointError) -> str:
    return f"checkpoint topic offset {position}: {exc.message}"


async def read_checkpoints(
    kafka: KafkaSettings, checkpoint_topic: str, trusted: Mapping[str, Ed25519PublicKey], *, audit_topic: str
) -> tuple[list[Checkpoint], list[Break], int]:
    """Every checkpoint record on the topic, checked: (trusted checkpoints, invalid ones, records read)."""
    values: list[tuple[int, bytes | None]] = []
    try:
        async for records in iter_to_end(kafka, checkpoint_topic):
            values += [(r.offset, r.value) for r in records]
    except BrokerError:
        if not values and not await _topic_exists(kafka, checkpoint_topic):
            return [], [], 0  # no archiver has checkpointed yet
        raise
    good, bad = check_checkpoints(values, trusted, audit_topic=audit_topic)
    return good, bad, len(values)


async def _topic_exists(kafka: KafkaSettings, topic: str) -> bool:
    admin = make_admin(kafka)
    await admin.start()
    try:
        return topic in set(await admin.list_topics())
    finally:
        await admin.close()


def verify_store(
    store: ArchiveStore, checkpoints: Sequence[Checkpoint], *, since: dt.datetime | None = None
) -> VerifyReport:
    """Recompute every chain in ``store`` against ``checkpoints`` (already signature-checked). Blocking.

    With ``since``, each partition starts at its newest checkpoint created at or before that time
    (its head hash trusted as the previous hash), so only later rows are recomputed.
    """
    store.require_schema()
    heads = store.heads()
    by_partition: dict[int, list[Checkpoint]] = {}
    for checkpoint in checkpoints:
        by_partition.setdefault(checkpoint.partition, []).append(checkpoint)
    partitions = sorted(set(store.partitions()) | set(by_partition) | set(heads))
    receipt_breaks = tuple(
        Break(BreakKind.RECEIPT_HASH_MISMATCH, partition, offset, expected, found, "bus.receipts chain")
        for partition, offset, expected, found in ReceiptStore(store).first_breaks()
    )
    return VerifyReport(
        tuple(_verify_partition(store, p, by_partition.get(p, []), heads.get(p), since) for p in partitions),
        checkpoints_read=len(checkpoints),
        receipt_breaks=receipt_breaks,
    )


def _verify_partition(
    store: ArchiveStore,
    partition: int,
    checkpoints: list[Checkpoint],
    head: Head | None,
    since: dt.datetime | None,
) -> PartitionReport:
    start: Anchor | None = None
    if since is not None:
        earlier = [c for c in checkpoints if c.created <= utc(since)]
        if earlier:
            newest = max(earlier, key=lambda c: c.offset)
            start = Anchor(newest.offset, newest.count, newest.head, "checkpoint")
    anchors = [Anchor(c.offset, c.count, c.head, SIGNED) for c in checkpoints]
    if head is not None:
        anchors.append(Anchor(head.offset, head.count, head.hash, HEAD))
    anchors.sort(key=lambda a: a.offset)
    if start is not None:
        anchors = [a for a in anchors if a.offset > start.offset]
        found = store.row_at(partition, start.offset)
        if found is None or found.hash != start.hash:
            bad_start = _anchor_break(partition, start, found, last_good=None)
            return PartitionReport(partition, 0, None, None, 0, 0, bad_start, start)
    walk = _Walk(partition, anchors, start, head, lambda: store.heads().get(partition))
    rows = store.rows(partition, after=start.offset if start else None)
    broken = walk.run(rows)
    return PartitionReport(
        partition,
        walk.rows,
        walk.first_offset,
        walk.last_offset,
        walk.checkpoints,
        walk.rows_since_anchor,
        broken,
        start,
    )


class _Walk:
    """One pass over a partition's rows in offset order, meeting the anchors on the way."""

    def __init__(
        self,
        partition: int,
        anchors: list[Anchor],
        start: Anchor | None,
        head: Head | None,
        reread_head: Callable[[], Head | None],
    ) -> None:
        self.partition = partition
        self.pending = deque(anchors)
        self.prev = bytes.fromhex(start.hash) if start else GENESIS
        self.before_prev: bytes | None = None
        self.count = start.count if start else 0
        self.last_good: int | None = start.offset if start else None
        self.head = head
        self.reread_head = reread_head
        self.after_head: dict[int, str] = {}
        self.rows = 0
        self.rows_since_anchor = 0
        self.checkpoints = 0
        self.first_offset: int | None = None
        self.last_offset: int | None = start.offset if start else None

    def run(self, rows: Iterable[StoredRow]) -> Break | None:
        for row in rows:
            offset = row.entry.kafka_offset
            if self.pending and self.pending[0].offset < offset:
                return _anchor_break(self.partition, self.pending[0], None, self.last_good)
            expected = link(self.prev, row.entry).hex()
            if expected != row.hash:
                return self._mismatch(row, expected)
            self.before_prev, self.prev = self.prev, bytes.fromhex(row.hash)
            self.count += 1
            self.rows += 1
            self.rows_since_anchor += 1
            self.first_offset = offset if self.first_offset is None else self.first_offset
            self.last_offset = offset
            if self.head is not None and offset > self.head.offset:
                self.after_head[offset] = row.hash
            while self.pending and self.pending[0].offset == offset:
                anchor = self.pending.popleft()
                if anchor.hash != row.hash:
                    return _anchor_break(self.partition, anchor, row, self.last_good)
                if anchor.count != self.count:
                    return Break(
                        BreakKind.CHECKPOINT_COUNT,
                        self.partition,
                        offset,
                        f"{anchor.count} rows",
                        f"{self.count} rows",
                        f"the {anchor.source} at offset {offset} counts a different number of rows "
                        "up to it: rows were deleted or inserted",
                    )
                self.last_good = offset
                self.rows_since_anchor = 0
                self.checkpoints += anchor.source == SIGNED
        if self.pending:
            return _anchor_break(self.partition, self.pending[0], None, self.last_good)
        return self._rows_after_head()

    def _mismatch(self, row: StoredRow, expected: str) -> Break:
        """Name the most likely cause: a deleted row, an inserted row, or a changed or moved row."""
        offset = row.entry.kafka_offset
        next_offset = 0 if self.last_offset is None else self.last_offset + 1
        if offset > next_offset:
            return Break(
                BreakKind.ROW_MISSING,
                self.partition,
                next_offset,
                f"a row chained onto {self.prev.hex()}",
                f"none: the next row is at offset {offset}",
                f"offsets {next_offset}..{offset - 1} are absent and the row at offset {offset} was chained "
                f"onto another predecessor: rows were deleted",
            )
        if self.before_prev is not None and self.last_offset is not None:
            moved = dataclasses.replace(row.entry, kafka_offset=self.last_offset)
            if link(self.before_prev, moved).hex() == row.hash:
                return Break(
                    BreakKind.ROW_INSERTED,
                    self.partition,
                    self.last_offset,
                    f"the row now at offset {offset}",
                    "another row",
                    f"the row at offset {self.last_offset} was inserted: the rows after it were chained "
                    "one position earlier and have been moved down by one",
                )
        after = "the chain's start" if self.last_offset is None else f"offset {self.last_offset}"
        return Break(
            BreakKind.HASH_MISMATCH,
            self.partition,
            offset,
            expected,
            row.hash,
            f"the row at offset {offset} (previous row: {after}) was changed, inserted or moved",
        )

    def _rows_after_head(self) -> Break | None:
        """Rows after the archiver's recorded head must be its own, written since the head was read."""
        if not self.after_head:
            return None
        newer = self.reread_head()
        first = min(self.after_head)
        last = max(self.after_head)
        if (
            newer is not None
            and newer.offset >= last
            and self.after_head.get(newer.offset, newer.hash) == newer.hash
        ):
            return None
        return Break(
            BreakKind.ROW_AFTER_HEAD,
            self.partition,
            first,
            f"no row after offset {self.head.offset if self.head else '-'}",
            f"rows at offsets {first}..{last}",
            "the archiver never wrote these rows (its recorded chain head ends before them): inserted",
        )


def _anchor_break(partition: int, anchor: Anchor, found: StoredRow | None, last_good: int | None) -> Break:
    since = "the chain's start" if last_good is None else f"offset {last_good}"
    if found is None:
        return Break(
            BreakKind.CHECKPOINT_ROW_MISSING,
            partition,
            anchor.offset,
            anchor.hash,
            "no row",
            f"the {anchor.source} covers offset {anchor.offset}, but the archive has no row there: "
            "rows were deleted",
        )
    kind = BreakKind.HEAD_MISMATCH if anchor.source == HEAD else BreakKind.CHECKPOINT_MISMATCH
    return Break(
        kind,
        partition,
        anchor.offset,
        anchor.hash,
        found.hash,
        f"the chain at offset {anchor.offset} differs from the {anchor.source}: rows after {since} "
        f"up to offset {anchor.offset} were rewritten and the chain recomputed",
    )


async def verify_archive(
    store: ArchiveStore,
    kafka: KafkaSettings | None,
    trusted: Mapping[str, Ed25519PublicKey],
    *,
    audit_topic: str,
    checkpoint_topic: str,
    since: dt.datetime | None = None,
) -> VerifyReport:
    """Read and check the checkpoints (none when ``kafka`` is None), then recompute the chains."""
    good: list[Checkpoint] = []
    bad: list[Break] = []
    read = 0
    if kafka is not None:
        good, bad, read = await read_checkpoints(kafka, checkpoint_topic, trusted, audit_topic=audit_topic)
    report = await asyncio.to_thread(verify_store, store, good, since=since)
    return VerifyReport(report.partitions, tuple(bad), read, report.receipt_breaks)
