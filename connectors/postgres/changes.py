"""Turn committed transactions from pgoutput into SDK changes: kinds, keys, records, bus_changed, ids.

Pure (no PostgreSQL, no Kafka): the caller passes ``cast``, which turns a column's text form into a
Python value by type OID (psycopg2's own typecasters, the same that read snapshot rows).

Event ids are UUIDv5 over agency/system, the transaction's commit LSN, the change's position in
the transaction, table and key: a transaction that is decoded again after a crash yields the same
``ce_id`` for every change (DESIGN §8). pgoutput v1 carries no per-change LSN of its own (a
multi-row insert shares one WAL record), hence commit LSN + position rather than a row LSN.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from bus.event.envelope import ChangeKind
from bus.policy.compile import changed_paths
from connectors.postgres.errors import RowMappingError, SchemaDriftError
from connectors.postgres.mapping import RowMapper
from connectors.postgres.pgoutput import (
    UNCHANGED_TOAST,
    Begin,
    Commit,
    Delete,
    Insert,
    Message,
    Relation,
    Truncate,
    TupleData,
    Update,
    lsn_text,
)
from connectors.sdk import Change

NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:agency-bus:connectors:postgres")
Cast = Callable[[int, str], Any]
RowChange = Insert | Update | Delete | Truncate


def event_id(source: str, lsn: int, position: int, table: str, key: str, kind: ChangeKind) -> str:
    """The deterministic ``ce_id`` of one captured change (also of a snapshot row, with position 0)."""
    return str(uuid.uuid5(NAMESPACE, f"{source}|{lsn_text(lsn)}|{position}|{table}|{key}|{kind.value}"))


@dataclass(frozen=True)
class Transaction:
    """One committed transaction as pgoutput sent it, each change with the relation it refers to."""

    begin: Begin
    commit: Commit
    changes: tuple[tuple[Relation, RowChange], ...]


class Assembler:
    """Collects messages into committed transactions; keeps the relation cache of one stream session."""

    def __init__(self) -> None:
        self.relations: dict[int, Relation] = {}
        self._begin: Begin | None = None
        self._changes: list[tuple[Relation, RowChange]] = []

    @property
    def in_transaction(self) -> bool:
        return self._begin is not None

    def feed(self, message: Message) -> Transaction | None:
        """Take one message; return the transaction it completes, if any."""
        if isinstance(message, Relation):
            self.relations[message.oid] = message
        elif isinstance(message, Begin):
            self._begin, self._changes = message, []
        elif isinstance(message, Commit):
            if self._begin is None:
                raise RowMappingError(
                    "?", "?", "?", "pgoutput sent a commit without a begin", hint="reconnect"
                )
            done = Transaction(self._begin, message, tuple(self._changes))
            self._begin, self._changes = None, []
            return done
        elif isinstance(message, Insert | Update | Delete):
            self._changes.append((self._relation(message.relation_oid), message))
        elif isinstance(message, Truncate):
            for oid in message.relation_oids:
                self._changes.append((self._relation(oid), message))
        return None

    def _relation(self, oid: int) -> Relation:
        relation = self.relations.get(oid)
        if relation is None:
            raise RowMappingError(
                str(oid),
                "?",
                "?",
                f"pgoutput sent a change of relation {oid} before describing it",
                hint="reconnect",
            )
        return relation


@dataclass
class Outcome:
    """What one batch of transactions produced."""

    changes: list[tuple[str, Change]] = field(default_factory=list)  # (table, change), in commit order
    failures: list[tuple[str, SchemaDriftError | RowMappingError]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    skipped_unchanged: int = 0


class ChangeBuilder:
    """Maps transactions to SDK changes for the tables in the mapping; unmapped tables are ignored."""

    def __init__(
        self, source: str, mappers: dict[str, RowMapper], cast: Cast, known: dict[str, set[str]] | None = None
    ) -> None:
        self.source = source
        self.mappers = mappers
        self.cast = cast
        self.known = {t: set(c) for t, c in (known or {}).items()}  # columns seen so far, per table
        self._checked: dict[int, Relation] = {}

    def build(self, transactions: list[Transaction], stopped: set[str]) -> Outcome:
        """Changes of every transaction, skipping tables in ``stopped`` (a failing table joins it)."""
        outcome = Outcome()
        for txn in transactions:
            for position, (relation, change) in enumerate(txn.changes):
                table = relation.qualified_name
                mapper = self.mappers.get(table)
                if mapper is None or table in stopped:
                    continue
                try:
                    self._check(relation, mapper, outcome)
                    outcome.changes.extend(
                        (table, c) for c in self._changes(txn, position, relation, change, mapper, outcome)
                    )
                except (SchemaDriftError, RowMappingError) as exc:
                    stopped.add(table)
                    outcome.failures.append((table, exc))
        return outcome

    def _check(self, relation: Relation, mapper: RowMapper, outcome: Outcome) -> None:
        """Schema drift: a mapped column gone stops the table; a new unmapped column is a notice."""
        if self._checked.get(relation.oid) is relation:
            return
        names = {c.name for c in relation.columns}
        missing = sorted(mapper.columns - names)
        if missing:
            column = missing[0]
            raise SchemaDriftError(
                mapper.table,
                column,
                _field_of(mapper, column),
                f"table {mapper.table} no longer has column {column}, which the mapping reads for field "
                f"{_field_of(mapper, column)}; changes of {mapper.table} are no longer published",
                hint=f"update the mapping of {mapper.table} (or restore the column), then restart the "
                "connector with --resnapshot to publish the table's current rows again",
            )
        known = self.known.setdefault(mapper.table, set(names))
        new = sorted(names - mapper.columns - known)
        known |= names
        if new:
            outcome.notices.append(
                f"table {mapper.table} has new column(s) {', '.join(new)} that the mapping does not read; "
                "they are ignored (map them to publish them)"
            )
        self._checked[relation.oid] = relation

    def _changes(
        self,
        txn: Transaction,
        position: int,
        relation: Relation,
        change: RowChange,
        mapper: RowMapper,
        outcome: Outcome,
    ) -> Iterator[Change]:
        lsn, time, table, rtype = (
            txn.begin.final_lsn,
            txn.commit.commit_time,
            mapper.table,
            mapper.record_type,
        )

        def make(
            kind: ChangeKind, key: str, record: dict[str, Any] | None, changed: tuple[str, ...] | None
        ) -> Change:
            return Change(
                kind,
                rtype,
                key,
                record,
                changed,
                event_id(self.source, lsn, position, table, key, kind),
                time,
            )

        if isinstance(change, Truncate):
            outcome.notices.append(
                f"table {table} was truncated at {lsn_text(lsn)}: no per-row deletes can be published; "
                "run the connector with --resnapshot if consumers must learn the table's new state"
            )
            return
        if isinstance(change, Insert):
            row = self._row(relation, change.new, None, mapper)
            yield make(ChangeKind.CREATED, mapper.key(row), mapper.record(row), None)
            return
        if isinstance(change, Delete):
            old = self._row(relation, change.old, None, mapper, key_only=change.old_is_key_only)
            yield make(ChangeKind.DELETED, mapper.key(old), None, None)
            return
        full_old = None if change.old is None or change.old_is_key_only else change.old
        new = self._row(relation, change.new, full_old, mapper)
        new_key = mapper.key(new)
        old_row = (
            self._row(relation, change.old, None, mapper, key_only=change.old_is_key_only)
            if change.old is not None
            else None
        )
        old_key = mapper.key(old_row) if old_row is not None else new_key
        record = mapper.record(new)
        if old_key != new_key:
            yield make(ChangeKind.DELETED, old_key, None, None)
            yield make(ChangeKind.CREATED, new_key, record, None)
            return
        changed = changed_paths(mapper.record(old_row), record) if full_old is not None and old_row else None
        if changed == ():
            outcome.skipped_unchanged += 1
            return
        yield make(ChangeKind.UPDATED, new_key, record, changed)

    def _row(
        self,
        relation: Relation,
        cells: TupleData,
        old: TupleData | None,
        mapper: RowMapper,
        *,
        key_only: bool = False,
    ) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for index, (column, cell) in enumerate(zip(relation.columns, cells, strict=False)):
            if column.name not in mapper.columns or (key_only and not column.is_key):
                continue
            if cell is UNCHANGED_TOAST:
                cell = old[index] if old is not None else UNCHANGED_TOAST
                if cell is UNCHANGED_TOAST:
                    raise RowMappingError(
                        mapper.table,
                        column.name,
                        _field_of(mapper, column.name),
                        f"table {mapper.table}: column {column.name} is a large (TOASTed) value that "
                        "PostgreSQL left out of an update because it did not change",
                        hint=f"ALTER TABLE {mapper.table} REPLICA IDENTITY FULL (updates then carry it)",
                    )
            if cell is None or isinstance(cell, bytes):
                row[column.name] = cell
            else:
                assert isinstance(cell, str)
                row[column.name] = self.cast(column.type_oid, cell)
        if key_only:
            absent = [c for c in mapper.key_columns if c not in row]
            if absent:
                raise RowMappingError(
                    mapper.table,
                    absent[0],
                    "(key)",
                    f"table {mapper.table}: a delete or key change carries only the replica identity, "
                    f"which lacks key column {absent[0]}",
                    hint=f"ALTER TABLE {mapper.table} REPLICA IDENTITY FULL (or USING INDEX on an index of "
                    "the key columns)",
                )
        return row


def _field_of(mapper: RowMapper, column: str) -> str:
    """The first record field the mapping fills from ``column`` (``(key)`` for a key-only column)."""

    def walk(prefix: str, specs: dict[str, Any]) -> str | None:
        for name, spec in specs.items():
            if spec.column == column:
                return prefix + name
            if spec.fields:
                found = walk(f"{prefix}{name}.", spec.fields)
                if found:
                    return found
        return None

    return walk("", dict(mapper.config.fields)) or "(key)"
