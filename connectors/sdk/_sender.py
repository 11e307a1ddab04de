"""Drain the spool to the broker in order; remove entries only after the broker acknowledged them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from aiokafka.errors import KafkaError

from bus.errors import BrokerError
from bus.event.topics import spec_for
from bus.kafka.batch_writer import BatchWriter
from bus.kafka.client import KafkaSettings, create_topics, make_producer
from bus.metrics import SPOOL_DEPTH, SPOOL_OLDEST
from bus.run.backoff import Backoff, Retry, pause
from connectors.sdk._spool import Spool, SpooledEvent

log = logging.getLogger(__name__)

BATCH = 2000
BROKER_AWAY = Backoff(first_s=0.1, cap_s=5.0)


@dataclass(frozen=True, slots=True)
class _Record:
    topic: str
    key: bytes
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @classmethod
    def of(cls, event: SpooledEvent) -> _Record:
        return cls(event.topic, event.key.encode(), event.value, event.headers)


class SpoolSender:
    """Background task: peek, produce (acks=all), await every ack, remove; back off on failure."""

    def __init__(self, spool: Spool, settings: KafkaSettings, agency: str) -> None:
        self._spool = spool
        self._settings = settings
        self._agency = agency
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._drained = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self._topics: set[str] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"spool-sender:{self._agency}")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Finish the round in flight (so its acks are recorded), then stop; cancel after ``grace_s``.

        Not cancelled straight away: aiokafka leaks its bootstrap connection when a producer
        is cancelled in the middle of ``start()``.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace_s)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_drained(self, timeout_s: float | None = None) -> None:
        """Return once the spool is empty (everything published was acknowledged)."""

        async def empty() -> None:
            async with self._drained:
                while await asyncio.to_thread(self._spool.depth):
                    self._wake.set()
                    await self._drained.wait()

        await asyncio.wait_for(empty(), timeout_s)

    async def _run(self) -> None:
        retry = Retry(BROKER_AWAY)
        while not self._stopping.is_set():
            try:
                await self._drain_until_stopped()
            except (KafkaError, OSError, BrokerError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay = retry.failed()
                log.warning(
                    "agency %s: broker unavailable (%s); retrying in %.1f s", self._agency, exc, delay
                )
                await pause(delay, self._stopping)

    async def _drain_until_stopped(self) -> None:
        producer = make_producer(self._settings, linger_ms=0)  # whole batches: a linger only delays them
        writer = BatchWriter(producer)  # record batches: ~3 us per record instead of ~40 for send()
        try:
            await producer.start()
            while not self._stopping.is_set():
                batch = await asyncio.to_thread(self._spool.peek, BATCH)
                await asyncio.to_thread(self._report)
                if not batch:
                    async with self._drained:
                        self._drained.notify_all()
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), 1.0)
                    continue
                await self._ensure_topics({e.topic for e in batch})
                await asyncio.gather(*await writer.write([_Record.of(e) for e in batch]))
                await asyncio.to_thread(self._spool.remove, [e.position for e in batch])
                self.last_error = None
        finally:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _ensure_topics(self, names: set[str]) -> None:
        """Create a new ingress topic with the bus's partition count before its first record.

        A topic the broker auto-created would get its default count and break co-partitioning with
        the state topics. Where ACLs forbid creating topics, the operator has created them already
        (``bus up`` / `bus topics create`), and nothing is asked of the broker for known topics.
        """
        missing = names - self._topics
        if missing:
            await create_topics(self._settings, [spec_for(name) for name in sorted(missing)])
            self._topics |= missing

    def _report(self) -> None:
        SPOOL_DEPTH.labels(self._agency).set(self._spool.depth())
        SPOOL_OLDEST.labels(self._agency).set(self._spool.oldest_age_s(time.time()) or 0.0)
