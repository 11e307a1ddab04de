"""The change-capture loop: snapshot once, then stream, publish through the SDK, and only then confirm.

Order of every step, which is the whole no-loss argument: receive committed transactions ->
publish_many (returns once the SQLite spool committed them) -> confirm the last commit's end LSN
to the slot. A crash anywhere before the confirmation makes PostgreSQL send those transactions
again, and they get the same ``ce_id`` (``changes.event_id``), so a re-read is a retransmission.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg2.extensions

from bus.errors import BusError, RecordInvalidError, UnknownRecordTypeError, WireFormatError
from bus.event.envelope import ChangeKind
from bus.event.signing import private_key_from_pem
from bus.kafka.client import KafkaSettings
from bus.run.backoff import Backoff, Retry, pause
from connectors.postgres.changes import ChangeBuilder, Transaction, event_id
from connectors.postgres.config import ConnectorConfig, SnapshotMode
from connectors.postgres.errors import CdcConfigError, CdcSourceError, RowMappingError
from connectors.postgres.mapping import RowMapper
from connectors.postgres.pgoutput import lsn_text
from connectors.postgres.snapshot import SnapshotReader
from connectors.postgres.source import (
    ReplicationStream,
    TableInfo,
    connect,
    describe,
    ensure_publication,
    slot_exists,
)
from connectors.postgres.state import CaptureState, load_state, save_state, state_path
from connectors.sdk import Change, Publisher

log = logging.getLogger("connectors.postgres")
_RECONNECT = Backoff(first_s=0.2, cap_s=5.0)


class PostgresConnector:
    """One database's mapped tables -> ``ingress.<agency>.<type>``: ``start()``, ``run(stop)``, close."""

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        kafka: KafkaSettings,
        registry_url: str,
        registry_token: str | None = None,
        resnapshot: bool = False,
    ) -> None:
        if resnapshot and config.snapshot is SnapshotMode.NEVER:
            raise CdcConfigError(
                "--resnapshot needs `snapshot: initial` in the mapping", hint="remove one of them"
            )
        self.config = config
        self.resnapshot = resnapshot
        try:
            key = private_key_from_pem(config.key_file.read_bytes())
        except OSError as exc:
            raise CdcConfigError(
                f"cannot read the agency key {config.key_file}: {exc}",
                hint=f"create it with `bus agencies keygen {config.agency} --out {config.key_file}`",
            ) from None
        self.publisher = Publisher(
            config.agency,
            config.system,
            key,
            bootstrap=kafka,
            registry=registry_url,
            spool_path=config.spool,
            registry_token=registry_token,
        )
        self.mappers = {t.table: RowMapper(t) for t in config.tables}
        self.source = f"{config.agency}/{config.system}"
        self._state_file = state_path(config.spool)
        self.state: CaptureState | None = None
        self.stopped: set[str] = set()
        self._stop_reasons: dict[str, str] = {}
        self._columns: dict[str, set[str]] = {}  # per table, as found at start-up (drift baseline)
        self.published = 0
        self.snapshot_rows = 0
        self.skipped_rows = 0
        self._stream: ReplicationStream | None = None
        self._builder: ChangeBuilder | None = None

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the tables, set up publication and slot, and publish the initial snapshot if due."""
        await self.publisher.start()
        conn = await asyncio.to_thread(connect, self.config.database)
        try:
            infos = await asyncio.to_thread(self._prepare_database, conn)
            state = load_state(self._state_file)
            exists = await asyncio.to_thread(slot_exists, conn, self.config.slot)
            if self._needs_new_slot(exists, state):
                await self._create_slot_and_snapshot(conn, exists, infos)
            else:
                assert state is not None or self.config.snapshot is SnapshotMode.NEVER
                self.state = state or CaptureState(
                    slot=self.config.slot, consistent_point="0/0", snapshot_complete=True
                )
                if self._stop_reasons:  # found at this start-up: remember them too
                    self.state.stopped_tables.update(self._stop_reasons)
                    save_state(self._state_file, self.state)
                self.stopped |= set(self.state.stopped_tables)
                for table, why in self.state.stopped_tables.items():
                    log.error(
                        "table %s stays stopped: %s (fix the mapping, then run with --resnapshot)", table, why
                    )
        finally:
            await asyncio.to_thread(conn.close)
        log.info(
            "postgres connector ready: slot %s, publication %s, %d table(s), %d stopped",
            self.config.slot,
            self.config.publication,
            len(self.mappers),
            len(self.stopped),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until ``stop`` is set; a lost connection is re-opened with backoff (0.2 -> 5 s)."""
        retry = Retry(_RECONNECT)
        if self._stream is not None:
            log.info("streaming from slot %s", self.config.slot)
        while not stop.is_set():
            try:
                if self._stream is None:
                    self._stream = await asyncio.to_thread(self._open_stream)
                    log.info("streaming from slot %s", self.config.slot)
                    retry.succeeded()
                transactions = await asyncio.to_thread(self._stream.read, self.config.batch_size, 0.5)
                if transactions:
                    await self._publish_transactions(transactions, stop)
            except CdcSourceError as exc:
                if not exc.retriable:
                    raise
                delay = retry.failed()
                log.warning("%s; reconnecting in %.1f s", exc.message, delay)
                await self._close_stream()
                await pause(delay, stop)

    async def close(self) -> None:
        await self._close_stream()
        await self.publisher.close()

    async def __aenter__(self) -> PostgresConnector:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- setup -------------------------------------------------------------------------------

    def _prepare_database(self, conn: psycopg2.extensions.connection) -> dict[str, TableInfo]:
        infos: dict[str, TableInfo] = {}
        for table, mapper in self.mappers.items():
            info = describe(conn, table)
            if info is None:
                raise CdcConfigError(
                    f"table {table} does not exist in the database",
                    hint="fix `table:` in the mapping (schema-qualified, lower case)",
                )
            infos[table] = info
            self._columns[table] = set(info.columns)
            missing = sorted(mapper.columns - set(info.columns))
            if missing:
                self._stop_table(table, f"column {missing[0]} that the mapping reads does not exist")
                continue
            if not set(mapper.key_columns) <= info.identity_columns:
                log.warning(
                    "table %s: key column(s) %s are not in its replica identity, so deletes cannot be keyed; "
                    "run ALTER TABLE %s REPLICA IDENTITY FULL",
                    table,
                    ", ".join(mapper.key_columns),
                    table,
                )
            elif info.replica_identity != "f":
                log.warning(
                    "table %s: REPLICA IDENTITY is not FULL, so updates are published without bus_changed "
                    "(consumers then diff against state); run ALTER TABLE %s REPLICA IDENTITY FULL",
                    table,
                    table,
                )
        added = ensure_publication(conn, self.config.publication, list(self.mappers))
        if added:
            log.info("publication %s now includes %s", self.config.publication, ", ".join(added))
        return infos

    def _needs_new_slot(self, exists: bool, state: CaptureState | None) -> bool:
        if not exists:
            return True
        if self.config.snapshot is SnapshotMode.NEVER:
            return False
        complete = state is not None and state.slot == self.config.slot and state.snapshot_complete
        if not complete:
            log.warning(
                "slot %s exists but no finished snapshot is recorded: snapshotting again", self.config.slot
            )
        return self.resnapshot or not complete

    async def _create_slot_and_snapshot(
        self, conn: psycopg2.extensions.connection, exists: bool, infos: dict[str, TableInfo]
    ) -> None:
        export = self.config.snapshot is SnapshotMode.INITIAL
        stream = await asyncio.to_thread(
            ReplicationStream, self.config.database, self.config.slot, self.config.publication
        )
        try:
            if exists:
                await asyncio.to_thread(stream.drop_slot)
            point, snapshot = await asyncio.to_thread(stream.create_slot, export_snapshot=export)
            self.state = CaptureState(
                slot=self.config.slot,
                consistent_point=lsn_text(point),
                snapshot_complete=not export,
                stopped_tables=dict(
                    self._stop_reasons
                ),  # only this start's findings: a new slot starts afresh
            )
            save_state(self._state_file, self.state)
            log.info("created slot %s at %s", self.config.slot, lsn_text(point))
            if export and snapshot is not None:
                await self._snapshot(conn, snapshot, point, infos)
                self.state.snapshot_complete = True
                save_state(self._state_file, self.state)
            await asyncio.to_thread(stream.start)
        except BaseException:
            await asyncio.to_thread(stream.close)
            raise
        self._stream = stream

    async def _snapshot(
        self, conn: psycopg2.extensions.connection, snapshot: str, point: int, infos: dict[str, TableInfo]
    ) -> None:
        reader = await asyncio.to_thread(SnapshotReader, conn, snapshot)
        now = datetime.now(UTC)
        try:
            for table, mapper in self.mappers.items():
                if table in self.stopped:
                    continue
                rows = reader.rows(table, sorted(mapper.columns), self.config.batch_size)
                count = 0
                while (chunk := await asyncio.to_thread(next, rows, None)) is not None:
                    try:
                        changes = [self._snapshot_change(mapper, row, point, now) for row in chunk]
                    except RowMappingError as exc:
                        self._stop_table(table, exc.message)
                        break
                    await self._publish([(table, c) for c in changes], None)
                    count += len(changes)
                self.snapshot_rows += count
                log.info("snapshot of %s: %d row(s) at %s", table, count, lsn_text(point))
        finally:
            await asyncio.to_thread(reader.close)

    def _snapshot_change(self, mapper: RowMapper, row: dict[str, Any], point: int, now: datetime) -> Change:
        key = mapper.key(row)
        return Change(
            ChangeKind.SNAPSHOT,
            mapper.record_type,
            key,
            mapper.record(row),
            None,
            event_id(self.source, point, 0, mapper.table, key, ChangeKind.SNAPSHOT),
            now,
        )

    def _open_stream(self) -> ReplicationStream:
        stream = ReplicationStream(self.config.database, self.config.slot, self.config.publication)
        try:
            stream.start()
        except BaseException:
            stream.close()
            raise
        return stream

    async def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await asyncio.to_thread(stream.close)

    # --- streaming ---------------------------------------------------------------------------

    async def _publish_transactions(self, transactions: list[Transaction], stop: asyncio.Event) -> None:
        stream = self._stream
        assert stream is not None
        if self._builder is None:
            self._builder = ChangeBuilder(self.source, self.mappers, stream.cast, self._columns)
        self._builder.cast = stream.cast
        outcome = self._builder.build(transactions, self.stopped)
        for notice in outcome.notices:
            log.warning("%s", notice)
        for table, failure in outcome.failures:
            self._stop_table(table, failure.message, failure.hint)
        published = await self._publish(outcome.changes, stop)
        if published:
            await asyncio.to_thread(stream.ack, transactions[-1].commit.end_lsn)

    async def _publish(self, changes: Sequence[tuple[str, Change]], stop: asyncio.Event | None) -> bool:
        """Spool every change (in order); False if ``stop`` came while the spool or registry was down."""
        size = self.config.batch_size
        for start in range(0, len(changes), size):
            chunk = changes[start : start + size]
            if not await self._publish_chunk(chunk, stop):
                return False
        return True

    async def _publish_chunk(self, chunk: Sequence[tuple[str, Change]], stop: asyncio.Event | None) -> bool:
        retry = Retry(_RECONNECT)
        while True:
            try:
                await self.publisher.publish_many([c for _, c in chunk])
                self.published += len(chunk)
                return True
            except BusError as exc:
                if not exc.retriable:
                    break
                delay = retry.failed()
                log.warning("cannot spool changes yet: %s; retrying in %.1f s", exc, delay)
                if (stop is not None and stop.is_set()) or await pause(delay, stop):
                    return False
        for table, change in chunk:  # one change is refused: find it, publish the others one by one
            if table in self.stopped:
                continue
            try:
                if not await self._publish_chunk_single(table, change, stop):
                    return False
            except UnknownRecordTypeError as exc:
                self._stop_table(table, exc.message, exc.hint)
            except (RecordInvalidError, WireFormatError) as exc:
                self.skipped_rows += 1
                log.error("table %s: %s %s not published: %s", table, change.kind, change.key, exc)
        return True

    async def _publish_chunk_single(self, table: str, change: Change, stop: asyncio.Event | None) -> bool:
        retry = Retry(_RECONNECT)
        while True:
            try:
                await self.publisher.publish_many([change])
                self.published += 1
                return True
            except BusError as exc:
                if not exc.retriable:
                    raise
                if (stop is not None and stop.is_set()) or await pause(retry.failed(), stop):
                    return False

    # --- drift -------------------------------------------------------------------------------

    def _stop_table(self, table: str, why: str, hint: str = "") -> None:
        """Stop publishing one table (the others go on) and remember it across restarts."""
        self.stopped.add(table)
        self._stop_reasons[table] = why
        log.error(
            "table %s stopped: %s (hint: %s)",
            table,
            why,
            hint or "fix the mapping or the table, then restart the connector with --resnapshot",
        )
        if self.state is not None:
            self.state.stopped_tables[table] = why
            save_state(self._state_file, self.state)
