"""The one place that builds Kafka clients, per broker profile (DESIGN §7).

``embedded`` is the tansu broker on one machine: acks=all but no idempotence or
transactions (its InitProducerId is broken) and short waits (it does not wake a
waiting fetch). ``kafka`` is an Apache Kafka cluster: idempotent producers, SASL/TLS.
Correctness never depends on either profile: every stage deduplicates on ``ce_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    TopicAlreadyExistsError,
    for_code,
)
from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bus.errors import BrokerError, BusError
from bus.event.topics import SystemTopic, TopicSpec, spec_for
from bus.ids import TopicName
from bus.kafka.keyring import read_keyring

log = logging.getLogger(__name__)

BROKER_UNREACHABLE: tuple[type[Exception], ...] = (KafkaError, OSError, TimeoutError)
"""What a send or fetch raises when the broker is away (retriable); anything else is a bug, not caught."""


MAX_REQUEST_BYTES = 1 << 20
"""Producers' ``max_request_size`` (aiokafka's default, set explicitly): no one record may be larger."""

IDLE_AFTER_S = 5.0
"""A consumer that has fetched nothing for this long switches to its idle fetch wait (issue #25)."""

CLUSTER_RF = -1
"""Replication factor "as the cluster allows": 3, or the number of brokers when fewer (see ensure_topics)."""


class BrokerProfile(StrEnum):
    EMBEDDED = "embedded"
    KAFKA = "kafka"


class KafkaSettings(BaseSettings):
    """Where the broker is and how to talk to it; read from ``BUS_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="BUS_", extra="forbid", frozen=True)

    bootstrap: str
    broker_profile: BrokerProfile = BrokerProfile.KAFKA
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    keyring: Path | None = None
    """A local cluster's keyring (``bus up`` prints it): logs in as its default user (the operator)
    unless a user is given, and lets each component log in as itself (``acting_as``)."""
    client_id: str = "agency-bus"
    # Producer batch compression. "none" by default: lz4/zstd need the ``cramjam`` package, and on
    # the embedded broker (loopback) they cost CPU for no network gain (bench/: compression).
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none"

    @model_validator(mode="after")
    def _log_in_from_keyring(self) -> KafkaSettings:
        if self.keyring is None or self.sasl_username is not None:
            return self
        found = read_keyring(self.keyring)
        login = {
            "security_protocol": found.security_protocol,
            "sasl_mechanism": found.sasl_mechanism,
            "ssl_cafile": found.ssl_cafile,
            "sasl_username": found.default_user,
            "sasl_password": found.password(found.default_user, path=self.keyring),
        }
        for name, value in login.items():
            object.__setattr__(self, name, value)
        return self

    def acting_as(self, user: str) -> KafkaSettings:
        """These settings logged in as ``user`` from the keyring; unchanged without a keyring.

        Every bus service calls this with its own principal, so on ``bus up`` and in the test suite each
        runs with exactly its own ACLs; a production deployment gives each service its own
        ``BUS_SASL_USERNAME``/``BUS_SASL_PASSWORD`` instead and has no keyring.
        """
        if self.keyring is None:
            return self
        return self.logged_in(user, read_keyring(self.keyring).password(user, path=self.keyring))

    def logged_in(self, user: str, password: SecretStr | str) -> KafkaSettings:
        """The same broker under another SASL/SCRAM login (an agency's, or a service's), without the
        keyring: a login made for one user never switches to another."""
        secret = password if isinstance(password, SecretStr) else SecretStr(password)
        protocol = self.security_protocol
        if protocol in ("PLAINTEXT", "SSL"):
            protocol = "SASL_SSL" if protocol == "SSL" else "SASL_PLAINTEXT"
        return self.model_copy(
            update={
                "security_protocol": protocol,
                "sasl_mechanism": self.sasl_mechanism or "SCRAM-SHA-512",
                "sasl_username": user,
                "sasl_password": secret,
                "keyring": None,
            }
        )

    @property
    def authenticates(self) -> bool:
        """True when the broker knows who this client is (SASL), so ACLs, not tokens, decide."""
        return self.sasl_mechanism is not None

    @property
    def replication_factor(self) -> int:
        """RF for new topics: 1 on tansu (one node); on Kafka ``CLUSTER_RF``, i.e. 3, or the node
        count on a smaller cluster (a local single node)."""
        return 1 if self.broker_profile is BrokerProfile.EMBEDDED else CLUSTER_RF


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """The partitions of ``topic`` from fresh metadata (empty when it does not exist).

    ``consumer.topics()`` fetches metadata without updating the cache ``partitions_for_topic`` reads,
    so on Kafka a topic created a moment ago looked absent (a private call).
    """
    await consumer._client.force_metadata_update()
    return set(consumer.partitions_for_topic(topic) or ())


async def resume_after(
    consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition], last: Mapping[int, int]
) -> None:
    """Seek each partition just after its ``last`` stored offset, or to its beginning if it has none:
    an archive's resume point is its database, not the committed offsets."""
    for tp in partitions:
        offset = last.get(tp.partition)
        if offset is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, offset + 1)


def _common(settings: KafkaSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap,
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.ssl_cafile) if settings.ssl_cafile else None
        config["ssl_context"] = create_ssl_context(cafile=cafile)
    if settings.sasl_mechanism:
        config["sasl_mechanism"] = settings.sasl_mechanism
        config["sasl_plain_username"] = settings.sasl_username
        password = settings.sasl_password
        config["sasl_plain_password"] = password.get_secret_value() if password else None
    return config


def librdkafka_config(settings: KafkaSettings) -> dict[str, Any]:
    """The same connection for a librdkafka (``confluent_kafka``) client: the admin API for ACLs and
    SCRAM users, which aiokafka lacks."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap,
        "client.id": settings.client_id,
        "security.protocol": settings.security_protocol.lower(),
        "log_level": 4,  # warnings and worse; librdkafka's info lines (queue purges at close) are noise
    }
    if settings.ssl_cafile is not None:
        config["ssl.ca.location"] = str(settings.ssl_cafile)
    if settings.sasl_mechanism:
        config["sasl.mechanism"] = settings.sasl_mechanism
        config["sasl.username"] = settings.sasl_username or ""
        password = settings.sasl_password
        config["sasl.password"] = password.get_secret_value() if password else ""
    return config


def producer_config(settings: KafkaSettings) -> dict[str, Any]:
    """acks=all always; idempotence only where the broker supports it; batches of up to 256 KiB."""
    config = {
        **_common(settings),
        "acks": "all",
        "enable_idempotence": settings.broker_profile is BrokerProfile.KAFKA,
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "max_request_size": MAX_REQUEST_BYTES,
    }
    if settings.compression != "none":
        config["compression_type"] = settings.compression
    return config


def consumer_config(settings: KafkaSettings) -> dict[str, Any]:
    """Manual commits, earliest reset, and short waits on the embedded broker."""
    embedded = settings.broker_profile is BrokerProfile.EMBEDDED
    return {
        **_common(settings),
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": 6000 if embedded else 10000,
        "heartbeat_interval_ms": 500 if embedded else 1000,
        # tansu does not hold a waiting fetch, so waits are short there; Kafka answers a waiting
        # fetch as soon as data arrives, so a long wait costs no latency and saves idle CPU
        "fetch_max_wait_ms": 20 if embedded else 500,
        # on Kafka a reader never sees a record of an aborted or still open transaction; tansu's
        # transactions are broken (DESIGN §7), so there nothing is transactional to hide
        "isolation_level": "read_uncommitted" if embedded else "read_committed",
    }


def idle_fetch_wait_ms(settings: KafkaSettings) -> int:
    """The fetch wait of a consumer idle for ``IDLE_AFTER_S``: 25x fewer empty fetches.

    On Kafka a waiting fetch returns as soon as data arrives, so this costs no latency. tansu holds
    every fetch for its full wait, so there the first record after a quiet spell waits up to this.
    """
    return 500 if settings.broker_profile is BrokerProfile.EMBEDDED else 5000


def make_producer(settings: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    return _Producer(**{**producer_config(settings), **overrides})


class _Producer(AIOKafkaProducer):  # type: ignore[misc]
    """A producer whose start names the fix when an idempotent producer cannot get a producer id.

    The ``kafka`` profile's idempotent producer asks the broker for a producer id (InitProducerId);
    the embedded tansu broker answers that with an error aiokafka reports as ``UnknownError``, which
    told a user nothing (issue #25). Every command and component builds its producer here, so each
    now says what the failure is and what to set.
    """

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self._bootstrap = str(config["bootstrap_servers"])
        self._idempotent = bool(config.get("enable_idempotence"))

    async def start(self) -> None:
        try:
            await super().start()
        except (KafkaConnectionError, KafkaTimeoutError):
            await self.stop()
            raise  # unreachable: as_bus_error names the address
        except KafkaError as exc:
            await self.stop()
            if not self._idempotent:  # nothing to add to the broker's own word
                raise
            raise BrokerError(
                f"the broker at {self._bootstrap} cannot start an idempotent producer (the 'kafka' broker "
                f"profile): its InitProducerId answer was {type(exc).__name__}: {exc}. The embedded "
                "tansu broker (`bus broker up`, `bus up --engine tansu`) gives no producer ids",
                hint="against the embedded broker set BUS_BROKER_PROFILE=embedded (or pass --profile "
                "embedded); against Apache Kafka check that this principal may IdempotentWrite on the "
                "cluster and see the broker logs",
                retriable=False,
            ) from None


def make_consumer(
    settings: KafkaSettings, *topics: str, group_id: str | None = None, **overrides: Any
) -> AIOKafkaConsumer:
    config = {**consumer_config(settings), **overrides}
    return _Consumer(*topics, group_id=group_id, idle_fetch_wait_ms=idle_fetch_wait_ms(settings), **config)


class _Consumer(AIOKafkaConsumer):  # type: ignore[misc]
    """A consumer that waits longer per fetch when idle, and leaves its group on ``stop()`` from
    generation 0 too.

    An idle ``bus up`` runs ~30 consumers, each sending an empty fetch per wait; after
    ``IDLE_AFTER_S`` with no records they wait ``idle_fetch_wait_ms`` instead, and the first batch
    of records brings the short wait back (issue #25). tansu numbers a group's first generation 0
    and aiokafka leaves a group only from generation 1, so a stopped member stayed in the group and
    its successor waited for its session to expire (~6 s more per restart).
    """

    def __init__(self, *topics: str, idle_fetch_wait_ms: int, **config: Any) -> None:
        super().__init__(*topics, **config)
        self._busy_fetch_wait_ms = int(config["fetch_max_wait_ms"])
        self._idle_fetch_wait_ms = max(idle_fetch_wait_ms, self._busy_fetch_wait_ms)
        self._last_records = time.monotonic()

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = await super().getmany(
            *partitions, timeout_ms=timeout_ms, max_records=max_records
        )
        now = time.monotonic()
        if batch:
            self._last_records = now
            self._set_fetch_wait(self._busy_fetch_wait_ms)
        elif now - self._last_records >= IDLE_AFTER_S:
            self._set_fetch_wait(self._idle_fetch_wait_ms)
        return batch

    def _set_fetch_wait(self, wait_ms: int) -> None:
        # aiokafka reads the wait from its fetcher for every request it builds; it has no public setter
        fetcher = getattr(self, "_fetcher", None)
        if fetcher is not None:
            fetcher._fetch_max_wait_ms = wait_ms

    async def start(self) -> None:
        await super().start()
        coordinator = getattr(self, "_coordinator", None)
        if not isinstance(coordinator, GroupCoordinator):  # no group: nothing to leave
            return
        leave = coordinator._maybe_leave_group

        async def leave_from_generation_zero() -> None:
            # called by close() once heartbeats and the coordination task have stopped
            if coordinator.generation == 0 and coordinator.member_id:
                coordinator.generation = 1  # the LeaveGroup request itself carries no generation
            await leave()

        coordinator._maybe_leave_group = leave_from_generation_zero

    async def stop(self) -> None:
        """aiokafka's ``stop`` cancels its in-flight fetches and awaits each one unguarded
        (aio-libs/aiokafka#647): with the broker away, a fetch cancelled during its retry back-off
        re-raises the ``CancelledError``, and the rest of ``stop`` (the other fetches, the
        connections, the metadata task) never runs. That rest is done here; a cancellation of the
        caller itself is passed on."""
        try:
            await super().stop()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            fetcher = getattr(self, "_fetcher", None)
            pending = [t for t in getattr(fetcher, "_pending_tasks", ()) if not t.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self._client.close()


@contextlib.contextmanager
def replayed_on_failure(
    consumer: AIOKafkaConsumer, batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
) -> Iterator[None]:
    """If handling a fetched batch fails, seek its partitions back so the next ``getmany`` returns it.

    ``getmany`` moves the position past what it returned: a step that fails after it and is retried
    would otherwise go on with the next records and silently skip this batch.
    """
    try:
        yield
    except BaseException:
        for tp, records in batch.items():
            if records:
                consumer.seek(tp, records[0].offset)
        raise


def make_admin(settings: KafkaSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**_common(settings))


async def iter_to_end(
    settings: KafkaSettings,
    topic: str,
    *,
    timeout_s: float = 60.0,
    partitions: Collection[int] | None = None,
    open_transactions_s: float = 0.0,
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Yield every record of ``topic`` from the beginning up to its current end.

    "The end" is the high watermark that each Fetch response reports, never
    ListOffsets(LATEST): the embedded broker answers that one wrongly (DESIGN §7). Read committed it
    is the last stable offset; with ``open_transactions_s`` a transaction still open there is waited
    for up to that long, since records committed after it are only readable once it ends (a
    processor's state must include them: a crashed worker's transaction stays open until it times out).
    """
    topic = str(topic)  # a SystemTopic member would print as its repr in messages
    # a short wait: the reader wants "now", and on Kafka an empty partition's fetch would otherwise be
    # held for the full wait before its high watermark is known
    consumer = make_consumer(settings, fetch_max_wait_ms=10)
    await consumer.start()
    try:
        existing = await topic_partitions(consumer, topic)
        if not existing:
            raise topic_not_found(settings, topic)
        wanted = existing if partitions is None else existing & set(partitions)
        pending = {TopicPartition(topic, p) for p in wanted}
        if not pending:
            return
        consumer.assign(sorted(pending))
        await consumer.seek_to_beginning(*pending)
        started = time.monotonic()
        deadline = started + timeout_s
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=100)
            for records in batch.values():
                if records:
                    yield records
            waiting = time.monotonic() - started < open_transactions_s
            for tp in list(pending):
                if not await reached_end(consumer, [tp]):
                    continue
                if open_transactions_s and await _open_transaction(consumer, tp):
                    if waiting:
                        continue
                    log.warning(
                        "%s[%d]: a transaction still open after %.0f s; read up to where it begins",
                        topic, tp.partition, open_transactions_s,
                    )  # fmt: skip
                pending.discard(tp)
            if pending and time.monotonic() > deadline:
                raise BrokerError(
                    f"reading {topic!r} to its end took longer than {timeout_s:.0f} s; "
                    f"partitions still behind: {sorted(tp.partition for tp in pending)}",
                    hint="check that the broker is healthy, or raise the timeout",
                )
    finally:
        await consumer.stop()


async def _open_transaction(consumer: AIOKafkaConsumer, tp: TopicPartition) -> bool:
    """A read_committed consumer at the last stable offset, below the high watermark: a transaction
    (or its end marker) lies ahead."""
    highwater = consumer.highwater(tp)
    return highwater is not None and await consumer.position(tp) < highwater


async def reached_end(consumer: AIOKafkaConsumer, partitions: Collection[TopicPartition]) -> bool:
    """Every partition's position has reached the end its last Fetch reported: the high watermark, or
    for a read_committed consumer the last stable offset (what lies past it is an open transaction's)."""
    committed = getattr(consumer, "_isolation_level", None) == "read_committed"
    for tp in partitions:
        end = consumer.last_stable_offset(tp) if committed else consumer.highwater(tp)
        if end is None or end < 0 or await consumer.position(tp) < end:
            return False
    return True


async def read_to_end(
    settings: KafkaSettings, topic: str, *, timeout_s: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a (small, e.g. compacted control) topic, in per-partition order."""
    return [r async for batch in iter_to_end(settings, topic, timeout_s=timeout_s) for r in batch]


def topic_not_found(settings: KafkaSettings, topic: str) -> BusError:
    """A topic the metadata does not list: absent, or (where the broker authorises) not ours to see;
    Kafka leaves both out of the metadata alike."""
    hidden = f", or {settings.sasl_username} may not see it" if settings.authenticates else ""
    grants = "; `bus acl diff` shows what the broker grants" if settings.authenticates else ""
    return BrokerError(
        f"topic {topic!r} does not exist on {settings.bootstrap}{hidden}",
        hint=f"create it first: bus topics create {topic}{grants}",
        retriable=False,
    )


def as_bus_error(exc: KafkaError, *, bootstrap: str = "the broker") -> BusError:
    """Translate an aiokafka error into a bus error a user can act on (the one place)."""
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError):
        return BrokerError(
            f"cannot reach the Kafka broker at {bootstrap}: {exc}",
            hint="check --bootstrap / BUS_BOOTSTRAP and that the broker is running (`bus broker status`)",
        )
    return BrokerError(
        f"the broker refused the request: {type(exc).__name__}: {exc}",
        hint="see the broker logs; the operation can be retried when the cause is fixed",
        retriable=bool(getattr(exc, "retriable", False)),
    )


async def ensure_topics(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], *, replication_factor: int
) -> list[TopicName]:
    """Create the topics that do not exist yet; return the names actually created.

    Idempotent: existing topics are left untouched (their configs are not altered,
    which the embedded broker could not do anyway).
    """
    existing = set(await admin.list_topics())
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    if replication_factor == CLUSTER_RF:
        brokers = len((await admin.describe_cluster())["brokers"])
        replication_factor = max(1, min(3, brokers))
    new = [NewTopic(s.name, s.partitions, replication_factor, topic_configs=s.configs) for s in missing]
    response = await admin.create_topics(new)
    created: list[TopicName] = []
    for result in response.to_object()["topic_errors"]:
        error = for_code(result["error_code"])
        if result["error_code"] == 0:
            created.append(TopicName(result["topic"]))
        elif error is not TopicAlreadyExistsError:
            raise BrokerError(
                f"creating topic {result['topic']!r} failed: {error.__name__}: "
                f"{result.get('error_message') or 'no detail from broker'}",
                hint="check the broker logs and that this principal may create topics",
            )
    await _wait_for_leaders(admin, created)
    return created


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[TopicName], timeout_s: float = 30.0
) -> None:
    """Kafka answers CreateTopics before the new partitions have leaders; a client that asks for
    metadata at once would not see them yet (tansu has them at once)."""
    deadline = time.monotonic() + timeout_s
    waiting = list(names)
    while waiting and time.monotonic() < deadline:
        described = await admin.describe_topics(waiting)
        waiting = [
            TopicName(t["topic"])
            for t in described
            if t["error_code"] or not t["partitions"] or any(p["leader"] < 0 for p in t["partitions"])
        ]
        if waiting:
            await asyncio.sleep(0.05)
    if waiting:
        raise BrokerError(
            f"topics {', '.join(waiting)} were created but have no partition leaders after {timeout_s:.0f} s",
            hint="check that every broker of the cluster is up",
        )


async def create_system_topics(settings: KafkaSettings) -> list[TopicName]:
    """The ``bus.*`` topics every component expects (``bus up`` and test/bench set-ups create them first)."""
    return await create_topics(settings, [spec_for(t) for t in SystemTopic])


async def create_topics(settings: KafkaSettings, specs: list[TopicSpec]) -> list[TopicName]:
    """``ensure_topics`` with an admin client of its own (for callers that have none open)."""
    admin = make_admin(settings)
    await admin.start()
    try:
        return await ensure_topics(admin, specs, replication_factor=settings.replication_factor)
    finally:
        await admin.close()
