"""The webhook dispatcher: ``deliver.<agency>.*`` → signed POSTs, ordered per key, committed after 2xx.

consume a batch → fetch its schemas → hand each record to its key's lane (one task per
topic-partition-key, updates in offset order) → a lane POSTs until 2xx, retries with backoff,
or parks the update on ``dlq.webhook.<agency>`` → commit each partition up to its first
unfinished offset. Lanes of different keys run concurrently, bounded per agency and overall;
a partition with too many unfinished updates is paused, so one slow receiver holds back only
its own partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bus.acl.rules import WEBHOOKS
from bus.delivery.decode import DeliveryDecoder
from bus.delivery.keys import DirectoryKeys
from bus.delivery.update import Undeliverable, Update
from bus.directory.keys import load_signer
from bus.directory.model import WEBHOOKS_IDENTITY, WebhookEntry
from bus.directory.view import AgencyDirectory
from bus.errors import BusError
from bus.event import topics
from bus.event.signed_delivery import delivery_digest
from bus.kafka.client import KafkaSettings, ensure_topics, make_admin, make_consumer, make_producer
from bus.kafka.follow import TopicFollower
from bus.metrics import WEBHOOK_ATTEMPTS
from bus.policy.agreements_view import AgreementsView
from bus.receipts.receipt import Receipt
from bus.receipts.writer import ReceiptWriter
from bus.registry.client import RegistryClient
from bus.run.backoff import Backoff
from bus.run.closing import close_all
from bus.webhooks.message import body_text, delivery_proof
from bus.webhooks.parking import REASON_HORIZON, REASON_REJECTED, STAGE_DECODE, STAGE_WEBHOOK, parked_headers
from bus.webhooks.progress import PartitionProgress
from bus.webhooks.retry import Outcome, next_delay
from bus.webhooks.sender import Sender

log = logging.getLogger(__name__)
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
_NOTHING = r"^deliver\.$"  # matches no topic: subscribed, but no agency has a webhook yet


class WebhookSettings(BaseSettings):
    """``BUS_WEBHOOKS_*``: retry horizon, backoff and concurrency of the dispatcher."""

    model_config = SettingsConfigDict(env_prefix="BUS_WEBHOOKS_", extra="forbid", frozen=True)

    group_id: str = "bus-webhooks"
    registry_url: str = "http://127.0.0.1:8081"
    agencies: tuple[str, ...] | None = None  # only these agencies' webhooks (sharding; tests)
    horizon_s: float = Field(default=24 * 3600.0, gt=0)  # per agency: WebhookEntry.horizon_s
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=300.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    request_timeout_s: float = Field(default=10.0, gt=0)
    max_in_flight: int = Field(default=64, ge=1)
    max_in_flight_per_agency: int = Field(default=8, ge=1)
    max_unfinished_per_partition: int = Field(default=1000, ge=1)
    max_batch: int = Field(default=500, ge=1)
    metadata_max_age_ms: int = Field(default=3000, ge=100)
    # with a key registered under bus.webhooks, each 2xx is receipted on bus.receipts (docs/webhooks.md)
    signing_key: Path | None = None


@dataclass
class _Lane:
    """The updates of one key of one partition still to deliver, oldest first."""

    tp: TopicPartition
    queue: deque[Record] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, dispatcher: WebhookDispatcher) -> None:
        self._dispatcher = dispatcher

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._dispatcher._release(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None


class WebhookDispatcher:
    """``start()`` → ``run(stop)`` → ``stop()``; one consumer group shared by all dispatcher processes."""

    def __init__(self, kafka: KafkaSettings, settings: WebhookSettings) -> None:
        self.kafka = kafka = kafka.acting_as(WEBHOOKS.user)
        self.settings = settings
        self.directory = AgencyDirectory()
        self._agreements = AgreementsView()
        self._followers = [
            TopicFollower(kafka, topics.SystemTopic.AGENCIES, self._directory_record),
            TopicFollower(kafka, topics.SystemTopic.AGREEMENTS, self._agreements.apply),
        ]
        self.registry = RegistryClient(settings.registry_url)
        self.decoder = DeliveryDecoder(
            self.registry, self._agreements.legal_basis, DirectoryKeys(self.directory)
        )
        self.sender = Sender(
            connect_timeout_s=settings.connect_timeout_s, request_timeout_s=settings.request_timeout_s
        )
        self.backoff = Backoff(settings.backoff_base_s, settings.backoff_max_s, jitter=True)
        self._producer = make_producer(kafka)
        self._consumer = make_consumer(
            kafka,
            group_id=settings.group_id,
            metadata_max_age_ms=settings.metadata_max_age_ms,
            max_poll_records=settings.max_batch,
        )
        self._admin = make_admin(kafka)
        self._known_topics: set[str] = set()
        self._topic_lock = asyncio.Lock()
        self._pattern: str | None = None
        self._directory_dirty = True
        self._lanes: dict[tuple[TopicPartition, bytes | None], _Lane] = {}
        self._progress: dict[TopicPartition, PartitionProgress] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._generation = 0  # bumps on every revocation: a batch fetched before it is dropped
        self._in_flight = asyncio.Semaphore(settings.max_in_flight)
        self._per_agency: dict[str, asyncio.Semaphore] = {}
        self._failure: BaseException | None = None
        self.delivered = 0
        self.parked = 0
        self.receipts = (
            ReceiptWriter(kafka, load_signer(settings.signing_key, WEBHOOKS_IDENTITY))
            if settings.signing_key
            else None
        )

    # lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._admin.start()
        await ensure_topics(
            self._admin,
            [topics.spec_for(t) for t in (topics.SystemTopic.AGENCIES, topics.SystemTopic.AGREEMENTS)],
            replication_factor=self.kafka.replication_factor,
        )
        self._known_topics = set(await self._admin.list_topics())
        for follower in self._followers:
            await follower.start()
        await self._producer.start()
        await self._consumer.start()
        if self.receipts is not None:
            await self.receipts.start()
        else:
            log.warning("no BUS_WEBHOOKS_SIGNING_KEY: what receivers accept is not receipted on bus.receipts")
        self._resubscribe()

    async def stop(self) -> None:
        """Cancel lanes, commit what finished, close clients (unfinished updates are redelivered)."""
        await self._cancel_lanes(set(self._progress))
        with contextlib.suppress(KafkaError, BusError):
            await self._commit()
        closers = [self._consumer.stop, self._producer.stop, self._admin.close, self.sender.close]
        closers += [self.receipts.stop] if self.receipts is not None else []
        closers += [self.registry.close, *(f.stop for f in self._followers)]
        await close_all(closers, log, "the webhook dispatcher")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()

    # the loop --------------------------------------------------------------------------------

    async def step(self) -> int:
        """One poll: hand new records to lanes, pause/resume partitions, commit; returns records taken."""
        if self._failure is not None:
            raise self._failure
        if self._directory_dirty:
            await self._commit()  # a pattern change revokes everything; keep what is finished
            self._resubscribe()
        batch = await self._consumer.getmany(timeout_ms=100, max_records=self.settings.max_batch)
        generation = self._generation  # getmany returns records of the assignment current at return
        records = [r for tp in sorted(batch, key=lambda t: (t.topic, t.partition)) for r in batch[tp]]
        if records and await self._prefetch(batch):
            if generation == self._generation:  # else revoked meanwhile: the new owner re-reads them
                for tp, fetched in batch.items():
                    for record in fetched:
                        self._enqueue(tp, record)
            else:
                records = []
        self._backpressure()
        await self._commit()
        return len(records)

    async def _prefetch(self, batch: dict[TopicPartition, list[Record]]) -> bool:
        """Fetch the batch's schemas; if the registry is unreachable, rewind and try again later."""
        try:
            await self.decoder.prefetch(r for records in batch.values() for r in records)
            return True
        except BusError as exc:
            pause = min(self.settings.backoff_base_s * 5, self.settings.backoff_max_s)
            log.warning("cannot fetch delivery schemas (%s); retrying in %.1f s", exc, pause)
            for tp, records in batch.items():
                with contextlib.suppress(KafkaError):  # revoked meanwhile
                    self._consumer.seek(tp, records[0].offset)
            await asyncio.sleep(pause)
            return False

    def _enqueue(self, tp: TopicPartition, record: Record) -> None:
        self._progress.setdefault(tp, PartitionProgress()).add(record.offset)
        lane = self._lanes.get((tp, record.key))
        if lane is None:
            lane = self._lanes[(tp, record.key)] = _Lane(tp)
            lane.task = asyncio.create_task(self._run_lane(record.key, lane), name=f"webhook:{tp.topic}")
        lane.queue.append(record)

    async def _run_lane(self, key: bytes | None, lane: _Lane) -> None:
        try:
            while lane.queue:
                record = lane.queue[0]
                await self._deliver(record)
                lane.queue.popleft()
                self._progress[lane.tp].finish(record.offset)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug, not a receiver problem: stop the dispatcher, do not commit past it
            log.exception("webhook lane for %s failed", lane.tp)
            self._failure = exc
        finally:
            if self._lanes.get((lane.tp, key)) is lane:
                del self._lanes[(lane.tp, key)]

    def _backpressure(self) -> None:
        limit = self.settings.max_unfinished_per_partition
        for tp, progress in self._progress.items():
            if tp not in self._paused and progress.unfinished >= limit:
                self._consumer.pause(tp)
                self._paused.add(tp)
            elif tp in self._paused and progress.unfinished <= limit // 2:
                self._consumer.resume(tp)
                self._paused.discard(tp)

    async def _commit(self) -> None:
        """Commit what every lane finished, after the receipts of what it finished are on the broker."""
        if self.receipts is not None:
            try:
                await self.receipts.flush()
            except KafkaError as exc:  # kept pending; no offset moves past them until they are sent
                log.warning("receipts not sent yet: %r", exc)
                return
        offsets = {
            tp: p.commit_point
            for tp, p in self._progress.items()
            if p.commit_point is not None and p.commit_point != self._committed.get(tp)
        }
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:  # e.g. during a rebalance; the next step tries again
            log.info("commit of webhook offsets deferred: %r", exc)
            return
        self._committed.update(offsets)

    async def _release(self, revoked: set[TopicPartition]) -> None:
        """Rebalance: stop the revoked partitions' lanes and commit what they finished."""
        self._generation += 1
        await self._cancel_lanes(revoked)
        with contextlib.suppress(KafkaError):
            await self._commit()
        for tp in revoked:
            self._progress.pop(tp, None)
            self._committed.pop(tp, None)
            self._paused.discard(tp)

    async def _cancel_lanes(self, partitions: set[TopicPartition]) -> None:
        lanes = [lane for (tp, _), lane in self._lanes.items() if tp in partitions]
        for lane in lanes:
            if lane.task is not None:
                lane.task.cancel()
        await asyncio.gather(*(lane.task for lane in lanes if lane.task is not None), return_exceptions=True)

    # directory -------------------------------------------------------------------------------

    def _directory_record(self, record: Record) -> None:
        self.directory.apply(record)
        self._directory_dirty = True

    def webhook(self, agency: str) -> WebhookEntry | None:
        """The agency's webhook as the directory says now (None: removed, or not ours to serve)."""
        if self.settings.agencies is not None and agency not in self.settings.agencies:
            return None
        entry = self.directory.get(agency)
        return entry.webhook if entry is not None else None

    def _resubscribe(self) -> None:
        self._directory_dirty = False
        agencies = sorted(e.id for e in self.directory.entries() if self.webhook(e.id) is not None)
        pattern = (
            rf"^deliver\.(?:{'|'.join(re.escape(a) for a in agencies)})\.[a-z0-9]+(?:-[a-z0-9]+)*$"
            if agencies
            else _NOTHING
        )
        if pattern != self._pattern:
            log.info("webhook dispatcher serves %s", ", ".join(agencies) or "no agency yet")
            self._consumer.subscribe(pattern=pattern, listener=_Rebalance(self))
            self._pattern = pattern

    # one update ------------------------------------------------------------------------------

    async def _deliver(self, record: Record) -> None:
        """Return once the update is delivered (2xx) or parked; retry in between."""
        agency = topics.parse(record.topic).agency
        assert agency is not None  # the subscription pattern only matches deliver.<agency>.<agreement>
        item = self.decoder.decode(record)
        if isinstance(item, Undeliverable):
            await self._park(record, agency, STAGE_DECODE, item.reason, item.detail)
            return
        try:
            body = body_text(item, delivery_proof([(k, bytes(v)) for k, v in record.headers], record.value))
        except (TypeError, ValueError) as exc:
            await self._park(record, agency, STAGE_DECODE, "body_unencodable", str(exc))
            return
        started, failures = time.monotonic(), 0
        while True:
            webhook = self.webhook(agency)
            if webhook is None:  # removed meanwhile: the coming rebalance cancels this lane
                await asyncio.sleep(self.settings.backoff_max_s)
                continue
            async with self._agency_slots(agency), self._in_flight:
                attempt = await self.sender.post(webhook.url, webhook.secret, item.event_id, body)
            WEBHOOK_ATTEMPTS.labels(agency, attempt.outcome.value).inc()
            if attempt.outcome is Outcome.DELIVERED:
                self.delivered += 1
                if self.receipts is not None:  # sent before this offset can be committed (_commit)
                    self.receipts.add(_receipt(agency, item, record, attempt.status))
                return
            detail = (
                f"{webhook.url} answered {attempt.detail}"
                if attempt.status
                else f"{webhook.url}: {attempt.detail}"
            )
            if attempt.outcome is Outcome.REJECTED:
                await self._park(
                    record, agency, STAGE_WEBHOOK, REASON_REJECTED, detail, attempt.status, failures + 1
                )
                return
            delay = next_delay(self.backoff, failures, attempt)
            failures += 1
            horizon = webhook.horizon_s or self.settings.horizon_s
            if time.monotonic() + delay > started + horizon:
                why = f"no 2xx within the {horizon:g} s horizon after {failures} attempts; last: {detail}"
                await self._park(record, agency, STAGE_WEBHOOK, REASON_HORIZON, why, attempt.status, failures)
                return
            log.debug("retrying %s for %s in %.2f s: %s", item.event_id, agency, delay, detail)
            await asyncio.sleep(delay)

    def _agency_slots(self, agency: str) -> asyncio.Semaphore:
        if agency not in self._per_agency:
            self._per_agency[agency] = asyncio.Semaphore(self.settings.max_in_flight_per_agency)
        return self._per_agency[agency]

    async def _park(
        self,
        record: Record,
        agency: str,
        stage: str,
        reason: str,
        detail: str,
        status: int | None = None,
        attempts: int = 0,
    ) -> None:
        """Write the update to ``dlq.webhook.<agency>`` and wait for the ack (retrying broker errors)."""
        topic = topics.dlq_webhook(agency)
        headers = parked_headers(
            [(k, bytes(v)) for k, v in record.headers],
            stage=stage,
            reason=reason,
            detail=detail,
            topic=record.topic,
            status=status,
            attempts=attempts,
        )
        failures = 0
        while True:
            try:
                await self._ensure_topic(topic)
                await self._producer.send_and_wait(topic, key=record.key, value=record.value, headers=headers)
                break
            except (KafkaError, BusError) as exc:
                log.warning("cannot park an update on %s yet: %r", topic, exc)
                await asyncio.sleep(self.backoff.delay(failures))
                failures += 1
        self.parked += 1
        log.warning(
            "parked %s@%s/%s on %s: %s (%s)",
            record.topic,
            record.partition,
            record.offset,
            topic,
            reason,
            detail,
        )

    async def _ensure_topic(self, topic: str) -> None:
        async with self._topic_lock:
            if topic not in self._known_topics:
                await ensure_topics(
                    self._admin, [topics.spec_for(topic)], replication_factor=self.kafka.replication_factor
                )
                self._known_topics.add(topic)


def _receipt(agency: str, update: Update, record: Record, status: int | None) -> Receipt:
    """The dispatcher's receipt of what ``agency``'s receiver accepted, with its HTTP answer."""
    return Receipt(
        consumer=agency,
        agreement=update.agreement,
        event_id=update.event_id,
        subject=update.subject,
        delivery=delivery_digest([(k, bytes(v)) for k, v in record.headers], record.value).hex(),
        received_at=dt.datetime.now(dt.UTC),
        by=WEBHOOKS_IDENTITY,
        status=status,
    )
