"""The wallet materialiser: ``deliver.wallet.*`` → ``wallet_records`` (the latest record per person and type).

Loop: getmany → decode (``DeliveryDecoder``, the subscribers' decoder) → one SQL transaction → commit
the offsets. A crash between the SQL commit and the offset commit re-reads a batch, which the
event-time guard makes harmless. Topics are assigned by hand from the wallet's agreements (followed
on ``bus.agreements``), so a new wallet agreement is picked up without a group rebalance; the group
only keeps the committed offsets. One materialiser per database, like the archiver.

It also follows ``bus.consent``: when a person's latest decision for a wallet purpose is a revoke, or a
grant whose ``valid_until`` has passed, what the wallet holds under that purpose is dropped, and late
deliveries for it are not stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import logging
import re
from collections.abc import Sequence
from typing import Final

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bus.acl.rules import WALLET as WALLET_SERVICE
from bus.audit.archive import DEFAULT_DB_URL
from bus.audit.db import ArchiveStore
from bus.delivery.decode import DeliveryDecoder
from bus.delivery.keys import RegistryKeys
from bus.delivery.update import Undeliverable, Update
from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.event.topics import SystemTopic, spec_for
from bus.kafka.client import (
    KafkaSettings,
    as_bus_error,
    create_topics,
    make_admin,
    make_consumer,
    replayed_on_failure,
)
from bus.kafka.follow import TopicFollower
from bus.policy.agreement import Agreement
from bus.policy.agreements_view import AgreementsView
from bus.policy.consent import ConsentRecord, ConsentStatus, ConsentView
from bus.registry.client import RegistryClient
from bus.run.backoff import step_until_stopped
from bus.run.closing import close_all
from bus.validate.iin import validate_iin
from bus.validate.result import Invalid
from bus.wallet.store import WALLET, WALLET_NAME, WalletChange, apply_changes, forget

log = logging.getLogger(__name__)
_SOURCE = re.compile(r"^/agencies/([a-z0-9-]+)/")


class WalletSettings(BaseSettings):
    """``BUS_WALLET_*`` settings of the materialiser."""

    model_config = SettingsConfigDict(env_prefix="BUS_WALLET_", extra="forbid", frozen=True)

    db_url: str = DEFAULT_DB_URL
    registry_url: str = "http://127.0.0.1:8081"
    group_id: str = "bus-wallet"  # runs as bus.wallet, whose ACLs hold this group prefix
    max_batch: int = Field(default=2000, ge=1)


_WITHDRAWN: Final = (ConsentStatus.REVOKED, ConsentStatus.EXPIRED)


def _snake(name: str) -> str:
    """``gov.land.LandParcel`` → ``land_parcel`` (only when the agreement is unknown)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.rsplit(".", 1)[-1]).lower()


async def name_the_wallet(operator: KafkaSettings) -> None:
    """The wallet's directory entry, so reports and the tracker name it: written by the operator, since
    the materialiser (bus.wallet) may not write the directory."""
    await put_agency(operator, AgencyEntry(id=WALLET, name=WALLET_NAME))


class WalletMaterialiser:
    """``start()``, then ``run(stop)`` or ``step()``; ``stop()`` closes everything."""

    def __init__(self, kafka: KafkaSettings, settings: WalletSettings) -> None:
        self.kafka = kafka = kafka.acting_as(WALLET_SERVICE.user)
        self.settings = settings
        self.store = ArchiveStore(settings.db_url)
        self.agreements = AgreementsView()
        self.consent = ConsentView()
        self.stored = 0
        self.skipped = 0
        self._revoked: list[tuple[str, str]] = []
        self._expiring: list[tuple[dt.datetime, str, str]] = []  # a heap of (valid_until, iin, purpose)
        self._agreements = TopicFollower(kafka, SystemTopic.AGREEMENTS, self.agreements.apply)
        self._consents = TopicFollower(kafka, SystemTopic.CONSENT, self._apply_consent)
        self._registry = RegistryClient(settings.registry_url)
        self._decoder = DeliveryDecoder(
            self._registry, self.agreements.legal_basis, RegistryKeys(self._registry)
        )
        self._consumer = make_consumer(kafka, group_id=settings.group_id, max_poll_records=settings.max_batch)
        self._assigned_version = -1
        self._started = False

    async def start(self) -> None:
        """Migrate the archive schema, follow agreements and consent."""
        await asyncio.to_thread(self.store.migrate)
        await create_topics(self.kafka, [spec_for(SystemTopic.AGREEMENTS), spec_for(SystemTopic.CONSENT)])
        await self._agreements.start()
        await self._consents.start()
        await self._consumer.start()
        self._started = True
        await self._reassign()

    async def stop(self) -> None:
        closers = (self._consumer.stop, self._consents.stop, self._agreements.stop, self._registry.close)
        await close_all(closers if self._started else closers[1:], log, "the wallet materialiser")
        await asyncio.to_thread(self.store.close)
        self._started = False

    async def run(self, stop: asyncio.Event) -> None:
        """Materialise until ``stop`` is set; retriable failures (database, broker) back off and retry."""
        await step_until_stopped(self.step, stop, log)

    def wallet_agreements(self) -> list[Agreement]:
        return sorted(
            (a for a in self.agreements.active.values() if a.consumer == WALLET), key=lambda a: a.id
        )

    async def step(self) -> int:
        """One batch: returns how many deliveries it stored or removed (0 when idle)."""
        if self._assigned_version != self.agreements.version:
            await self._reassign()
        await self._forget_withdrawn()
        if not self._consumer.assignment():
            await asyncio.sleep(0.2)
            return 0
        batch = await self._consumer.getmany(timeout_ms=200, max_records=self.settings.max_batch)
        records = [r for tp in sorted(batch, key=lambda t: (t.topic, t.partition)) for r in batch[tp]]
        if not records:
            return 0
        with replayed_on_failure(self._consumer, batch):
            await self._decoder.prefetch(records)
            changes = [c for c in (self._change(r) for r in records) if c is not None]
            now = dt.datetime.now(dt.UTC)
            await asyncio.to_thread(apply_changes, self.store, changes, now)
            await self._consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batch.items() if rs})
        self.stored += len(changes)
        return len(changes)

    def _change(self, record: ConsumerRecord[bytes, bytes]) -> WalletChange | None:
        item = self._decoder.decode(record)
        if isinstance(item, Undeliverable):
            self.skipped += 1
            log.warning(
                "wallet delivery %s/%s@%s skipped: %s (%s)", *_where(record), item.reason, item.detail
            )
            return None
        if isinstance(validate_iin(item.subject), Invalid):
            # only records keyed by a person's IIN are "about that person" (docs/wallet.md)
            self.skipped += 1
            log.warning("wallet delivery %s/%s@%s skipped: its key is not an IIN", *_where(record))
            return None
        agreement = self.agreements.find(item.agreement)
        purpose = agreement.purpose if agreement else ""
        if self.consent.state_at(item.subject, WALLET, purpose, dt.datetime.now(dt.UTC)) in _WITHDRAWN:
            return None  # decided before the revoke or expiry, read after it: consent no longer holds
        return WalletChange(
            iin=item.subject,
            record_type=agreement.record_type if agreement else _snake(item.record_name),
            provider=agreement.provider if agreement else _provider(item),
            agreement_id=item.agreement,
            purpose=purpose,
            event_id=item.event_id,
            event_time=item.event_time,
            record=item.record,
        )

    def _apply_consent(self, record: ConsumerRecord[bytes, bytes]) -> None:
        self.consent.apply(record.key, record.value)
        if record.value is None:
            return
        try:
            change = ConsentRecord.model_validate_json(record.value)
        except ValueError:
            return
        if change.consumer != WALLET:
            return
        if change.status is ConsentStatus.REVOKED:
            self._revoked.append((change.subject, change.purpose))
        elif change.valid_until is not None:
            heapq.heappush(self._expiring, (change.valid_until, change.subject, change.purpose))

    async def _forget_withdrawn(self) -> None:
        """Drop what is held under revoked or expired purposes, unless the person granted again since."""
        pending, self._revoked = self._revoked, []
        now = dt.datetime.now(dt.UTC)
        while self._expiring and self._expiring[0][0] < now:
            _, iin, purpose = heapq.heappop(self._expiring)
            pending.append((iin, purpose))
        for iin, purpose in dict.fromkeys(pending):
            if self.consent.state_at(iin, WALLET, purpose, now) in _WITHDRAWN:
                await asyncio.to_thread(forget, self.store, iin, purpose)

    async def _reassign(self) -> None:
        """Assign every partition of every wallet agreement's delivery topic (created if missing)."""
        version = self.agreements.version
        wanted = [a.delivery_topic for a in self.wallet_agreements()]
        known = await self._partitions(wanted) if wanted else {}
        partitions = [TopicPartition(topic, p) for topic, found in known.items() for p in found]
        if not partitions:
            self._consumer.unsubscribe()
        elif set(partitions) != self._consumer.assignment():
            self._consumer.assign(partitions)
        if all(known.values()):  # a topic just created may not be in the metadata yet: try again
            self._assigned_version = version

    async def _partitions(self, topics: Sequence[str]) -> dict[str, list[int]]:
        """Create the topics if missing and ask the cluster for their partitions (the consumer's own
        metadata only knows topics it already tracks)."""
        await create_topics(self.kafka, [spec_for(t) for t in topics])
        admin = make_admin(self.kafka)
        await admin.start()
        try:
            described = await admin.describe_topics(list(topics))
        except KafkaError as exc:
            raise as_bus_error(exc, bootstrap=self.kafka.bootstrap) from None
        finally:
            await admin.close()
        found = {
            t["topic"]: sorted(p["partition"] for p in t["partitions"])
            for t in described
            if not t["error_code"]
        }
        return {topic: found.get(topic, []) for topic in topics}


def _provider(update: Update) -> str:
    found = _SOURCE.match(update.source)
    return found[1] if found else "unknown"


def _where(record: ConsumerRecord[bytes, bytes]) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset
