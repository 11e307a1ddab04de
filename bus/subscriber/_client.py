"""The subscriber SDK: typed updates from one agreement's delivery topic, each handed over once.

Consumer group ``bus-sub.<agency>.<agreement>`` (one per agency and agreement, so production ACLs
can grant the prefix ``bus-sub.<agency>.``). An ack first records the ``ce_id`` in the local store,
then commits offsets (batched), so a crash between the two re-reads records whose ids are already
known and suppresses them: no update is handed to the handler twice once it was acked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from bus.delivery.decode import DeliveryDecoder
from bus.delivery.keys import RegistryKeys
from bus.delivery.update import Undeliverable, Update
from bus.directory.model import Role
from bus.directory.view import AgencyDirectory
from bus.errors import AccessDeniedError, ConfigError
from bus.event.signed_delivery import delivery_digest
from bus.event.signed_event import Signer
from bus.event.topics import SystemTopic, agency_id, agreement_id, deliver, spec_for
from bus.kafka.client import (
    BrokerProfile,
    KafkaSettings,
    create_topics,
    make_consumer,
    reached_end,
    topic_partitions,
)
from bus.kafka.follow import TopicFollower
from bus.policy.agreements_view import AgreementsView
from bus.receipts.receipt import Receipt
from bus.receipts.writer import ReceiptWriter
from bus.registry.client import RegistryClient
from bus.run.backoff import Backoff
from bus.subscriber._store import Parked, SubscriberStore

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, ConsumerRecord
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger(__name__)
_HANDLER_BACKOFF_CAP_S = 30.0
Item = Update | Undeliverable
Handler = Callable[[Update], Awaitable[None]]
_COMMIT_EVERY_S = 1.0
_COMMIT_EVERY_ACKS = 500


@dataclass
class RunStats:
    handled: int = 0
    parked: int = 0


class Subscriber:
    """Receive one agency's updates; ``async with`` starts and stops it."""

    def __init__(
        self,
        agency: str,
        token: str | None = None,
        *,
        bootstrap: str | KafkaSettings,
        registry: str,
        store_path: Path | None = None,
        profile: BrokerProfile = BrokerProfile.KAFKA,
        retention: timedelta = timedelta(days=7),
        max_batch: int = 500,
        operator_token: str | None = None,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> None:
        self.agency = agency_id(agency)
        self._token = token
        self._settings = (
            bootstrap
            if isinstance(bootstrap, KafkaSettings)
            else KafkaSettings(bootstrap=bootstrap, broker_profile=profile)
        )
        self._registry = RegistryClient(registry)
        self._directory = AgencyDirectory(operator_token)
        self._agreements = AgreementsView()
        # Where the broker authenticates (Kafka with SASL), the agency's own login and the broker's
        # ACLs decide, and agencies may not read bus.agencies (it holds webhook secrets); the token is
        # checked against the directory only where the broker authenticates nobody (tansu).
        self._check_token = not self._settings.authenticates
        self._followers = [TopicFollower(self._settings, SystemTopic.AGREEMENTS, self._agreements.apply)]
        if self._check_token:
            self._followers.append(self._directory.follower(self._settings))
        self._store = SubscriberStore(
            store_path or Path(f"{self.agency}.subscriber.sqlite"), retention=retention
        )
        self._decoder = DeliveryDecoder(
            self._registry, self._agreements.legal_basis, RegistryKeys(self._registry)
        )
        self._max_batch = max_batch
        # with the agency's signing key, every acked update is receipted (docs/tracker.md, "Proof both ways")
        self._receipts = ReceiptWriter(self._settings, Signer.of(signing_key)) if signing_key else None

    async def start(self) -> None:
        for follower in self._followers:
            await follower.start()
        if self._receipts is not None:
            await self._receipts.start()
        if not self._check_token:
            return
        principal = self._directory.authenticate(f"Bearer {self._token}") if self._token else None
        if principal is None or (principal.role is not Role.OPERATOR and principal.agency != self.agency):
            await self.close()
            raise AccessDeniedError(
                f"the token given for agency {self.agency!r} is not valid for it",
                hint=f"use the bearer token issued to {self.agency!r} (bus agencies add {self.agency} …)",
            )

    async def close(self) -> None:
        for follower in self._followers:
            await follower.stop()
        if self._receipts is not None:
            await self._receipts.stop()
        await self._registry.close()
        self._store.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def topic_for(self, agreement: str) -> str:
        """The delivery topic of one of this agency's agreements; refuses anyone else's."""
        found = self._agreements.find(agreement)
        if found is None:
            raise ConfigError(
                f"no agreement {agreement_id(agreement)!r} on {SystemTopic.AGREEMENTS}",
                hint="check the id with `bus agreements list`",
            )
        if found.consumer != self.agency:
            raise AccessDeniedError(
                f"agency {self.agency!r} may not read {deliver(found.consumer, agreement)}: "
                f"agreement {agreement!r} delivers to {found.consumer!r}",
                hint="subscribe to your own agreements; a new data need is a new reviewed agreement",
            )
        return deliver(found.consumer, agreement)

    async def _delivery_topic(self, agreement: str) -> str:
        """The agreement's topic. Where the broker authorises, the bus created it when the agreement came
        into force and the broker alone decides whether this login may read it; elsewhere the SDK creates
        it when missing, so a subscriber may start before the first delivery."""
        topic = self.topic_for(agreement)
        if not self._settings.authenticates:
            await create_topics(self._settings, [spec_for(topic)])
        return topic

    def _not_readable(self, agreement: str, topic: str) -> AccessDeniedError:
        return AccessDeniedError(
            f"the broker does not let {self._settings.sasl_username or self.agency!r} read {topic}: "
            f"agreement {agreement!r} is not in force today, or its grant has not reached the broker yet",
            hint="check its validity with `bus agreements list`; the bus grants an agreement's topic to its "
            "consumer while it is in force (docs/security.md)",
        )

    def parked(self) -> list[Parked]:
        """Updates the handler gave up on, and deliveries that could not be decoded."""
        return self._store.parked()

    async def updates(self, agreement: str, *, follow: bool = True) -> AsyncIterator[Item]:
        """Every update of ``agreement`` not acked before, in per-subject order.

        With ``follow=False`` the iteration ends once it has reached the topic's current end.
        """
        async for _, item in self._items(agreement, follow=follow):
            yield item

    async def peek(self, agreement: str, *, follow: bool = False) -> AsyncIterator[Item]:
        """Everything on the agreement's topic from the start, without a group, acks or dedup.

        For operators and demos (``bus subscribe``): it never moves the agency's own position.
        """
        topic = await self._delivery_topic(agreement)
        consumer = make_consumer(self._settings, max_poll_records=self._max_batch)
        await consumer.start()
        try:
            partitions = await topic_partitions(consumer, topic)
            if not partitions:
                raise self._not_readable(agreement, topic)
            consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
            await consumer.seek_to_beginning()
            while True:
                records = await self._next_batch(consumer)
                for record in records:
                    yield self._decoder.decode(record)
                if not follow and not records and await _caught_up(consumer):
                    return
        finally:
            await consumer.stop()

    async def _next_batch(self, consumer: AIOKafkaConsumer) -> list[ConsumerRecord[bytes, bytes]]:
        batch = await consumer.getmany(timeout_ms=200, max_records=self._max_batch)
        records = [r for tp in sorted(batch, key=lambda t: t.partition) for r in batch[tp]]
        await self._decoder.prefetch(records)
        return records

    async def run(
        self,
        agreement: str,
        handler: Handler,
        *,
        follow: bool = True,
        attempts: int = 3,
        backoff_s: float = 0.5,
    ) -> RunStats:
        """Call ``handler`` for each update; retry a failing one, then park it locally and go on."""
        stats = RunStats()
        async for record, item in self._items(agreement, follow=follow):
            if isinstance(item, Undeliverable):
                self._park(record, item.reason, item.detail)
                stats.parked += 1
            elif await self._handle(handler, item, attempts, backoff_s, record):
                stats.handled += 1
            else:
                stats.parked += 1
            await item.ack()
        return stats

    async def _handle(
        self,
        handler: Handler,
        update: Update,
        attempts: int,
        backoff_s: float,
        record: ConsumerRecord[bytes, bytes],
    ) -> bool:
        backoff = Backoff(first_s=backoff_s, cap_s=_HANDLER_BACKOFF_CAP_S)
        for attempt in range(1, attempts + 1):
            try:
                await handler(update)
                return True
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "handler failed on %s (attempt %d/%d): %s", update.event_id, attempt, attempts, error
                )
                if attempt < attempts:
                    await asyncio.sleep(backoff.delay(attempt - 1))
        self._park(record, "handler_failed", error)
        return False

    def _park(self, record: ConsumerRecord[bytes, bytes], reason: str, detail: str) -> None:
        headers = [(k, bytes(v)) for k, v in record.headers]
        self._store.park(
            Parked(
                at=time.time(),
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key.decode("utf-8", "replace") if record.key is not None else None,
                event_id=dict(headers).get("ce_id", b"").decode("utf-8", "replace") or None,
                reason=reason,
                detail=detail,
                value=record.value,
                headers=headers,
            )
        )

    async def _items(
        self, agreement: str, *, follow: bool
    ) -> AsyncIterator[tuple[ConsumerRecord[bytes, bytes], Item]]:
        topic = await self._delivery_topic(agreement)
        consumer = make_consumer(
            self._settings,
            group_id=f"bus-sub.{self.agency}.{agreement}",
            max_poll_records=self._max_batch,
            metadata_max_age_ms=3000,
        )
        await consumer.start()
        offsets = _Offsets(consumer, self._receipts.flush if self._receipts is not None else None)
        try:
            if not await topic_partitions(consumer, topic):
                raise self._not_readable(agreement, topic)
            consumer.subscribe([topic])
            while True:
                records = await self._next_batch(consumer)
                for record in records:
                    offsets.track(record)
                    ack = _Acker(self._store, offsets, record, agreement, self._receipts)
                    item = self._decoder.decode(record, ack)
                    if isinstance(item, Update):
                        ack.receipt = self._receipt_for(item, record)
                        handled_at = self._store.seen_at(item.event_id)
                        if handled_at is not None:  # handed over before a crash: never again
                            await ack.done(handled_at)  # (its receipt may not have been sent)
                            continue
                    yield record, item
                await self._commit(offsets, final=False)
                if not follow and not records and await _caught_up(consumer):
                    return
        finally:
            await self._commit(offsets, final=True)
            await consumer.stop()

    async def _commit(self, offsets: _Offsets, *, final: bool) -> None:
        """At the end of each batch: its receipts out at once (not only when offsets are due), then
        the offsets if due (``_Offsets`` sends pending receipts before any commit)."""
        if self._receipts is not None:
            await self._receipts.flush()
        await (offsets.commit() if final else offsets.maybe_commit())

    def _receipt_for(self, update: Update, record: ConsumerRecord[bytes, bytes]) -> Receipt | None:
        if self._receipts is None:
            return None
        headers = [(k, bytes(v)) for k, v in record.headers]
        return Receipt(
            consumer=self.agency,
            agreement=update.agreement,
            event_id=update.event_id,
            subject=update.subject,
            delivery=delivery_digest(headers, record.value).hex(),
            received_at=dt.datetime.now(dt.UTC),  # replaced by the ack time
        )

    def receipts_sent(self) -> int:
        """Receipts the broker has acknowledged since start (0 without a signing key)."""
        return self._receipts.sent if self._receipts is not None else 0


class _Acker:
    """An update's ack: remember its id, queue its receipt (if receipted), mark its offset done."""

    def __init__(
        self,
        store: SubscriberStore,
        offsets: _Offsets,
        record: ConsumerRecord[bytes, bytes],
        agreement: str,
        receipts: ReceiptWriter | None,
    ) -> None:
        self._store, self._offsets, self._record, self._agreement = store, offsets, record, agreement
        self._receipts = receipts
        self.event_id = dict(record.headers).get("ce_id", b"").decode("utf-8", "replace")
        self.receipt: Receipt | None = None  # set once the record decoded to a genuine update

    async def __call__(self) -> None:
        if self.event_id:
            self._store.remember(self.event_id, self._agreement)
        await self.done(time.time())

    async def done(self, handled_at: float) -> None:
        if self.receipt is not None and self._receipts is not None:
            at = dt.datetime.fromtimestamp(handled_at, dt.UTC)
            self._receipts.add(self.receipt.model_copy(update={"received_at": at}))
        await self._offsets.done(self._record)


class _Offsets:
    """Per partition: offsets handed out and acked; commits the acked prefix, batched.

    ``before_commit`` runs before every commit: the receipts of the acked updates go first, so no
    offset is committed past an update whose receipt is not on the broker.
    """

    def __init__(
        self, consumer: AIOKafkaConsumer, before_commit: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._consumer = consumer
        self._before_commit = before_commit
        self._pending: dict[TopicPartition, dict[int, bool]] = {}
        self._committable: dict[TopicPartition, int] = {}
        self._acks_since = 0
        self._last_commit = time.monotonic()

    def track(self, record: ConsumerRecord[bytes, bytes]) -> None:
        self._pending.setdefault(TopicPartition(record.topic, record.partition), {})[record.offset] = False

    async def done(self, record: ConsumerRecord[bytes, bytes]) -> None:
        tp = TopicPartition(record.topic, record.partition)
        pending = self._pending.get(tp, {})
        pending[record.offset] = True
        while pending and pending[next(iter(pending))]:  # dicts keep insertion (= offset) order
            offset = next(iter(pending))
            del pending[offset]
            self._committable[tp] = offset + 1
        self._acks_since += 1
        await self.maybe_commit()

    async def maybe_commit(self) -> None:
        due = time.monotonic() - self._last_commit >= _COMMIT_EVERY_S
        if self._acks_since >= _COMMIT_EVERY_ACKS or (due and self._committable):
            await self.commit()

    async def commit(self) -> None:
        if not self._committable:
            return
        if self._before_commit is not None:
            await self._before_commit()
        offsets, self._committable = self._committable, {}
        self._acks_since, self._last_commit = 0, time.monotonic()
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:  # a rebalance took the partitions
            log.info("offsets not committed (%s); the dedup store covers the re-delivery", exc)


async def _caught_up(consumer: AIOKafkaConsumer) -> bool:
    assigned = consumer.assignment()
    return bool(assigned) and await reached_end(consumer, assigned)
