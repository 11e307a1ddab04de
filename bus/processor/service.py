"""The processor's batch loop (DESIGN §7-8): consume a batch, process every record, write every output.

Two engines carry a batch's I/O. On Apache Kafka (``exactly_once.py``) the outputs and the input
offsets are committed in one transaction; on tansu (``at_least_once.py``) the outputs are
acknowledged first and the offsets committed after, so a crash repeats a batch (duplicates carry
the same ``ce_id``; stale versions are dropped by ``bus_sequence``).

``run`` keeps up to ``max_in_flight`` batches between "outputs queued" and "committed": while
batch N is acknowledged (or its transaction commits), batch N+1 is consumed and processed. Batches
are settled strictly in order, and an output that fails stops the loop before its batch (or a later
one) counts as committed (the supervisor restarts the worker). A rebalance settles every batch in
flight before partitions are handed over.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from aiokafka import TopicPartition
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bus.acl.rules import PROCESSOR
from bus.audit.entry import AUDIT_SCHEMA, AUDIT_SUBJECT, AuditEntry
from bus.directory.keys import load_signer
from bus.directory.model import PROCESSOR_IDENTITY
from bus.directory.view import AgencyDirectory
from bus.errors import ConfigError
from bus.event import topics
from bus.event.signed_delivery import sign_deliveries
from bus.event.signing import Verifier, public_key_text
from bus.ids import SchemaId
from bus.kafka.client import (
    BrokerProfile,
    KafkaSettings,
    ensure_topics,
    iter_to_end,
    make_admin,
)
from bus.kafka.follow import TopicFollower
from bus.metrics import CONSUMER_LAG, PROCESSING
from bus.policy.agreements_view import AgreementsView
from bus.policy.consent import ConsentView
from bus.processor.at_least_once import AtLeastOnceIngress
from bus.processor.backfill import Backfiller, BackfillView
from bus.processor.exactly_once import ExactlyOnceIngress
from bus.processor.observe import count_decisions, count_ingested
from bus.processor.outputs import Output
from bus.processor.pipeline import Pipeline, utc_now
from bus.processor.routes import Routes
from bus.processor.state import StateStore
from bus.registry.client import RegistryClient
from bus.run.closing import close_all
from bus.run.environment import OperatorToken

log = logging.getLogger(__name__)
INGRESS_PATTERN = r"^ingress\.[a-z0-9-]+\.[a-z][a-z0-9_]*$"
_DELIVERY = f"{topics.TopicKind.DELIVER.value}."


class ProcessorSettings(BaseSettings):
    """``BUS_PROCESSOR_*`` settings; writes derived schemas with ``BUS_OPERATOR_TOKEN``."""

    model_config = SettingsConfigDict(
        env_prefix="BUS_PROCESSOR_", extra="forbid", frozen=True, populate_by_name=True
    )

    group_id: str = "bus-processor"
    registry_url: str = "http://127.0.0.1:8081"
    operator_token: OperatorToken = None
    max_batch: int = Field(default=2000, ge=1)
    max_in_flight: int = Field(default=2, ge=1, le=8)  # batches queued but not yet committed
    topic_pattern: str = INGRESS_PATTERN
    # None: transactions where the broker has working ones (the kafka profile), not on tansu
    exactly_once: bool | None = None
    # a stable worker slot (Kafka profile): its restart aborts its predecessor's open transaction and
    # takes its partitions back at once; unset, every start is a new worker (see docs/processor.md)
    instance: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]+$")
    # the exactly-once engine's group session and transaction timeouts (the other keeps its profile's)
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    transaction_timeout_ms: int = Field(default=10_000, ge=1000)
    # the PEM key every delivery is signed with; its public key is registered under bus.processor
    signing_key: Path | None = None


@dataclass
class _InFlight:
    """A batch whose outputs are queued: committed once ``acks`` are all done."""

    acks: asyncio.Future[None]
    offsets: dict[TopicPartition, int]
    records: list[str]  # ingress topics, for the ingest counter
    entries: list[AuditEntry]
    started: float


class Processor:
    def __init__(self, kafka: KafkaSettings, settings: ProcessorSettings) -> None:
        if not settings.operator_token:
            raise ConfigError(
                "the processor needs the operator token to register delivery schemas",
                hint="set BUS_OPERATOR_TOKEN",
            )
        if settings.signing_key is None:
            raise ConfigError(
                "the processor signs every delivery and has no signing key",
                hint=f"set BUS_PROCESSOR_SIGNING_KEY to a key made with "
                f"`bus agencies keygen {PROCESSOR_IDENTITY} --out processor.pem`",
            )
        self.signer = load_signer(settings.signing_key, PROCESSOR_IDENTITY)
        self.kafka = kafka = kafka.acting_as(PROCESSOR.user)
        self.settings = settings
        self.registry = RegistryClient(settings.registry_url, token=settings.operator_token)
        self.directory = AgencyDirectory()
        self.agreements = AgreementsView()
        self.consent = ConsentView()
        self.state = StateStore()
        self.routes = Routes(self.agreements, self.registry)
        self.backfills = BackfillView()
        self.backfiller = Backfiller(self.backfills, self.state, self.routes)
        # A root is useful while its publisher batch is arriving: a few thousand cover minutes of
        # traffic and keep memory flat (the default 65,536 would hold ~25 MB before it stops growing).
        self.verifier = Verifier(self.directory.public_key, cache_size=4096)
        self._followers = [
            self.directory.follower(kafka),
            TopicFollower(kafka, topics.SystemTopic.AGREEMENTS, self.agreements.apply),
            TopicFollower(kafka, topics.SystemTopic.CONSENT, lambda r: self.consent.apply(r.key, r.value)),
            TopicFollower(kafka, topics.SystemTopic.BACKFILL, self.backfills.apply),
        ]
        self._ingress = self._make_ingress(kafka, settings)
        self._admin = make_admin(kafka)
        self._known_topics: set[str] = set()
        self.pipeline: Pipeline | None = None
        self.processed = 0
        self.assignment: set[TopicPartition] = set()
        self._lag_reported = 0.0
        self._in_flight: deque[_InFlight] = deque()
        self._settling = asyncio.Lock()

    def _make_ingress(
        self, kafka: KafkaSettings, settings: ProcessorSettings
    ) -> AtLeastOnceIngress | ExactlyOnceIngress:
        on_kafka = kafka.broker_profile is BrokerProfile.KAFKA
        if settings.exactly_once and not on_kafka:
            raise ConfigError(
                "exactly-once processing needs Apache Kafka's transactions; the embedded broker's are broken",
                hint="unset BUS_PROCESSOR_EXACTLY_ONCE (tansu runs at least once, deduplicated by ce_id)",
            )
        if settings.exactly_once is False or not on_kafka:
            return AtLeastOnceIngress(
                kafka,
                group_id=settings.group_id,
                pattern=settings.topic_pattern,
                max_batch=settings.max_batch,
                before_revoke=self._settle_on_revoke,
            )
        return ExactlyOnceIngress(
            kafka,
            group_id=settings.group_id,
            instance=settings.instance,
            pattern=settings.topic_pattern,
            session_timeout_ms=settings.session_timeout_ms,
            transaction_timeout_ms=settings.transaction_timeout_ms,
        )

    @property
    def exactly_once(self) -> bool:
        return self._ingress.exactly_once

    async def start(self) -> None:
        await self._admin.start()
        await ensure_topics(
            self._admin,
            [topics.spec_for(t) for t in topics.SystemTopic],
            replication_factor=self.kafka.replication_factor,
        )
        self._known_topics = set(await self._admin.list_topics())
        audit_id = SchemaId(await self.registry.register(AUDIT_SUBJECT, json.dumps(AUDIT_SCHEMA)))
        for follower in self._followers:
            await follower.start()
        self._check_registered()
        await self.routes.refresh()
        self.pipeline = Pipeline(
            registry=self.registry,
            verifier=self.verifier,
            routes=self.routes,
            consent=self.consent,
            state=self.state,
            audit_schema_id=audit_id,
        )
        await self._ingress.start()

    def _check_registered(self) -> None:
        """Refuse to start with a key consumers cannot verify: every delivery would be refused."""
        public_key = self.signer.private_key.public_key()
        if self.directory.public_key(PROCESSOR_IDENTITY, self.signer.key_id) is None:
            raise ConfigError(
                f"the processor's signing key {self.signer.key_id} is not registered under "
                f"{PROCESSOR_IDENTITY!r} in the directory, so no consumer could verify its deliveries",
                hint=f"bus agencies add-key {PROCESSOR_IDENTITY} --public-key {public_key_text(public_key)}",
            )

    async def stop(self) -> None:
        closers = [self._ingress.stop, self._admin.close, self.registry.close]
        await close_all([*closers, *(f.stop for f in self._followers)], log, "the processor")

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                if await self._begin() or not self._in_flight:
                    await self.settle(keep=self.settings.max_in_flight - 1)
                else:  # idle: nothing new came in, so finish what is in flight
                    await self.settle()
            await self.settle()
        finally:
            self._abandon()

    async def step(self) -> int:
        """One batch, settled: returns how many input records it processed (0 when idle)."""
        try:
            count = await self._begin()
            await self.settle()
        finally:
            self._abandon()
        return count

    async def _begin(self) -> int:
        """Consume and process one batch and queue its outputs; returns its input record count."""
        assert self.pipeline is not None, "Processor.start() was not awaited"
        batch = await self._ingress.getmany(timeout_ms=100, max_records=self.settings.max_batch)
        assigned = self._ingress.take_assignment()
        if assigned is not None:
            await self.settle()  # (also done on revocation) nothing of the old assignment stays open
            await self._reload_state(assigned)
        records = [r for tp in sorted(batch, key=lambda t: (t.topic, t.partition)) for r in batch[tp]]
        if not records and not self.backfiller.pending(self.assignment):
            return 0
        started = time.perf_counter()
        await self.routes.refresh()
        await self.pipeline.prefetch(records)
        now = utc_now()
        outputs: list[Output] = []
        entries: list[AuditEntry] = []
        process = self.pipeline.process
        for record in records:
            result = process(record, now)
            outputs += result.outputs
            entries += result.audit
        backfill = await self.backfiller.step(self.pipeline, self.assignment, now)  # after live: never ahead
        outputs += backfill.outputs
        entries += backfill.audit
        deliveries = sorted((o for o in outputs if o.topic.startswith(_DELIVERY)), key=lambda o: o.topic)
        sign_deliveries(self.signer, [(o.headers, o.value) for o in deliveries])  # by topic, in chunks
        await self._ensure_topics({o.topic for o in outputs})
        offsets = {tp: records_[-1].offset + 1 for tp, records_ in batch.items() if records_}
        acks = self._ingress.write(outputs, offsets)
        self._in_flight.append(_InFlight(acks, offsets, [r.topic for r in records], entries, started))
        self.processed += len(records)
        return len(records)

    async def settle(self, keep: int = 0) -> None:
        """Wait for the oldest batches' acks and commit their offsets, until ``keep`` remain in flight.

        Finished batches are committed too, so a commit is never later than it needs to be. An
        output that fails raises here, before its batch (or any later one) is committed.
        """
        async with self._settling:
            while self._in_flight and (len(self._in_flight) > keep or self._in_flight[0].acks.done()):
                oldest = self._in_flight[0]
                await oldest.acks
                if oldest.offsets:
                    await self._ingress.commit(oldest.offsets)
                self._in_flight.popleft()
                count_ingested(oldest.records)
                count_decisions(oldest.entries, utc_now())
                PROCESSING.observe(time.perf_counter() - oldest.started)
            await self._report_lag()

    async def _settle_on_revoke(self) -> None:
        """Commit what is in flight before partitions move (unless the loop is settling right now)."""
        if self._settling.locked():
            return  # the loop's own settle commits, or fails and restarts the worker
        try:
            await self.settle()
        except Exception:  # the loop meets the same failure at its next settle and stops
            log.exception("could not settle the batches in flight before a rebalance")

    def _abandon(self) -> None:
        """After a failure: forget batches in flight (never committed; they are processed again)."""
        for pending in self._in_flight:
            pending.acks.cancel()
        self._in_flight.clear()
        self._ingress.abandon()

    async def _report_lag(self) -> None:
        """``bus_consumer_lag`` per ingress topic, at most once a second (positions are local)."""
        if time.monotonic() - self._lag_reported < 1.0:
            return
        self._lag_reported = time.monotonic()
        for topic, behind in (await self._ingress.lag()).items():
            CONSUMER_LAG.labels(group=self.settings.group_id, topic=topic).set(behind)

    async def ready(self) -> tuple[bool, str]:
        """Readiness: the broker answers and this worker holds ingress partitions (if any exist)."""
        await self._admin.describe_cluster()
        if self.assignment:
            return True, f"{len(self.assignment)} ingress partitions assigned"
        pattern = re.compile(self.settings.topic_pattern)
        if not any(pattern.match(t) for t in await self._admin.list_topics()):
            return True, "no ingress topic exists yet"
        return False, f"no ingress partitions assigned yet (group {self.settings.group_id} rebalancing?)"

    async def _reload_state(self, assigned: set[TopicPartition]) -> None:
        """Read back the state partitions that match the newly assigned ingress partitions."""
        self.assignment = assigned
        self.state.clear()
        self.backfiller.reset()
        by_topic: dict[str, set[int]] = {}
        for tp in assigned:
            provider, rtype = tp.topic.split(".")[1:3]
            by_topic.setdefault(topics.state(provider, rtype), set()).add(tp.partition)
        # A crashed worker's open transaction holds the last stable offset back, and state committed
        # after it (by a worker that owned the partition since) is readable only once it ends: wait
        # for it as long as the coordinator takes to abort a worker's transaction that timed out.
        wait_s = 2 * self.settings.transaction_timeout_ms / 1000 + 5 if self.exactly_once else 0.0
        for state_topic, partitions in by_topic.items():
            if state_topic not in self._known_topics:
                continue
            state = iter_to_end(
                self.kafka,
                state_topic,
                partitions=partitions,
                open_transactions_s=wait_s,
                timeout_s=60 + wait_s,
            )
            async for records in state:
                for r in records:
                    self.state.load(
                        state_topic, r.partition, r.key, r.value, [(k, bytes(v)) for k, v in r.headers]
                    )

    async def _ensure_topics(self, names: set[str]) -> None:
        missing = [n for n in names if n not in self._known_topics]
        if missing:
            specs = [topics.spec_for(n) for n in missing]
            await ensure_topics(self._admin, specs, replication_factor=self.kafka.replication_factor)
            self._known_topics.update(missing)
