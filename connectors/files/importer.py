"""Import one CSV/XLSX export: convert, diff against the last snapshot, publish only the changes.

Per batch (default 500 changed rows): ``Publisher.publish_many`` validates and commits the
batch to the spool, and right after it returns the same rows are committed to the snapshot
store, in file order. The two SQLite commits are separate files, so a crash between them
leaves that one batch unrecorded: the next run publishes it again (duplicate content, new
``ce_id``; the spool deduplicates nothing). Nothing is ever lost: a row is recorded only
after the spool holds it. Deletions (stored keys missing from the file) come last and are
withheld when they exceed ``max_delete_share`` of the stored rows, because a truncated export
must not wipe a register; ``allow_mass_delete`` lets them through.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bus.errors import RecordInvalidError, WireFormatError
from bus.event.envelope import ChangeKind
from bus.registry.subjects import RecordSchema
from connectors.files.convert import RowConverter, RowProblem
from connectors.files.mapping import FileMapping, MappingError, check_mapping
from connectors.files.read import TableReader, open_table
from connectors.files.rejections import RejectionGroup, RejectionReport, report_path_for
from connectors.files.shape import record_shape
from connectors.files.snapshot import Diff, Fingerprint, SnapshotStore, Verdict, fingerprint
from connectors.sdk import Change, Publisher

__all__ = ["ImportOptions", "ImportSummary", "Progress", "import_file"]

Progress = Callable[[int, int | None], None]
"""Called after each batch with (rows read, rows expected or None when unknown)."""


@dataclass(frozen=True)
class ImportOptions:
    """What to import and how; ``key_field`` defaults to the schema's identifier field."""

    feed: str
    key_field: str | None = None
    dry_run: bool = False
    allow_mass_delete: bool = False
    max_delete_share: float = 0.5
    batch_size: int = 500
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int = 1


@dataclass
class ImportSummary:
    """What an import read, published (or, on a dry run, would publish) and rejected."""

    source: Path
    feed: str
    record_type: str
    dry_run: bool
    file_format: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    deletions_withheld: int = 0
    stored_before: int = 0
    rejected_rows: int = 0
    problems: int = 0
    report: Path | None = None
    groups: list[RejectionGroup] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def published(self) -> int:
        return self.created + self.updated + self.deleted

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass
class _Item:
    row: int
    change: Change
    fingerprint: Fingerprint


@dataclass
class _Batch:
    items: list[_Item] = field(default_factory=list)
    last: bool = False


class _Planner:
    """The blocking half, run in a worker thread: read rows, convert, diff, reject."""

    def __init__(
        self,
        reader: TableReader,
        converter: RowConverter,
        diff: Diff,
        store: SnapshotStore,
        report: RejectionReport,
        summary: ImportSummary,
        key_field: str,
        batch_size: int,
    ) -> None:
        self._rows = reader.rows()
        self._converter = converter
        self._diff = diff
        self._store = store
        self._report = report
        self._summary = summary
        self._key_field = key_field
        self._batch_size = batch_size
        self._first_row: dict[str, int] = {}

    def next_batch(self) -> _Batch:
        batch = _Batch()
        summary = self._summary
        for row, cells in self._rows:
            summary.rows += 1
            converted = self._converter.convert(row, cells)
            key, record = converted.key, converted.record
            if record is None or key is None:
                if key is not None:
                    self._diff.protect(key)
                self._report.reject(key, converted.problems)
                continue
            first = self._first_row.setdefault(key, row)
            if first != row:
                column = self._converter.columns.get(self._key_field, "")
                reason = f"duplicate key: row {first} has the same {self._key_field}; only that row is used"
                self._report.reject(key, [RowProblem(row, column, self._key_field, key, reason)])
                continue
            found = fingerprint(record)
            verdict = self._diff.classify(key, found.digest)
            if verdict is Verdict.UNCHANGED:
                summary.unchanged += 1
                continue
            if verdict is Verdict.CREATED:
                change = Change(ChangeKind.CREATED, summary.record_type, key, record)
            else:
                changed = self._store.changed(summary.feed, key, found)
                change = Change(ChangeKind.UPDATED, summary.record_type, key, record, changed)
            batch.items.append(_Item(row, change, found))
            if len(batch.items) >= self._batch_size:
                return batch
        batch.last = True
        return batch


async def import_file(
    path: Path,
    mapping: FileMapping,
    schema: RecordSchema,
    record_type: str,
    store: SnapshotStore,
    publisher: Publisher | None,
    options: ImportOptions,
    *,
    mapping_source: str = "mapping",
    progress: Progress | None = None,
) -> ImportSummary:
    """Import ``path``; ``publisher`` None (or ``options.dry_run``) only counts and reports."""
    started = time.monotonic()
    dry_run = options.dry_run or publisher is None
    key_field = options.key_field or mapping.key or schema.key_field
    if key_field is None:
        raise MappingError(
            mapping_source,
            [f"no key field: the {record_type} schema has no identifier field"],
            hint="pass --key with the field that identifies a record (e.g. ark_code)",
        )
    shape = record_shape(schema.text)
    check_mapping(mapping, shape, key_field, mapping_source)
    summary = ImportSummary(path, options.feed, record_type, dry_run)
    reader = await asyncio.to_thread(
        open_table,
        path,
        encoding=options.encoding,
        delimiter=options.delimiter,
        sheet=options.sheet,
        header_row=options.header_row,
    )
    with reader, RejectionReport(report_path_for(path), reader.delimiter or ",") as report:
        summary.file_format, summary.encoding = reader.kind, reader.encoding
        summary.delimiter, summary.sheet = reader.delimiter, reader.sheet
        converter = RowConverter(mapping, shape, key_field, reader.header, mapping_source)
        summary.ignored_columns = converter.ignored_columns
        diff = Diff(await asyncio.to_thread(store.hashes, options.feed))
        summary.stored_before = diff.stored_count
        planner = _Planner(reader, converter, diff, store, report, summary, key_field, options.batch_size)
        while True:
            batch = await asyncio.to_thread(planner.next_batch)
            await _publish(batch.items, publisher if not dry_run else None, store, report, summary)
            if progress is not None:
                progress(summary.rows, reader.total_rows)
            if batch.last:
                break
        await _delete(diff.deleted(), publisher if not dry_run else None, store, summary, options)
        summary.rejected_rows, summary.problems = report.rows, report.problems
        summary.groups = report.groups()
        summary.report = report.path if report.rows else None
    summary.elapsed_s = time.monotonic() - started
    return summary


async def _publish(
    items: list[_Item],
    publisher: Publisher | None,
    store: SnapshotStore,
    report: RejectionReport,
    summary: ImportSummary,
) -> None:
    """Spool a batch, then record exactly the rows the spool accepted in the snapshot."""
    if not items:
        return
    accepted = items
    if publisher is not None:
        try:
            summary.event_ids += await publisher.publish_many([item.change for item in items])
        except (RecordInvalidError, WireFormatError):
            accepted = await _publish_one_by_one(items, publisher, report, summary)
        await asyncio.to_thread(
            store.apply, summary.feed, [(item.change.key, item.fingerprint) for item in accepted]
        )
    for item in accepted:
        if item.change.kind is ChangeKind.CREATED:
            summary.created += 1
        else:
            summary.updated += 1


async def _publish_one_by_one(
    items: list[_Item], publisher: Publisher, report: RejectionReport, summary: ImportSummary
) -> list[_Item]:
    """A row the pre-check missed failed the batch: find it, reject it, publish the others."""
    accepted = []
    for item in items:
        try:
            summary.event_ids += await publisher.publish_many([item.change])
        except (RecordInvalidError, WireFormatError) as exc:
            problems = getattr(exc, "problems", None) or [("", exc.message)]
            report.reject(
                item.change.key,
                [
                    RowProblem(item.row, "", path, "", f"the publisher refused the record: {reason}")
                    for path, reason in problems
                ],
            )
        else:
            accepted.append(item)
    return accepted


async def _delete(
    keys: list[str],
    publisher: Publisher | None,
    store: SnapshotStore,
    summary: ImportSummary,
    options: ImportOptions,
) -> None:
    """Tombstones for keys the file no longer has, unless they are too many to be believed."""
    if not keys:
        return
    share = len(keys) / summary.stored_before
    if share > options.max_delete_share and not options.allow_mass_delete:
        summary.deletions_withheld = len(keys)
        return
    if publisher is None:
        summary.deleted = len(keys)
        return
    for start in range(0, len(keys), options.batch_size):
        chunk = keys[start : start + options.batch_size]
        changes = [Change(ChangeKind.DELETED, summary.record_type, key, None) for key in chunk]
        summary.event_ids += await publisher.publish_many(changes)
        await asyncio.to_thread(store.apply, summary.feed, [], chunk)
        summary.deleted += len(chunk)
