"""The processor's ingress I/O on Apache Kafka: one transaction per batch, exactly once (issue #21).

A batch's deliveries, dead letters, audit entries, state and backfill records and its input offsets
are committed in one Kafka transaction, so a read_committed reader sees all of them or none. The
offsets go with the consumer's group metadata (KIP-447): a worker that lost its partitions in a
rebalance is refused by the group coordinator and cannot commit. aiokafka 0.14 sends the group id
only, so this engine is librdkafka's (measured and argued in docs/processor.md). librdkafka blocks,
so the consumer and the transactional producer each run on a thread of their own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from aiokafka import ConsumerRecord, TopicPartition
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka import TopicPartition as RdTopicPartition

from bus.errors import BrokerError
from bus.kafka.client import MAX_REQUEST_BYTES, KafkaSettings, librdkafka_config
from bus.metrics import TRANSACTION
from bus.processor.outputs import Output

log = logging.getLogger(__name__)
_FATAL_READS = frozenset(
    {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError._AUTHENTICATION}
)
# the coordinator's "you are not the owner any more": a newer producer, or a stale group member
_FENCED = frozenset(
    {
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.FENCED_INSTANCE_ID,
    }
)
_CALL_TIMEOUT_S = 30.0
_ATTEMPTS = 5


class ExactlyOnceIngress:
    """A read_committed consumer and a transactional producer for one processor worker."""

    exactly_once = True

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        group_id: str,
        instance: str | None,
        pattern: str,
        session_timeout_ms: int,
        transaction_timeout_ms: int,
    ) -> None:
        base = librdkafka_config(kafka)
        # a named instance is a static group member (KIP-345): its restart replaces it at once
        static = {"group.instance.id": instance} if instance else {}
        self.transactional_id = f"{group_id}.{instance or uuid.uuid4().hex}"
        self._pattern = pattern
        self._consumer = Consumer(
            {
                **base,
                "group.id": group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "session.timeout.ms": session_timeout_ms,
                "heartbeat.interval.ms": max(500, session_timeout_ms // 10),
                "topic.metadata.refresh.interval.ms": 3000,  # a new agency's ingress topic is seen soon
                **static,
            }
        )
        self._producer = Producer(
            {
                **base,
                "transactional.id": self.transactional_id,
                "transaction.timeout.ms": transaction_timeout_ms,
                "linger.ms": 5,
                # the coordinator refuses the next transaction (CONCURRENT_TRANSACTIONS) until it has
                # written the last one's markers; librdkafka's default 100 ms back-off then became
                # 100 ms of latency for a batch (measured, docs/performance.md)
                "retry.backoff.ms": 10,
                # murmur2 as the Java client and aiokafka pick: ingress, state and delivery topics
                # stay co-partitioned whichever engine wrote them (librdkafka's default is CRC32)
                "partitioner": "murmur2_random",
                "message.max.bytes": MAX_REQUEST_BYTES,
                "compression.type": kafka.compression,
            }
        )
        self._reading = ThreadPoolExecutor(1, thread_name_prefix="bus-processor-read")
        self._writing = ThreadPoolExecutor(1, thread_name_prefix="bus-processor-transact")
        self._lock = threading.Lock()
        self._assigned: set[TopicPartition] | None = None
        self._owned: set[TopicPartition] = set()
        self._failed: Exception | None = None  # a batch that failed: no later batch may commit
        self._metadata: object = None  # the group metadata as of the last batch read

    async def start(self) -> None:
        """Fence an earlier producer of this transactional id (its open transaction aborts), then join."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._writing, self._producer.init_transactions, _CALL_TIMEOUT_S)
        except KafkaException as exc:
            raise self._error("could not start its transactional producer", exc) from exc
        await loop.run_in_executor(self._reading, self._subscribe)

    def _subscribe(self) -> None:
        self._consumer.subscribe(
            [self._pattern], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )

    # -- rebalance callbacks: run on the reading thread, inside consume() -----------------
    def _on_assign(self, _consumer: Consumer, partitions: list[RdTopicPartition]) -> None:
        assigned = {TopicPartition(p.topic, p.partition) for p in partitions}
        with self._lock:
            self._assigned = self._owned = assigned

    def _on_revoke(self, _consumer: Consumer, _partitions: list[RdTopicPartition]) -> None:
        """Partitions go only once every transaction already handed to the writing thread has ended."""
        self._writing.submit(lambda: None).result()
        with self._lock:
            self._owned = set()

    def take_assignment(self) -> set[TopicPartition] | None:
        """The partitions assigned since the last call, or None if the assignment did not change."""
        with self._lock:
            assigned, self._assigned = self._assigned, None
        return assigned

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        loop = asyncio.get_running_loop()
        messages = await loop.run_in_executor(self._reading, self._consume, max_records, timeout_ms / 1000)
        batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                self._read_error(error)
                continue
            record = _record(message)
            batch.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        return batch

    def _consume(self, max_records: int, timeout_s: float) -> list[Message]:
        """A batch, and the group metadata its offsets will be committed under, read here on the
        reading thread: asked for inside a transaction instead, it waited for a rebalance callback that
        waited for that transaction (a deadlock seen when a second worker joined mid-transaction).

        Adaptive: what has arrived is taken at once. ``consume(n, timeout)`` alone waits for all ``n``
        or the whole timeout, which at 1k events/s held every event ~100 ms for a fuller batch."""
        consumer = self._consumer
        messages = consumer.consume(max_records, 0)
        if not messages:
            first = consumer.poll(timeout_s)  # waits for the first record only
            if first is not None:
                messages = [first, *consumer.consume(max_records - 1, 0)]
        self._metadata = self.group_metadata()
        return messages

    def _read_error(self, error: KafkaError) -> None:
        if error.fatal() or error.code() in _FATAL_READS:
            raise BrokerError(
                f"the processor's consumer ({self.transactional_id}) cannot read ingress: {error.str()}",
                hint="check the bus.processor login and its ACLs (bus acl export), then restart it",
            )
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("processor consumer: %s (librdkafka retries)", error.str())

    # -- one transaction per batch, on the writing thread ---------------------------------
    def write(self, outputs: list[Output], offsets: dict[TopicPartition, int]) -> asyncio.Future[None]:
        """Queue the batch's transaction; the future is done once it is committed (offsets included).

        Transactions run one after another on the writing thread, so the next batch can be read and
        processed while this one commits, and batches commit in the order they were read.
        """
        metadata = self._metadata  # of the batch these offsets were read in
        return asyncio.wrap_future(self._writing.submit(self._transact, outputs, offsets, metadata))

    def _transact(
        self, outputs: Sequence[Output], offsets: dict[TopicPartition, int], metadata: object
    ) -> None:
        if self._failed is not None:  # a later batch was processed on the failed one's state and
            raise self._failed  # its offsets cover the failed one's inputs: it must not commit either
        if not outputs and not offsets:
            return
        producer = self._producer
        started = time.perf_counter()
        try:
            producer.begin_transaction()
            for output in outputs:
                self._produce(output)
            if offsets:
                positions = [RdTopicPartition(tp.topic, tp.partition, at) for tp, at in offsets.items()]
                self._retrying(producer.send_offsets_to_transaction, positions, metadata)
            self._retrying(producer.commit_transaction)
        except KafkaException as exc:
            self._abort(fatal=exc.args[0].fatal())
            self._failed = self._error(f"could not commit a batch of {len(outputs)} outputs", exc)
            raise self._failed from exc
        except Exception as exc:  # a bug: the transaction must not stay open for the next batch
            self._failed = exc
            self._abort(fatal=False)
            raise
        producer.poll(0)  # serve the delivery reports, which commit_transaction has already awaited
        TRANSACTION.observe(time.perf_counter() - started)

    def _retrying(self, call: Callable[..., None], *args: object) -> None:
        """librdkafka's rule for its transactional calls: a retriable error (a coordinator moving, a
        timeout) is answered by calling again, never by aborting: a commit may already be under way."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                call(*args, _CALL_TIMEOUT_S)
                return
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if not error.retriable() or attempt == _ATTEMPTS:
                    raise
                log.warning(
                    "processor %s: %s (attempt %d, retrying)", self.transactional_id, error.str(), attempt
                )

    def group_metadata(self) -> object:
        """The consumer's group, generation and member id: the coordinator fences a stale worker by them."""
        return self._consumer.consumer_group_metadata()

    def _produce(self, output: Output) -> None:
        while True:
            try:
                headers = cast("list[tuple[str, str | bytes | None]]", output.headers)
                self._producer.produce(output.topic, output.value, output.key, headers=headers)
                return
            except BufferError:  # the local queue is full: let librdkafka send some of it
                self._producer.poll(0.05)

    def _abort(self, *, fatal: bool) -> None:
        """Abort the open transaction, unless the producer is fenced (fatal): then nothing can be done,
        and the coordinator aborts it when the new owner starts or the transaction times out."""
        if fatal:
            return
        try:
            self._producer.abort_transaction(_CALL_TIMEOUT_S)
        except KafkaException:
            log.exception("could not abort the processor's transaction; the coordinator times it out")

    def _error(self, what: str, exc: KafkaException) -> BrokerError:
        error: KafkaError = exc.args[0]
        if error.code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
            hint = (
                f"its login may not use transactional id {self.transactional_id!r}: the processor's "
                "ACLs allow ids that start with its group (bus-processor by default); run it with that "
                "group, or grant the prefix (`bus acl export` shows what is granted)"
            )
        elif error.code() in _FENCED or "fenced" in error.str().lower():
            what = f"was fenced and {what}"
            hint = (
                "another worker owns this work now (it took the partitions, or runs under the same "
                "instance): this one stops and rejoins; nothing it wrote in the transaction is visible"
            )
        else:
            hint = (
                "the batch was aborted and nothing of it is visible to read_committed readers; the "
                "worker restarts from the last committed offsets"
            )
        return BrokerError(f"processor {self.transactional_id} {what}: {error.str()}", hint=hint)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Nothing to do: the offsets were committed in the batch's transaction."""

    def abandon(self) -> None:
        """Nothing to forget: a failed transaction was aborted, and none queued after it commits."""

    async def lag(self) -> dict[str, int]:
        """Records behind the high watermark per ingress topic, from librdkafka's cached watermarks."""
        return await asyncio.get_running_loop().run_in_executor(self._reading, self._lag)

    def _lag(self) -> dict[str, int]:
        lag: dict[str, int] = {}
        with self._lock:
            owned = list(self._owned)
        positions = self._consumer.position([RdTopicPartition(tp.topic, tp.partition) for tp in owned])
        for position in positions:
            _, high = self._consumer.get_watermark_offsets(position, cached=True)
            if position.offset >= 0 and high >= 0:
                lag[position.topic] = lag.get(position.topic, 0) + max(0, high - position.offset)
        return lag

    async def stop(self) -> None:
        """Leave the group (after the queued transactions end), then release both threads."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._reading, self._consumer.close)
        finally:
            try:
                await loop.run_in_executor(self._writing, self._close_producer)
            finally:
                self._reading.shutdown(wait=True)
                self._writing.shutdown(wait=True)

    def _close_producer(self) -> None:
        """Flush, drop what a gone broker cannot take, close: no librdkafka thread outlives the worker.

        A fenced or failed producer (fatal) refuses the flush; it is closed all the same."""
        try:
            self._producer.flush(_CALL_TIMEOUT_S)
            self._producer.purge()
            self._producer.close()
        except (KafkaException, SystemError) as exc:  # 2.16 raises SystemError closing a fenced one
            log.warning("processor %s: its producer closed with an error: %s", self.transactional_id, exc)


def _record(message: Message) -> ConsumerRecord[bytes, bytes]:
    """librdkafka's message as the aiokafka record the pipeline reads (topic, partition, offset, ...)."""
    key, value = message.key(), message.value()
    timestamp_type, timestamp = message.timestamp()
    return ConsumerRecord(
        str(message.topic()),
        message.partition() or 0,
        message.offset() or 0,
        timestamp,
        max(timestamp_type, 0),
        key,
        value,
        None,
        len(key) if key is not None else -1,
        len(value) if value is not None else -1,
        message.headers() or [],
    )
