"""Keep an in-memory view of a (compacted) topic: read it to the end, then follow it.

Registry, agency directory, agreements and consent all work this way, because the
embedded broker neither compacts nor answers ListOffsets(LATEST) correctly (DESIGN §7):
the view reduces latest-per-key itself and measures "the end" by Fetch high watermarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiokafka import TopicPartition

from bus.errors import BrokerError
from bus.kafka.client import KafkaSettings, make_consumer, reached_end, topic_not_found, topic_partitions

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, ConsumerRecord

log = logging.getLogger(__name__)

Apply = Callable[["ConsumerRecord[bytes, bytes]"], None]


class TopicFollower:
    """Applies every record of ``topic`` to ``apply`` in per-partition order, forever."""

    def __init__(self, settings: KafkaSettings, topic: str, apply: Apply) -> None:
        self.settings = settings
        self.topic = str(topic)
        self._apply = apply
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._applied: dict[int, int] = {}  # partition -> next offset to apply
        self._progress = asyncio.Condition()
        self._caught_up = asyncio.Event()
        self._failure: BaseException | None = None

    @property
    def caught_up(self) -> bool:
        """True once everything that existed at start-up has been applied."""
        return self._caught_up.is_set()

    async def start(self, *, timeout_s: float = 60.0) -> None:
        """Begin following; return once the view has caught up with the topic's end."""
        consumer = make_consumer(self.settings)
        await consumer.start()
        self._consumer = consumer
        partitions = await topic_partitions(consumer, self.topic)
        if not partitions:
            await self.stop()
            raise topic_not_found(self.settings, self.topic)
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        self._applied = {tp.partition: 0 for tp in tps}
        self._task = asyncio.create_task(self._run(consumer, tps), name=f"follow:{self.topic}")
        try:
            await asyncio.wait_for(self._wait_caught_up(), timeout_s)
        except TimeoutError:
            await self.stop()
            raise BrokerError(
                f"could not read {self.topic!r} to its end within {timeout_s:.0f} s",
                hint="check that the broker is healthy",
            ) from None
        except BaseException:
            await self.stop()
            raise

    async def _wait_caught_up(self) -> None:
        while not self._caught_up.is_set():
            if self._failure is not None:
                raise BrokerError(f"following {self.topic!r} failed: {self._failure!r}")
            await asyncio.sleep(0.01)

    async def _run(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> None:
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=200)
                for tp, records in batch.items():
                    for record in records:
                        self._apply(record)
                    if records:
                        self._applied[tp.partition] = records[-1].offset + 1
                if not self._caught_up.is_set() and await reached_end(consumer, tps):
                    self._caught_up.set()
                if batch:
                    async with self._progress:
                        self._progress.notify_all()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # surfaced to waiters; the owner decides to restart
            log.exception("following %s failed", self.topic)
            self._failure = exc
            async with self._progress:
                self._progress.notify_all()

    async def wait_applied(self, partition: int, offset: int, *, timeout_s: float = 10.0) -> None:
        """Wait until the record at ``offset`` (e.g. one we just produced) is in the view."""
        deadline = time.monotonic() + timeout_s
        async with self._progress:
            while self._applied.get(partition, 0) <= offset:
                if self._failure is not None:
                    raise BrokerError(f"following {self.topic!r} failed: {self._failure!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrokerError(
                        f"record {partition}/{offset} of {self.topic!r} not applied within {timeout_s:.0f} s",
                        hint="the broker may be overloaded; the write itself was acknowledged",
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._progress.wait(), left)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()
