"""The one world builder of the suite and the bench: agencies, agreements and running parts of a bus.

A ``World`` is one provider (``{label}-{unique}``: its signing key and its ingress topic of person
records) on a bus that is already up (``settings`` for its broker, ``registry_url``, the operator
token), with what every spec and bench builds around it written once: agencies with keys or
tokens, agreements written and revoked, consent, publishing through the SDK, and the components
(processor, archiver, gateway) run as ``bus up`` runs them until the ``async with`` block ends.

It imports no pytest: the bench (``bench/world.py``) builds its providers with it too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import json
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.acl.rules import GATEWAY, Operation
from bus.audit.archive import Archiver, ArchiveSettings
from bus.audit.entry import AUDIT_SCHEMA
from bus.broker.ports import free_port
from bus.directory.keys import ensure_service_key, made_signer
from bus.directory.model import PROCESSOR_IDENTITY, AgencyEntry, Role, WebhookEntry
from bus.directory.publish import put_agency
from bus.directory.tokens import hash_token, new_token
from bus.event.envelope import ChangeKind
from bus.event.serde import unframe
from bus.event.signed_delivery import PROOF_HEADERS, sign_deliveries
from bus.event.signing import key_id_for, public_key_text
from bus.event.topics import SystemTopic, TopicSpec, dlq, spec_for
from bus.gateway.consent_writer import record_consent
from bus.gateway.service import GatewayService, GatewaySettings
from bus.ids import TopicName
from bus.kafka.client import KafkaSettings, create_topics, make_producer, read_to_end
from bus.policy.agreement import Agreement
from bus.policy.consent import ConsentRecord, ConsentStatus
from bus.processor.service import Processor, ProcessorSettings
from bus.registry.client import RegistryClient
from connectors.sdk import Change, Publisher
from tests.support.logins import agency_login, grant, grant_for, may
from tests.support.running import running, serving

TODAY = dt.date.today()
PERSON_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "civil" / "person.avsc"


@functools.cache
def processor_key_file() -> Path:
    """One processor signing key for this test process, registered on each broker a world sets up."""
    return Path(tempfile.mkdtemp(prefix="agency-bus-processor-")) / "processor-key.pem"


Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def processor_signed(records: Sequence[Record]) -> list[Record]:
    """``records`` re-signed as one processor batch with this process's processor key (its old proof
    headers dropped): what the processor would write for these bytes, e.g. after a bug."""
    signed = [(k, v, [(n, h) for n, h in headers if n not in PROOF_HEADERS]) for k, v, headers in records]
    sign_deliveries(made_signer(processor_key_file(), PROCESSOR_IDENTITY), [(h, v) for _, v, h in signed])
    return signed


@dataclass
class World:
    settings: KafkaSettings
    registry_url: str
    operator_token: str
    unique: str
    tmp: Path
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    label: str = "civil"
    admin: KafkaSettings | None = None
    """The broker's super user, to grant a component this world's own topics (None: tansu)."""
    provider_settings: KafkaSettings | None = None
    """The provider's own broker login (``setup``): its publisher logs in with it."""
    logins: dict[str, KafkaSettings] = field(default_factory=dict)
    """Each agency's own broker login (``subscriber_agency``)."""

    @property
    def provider(self) -> str:
        return f"{self.label}-{self.unique}"

    @property
    def topic(self) -> str:
        return f"ingress.{self.provider}.person"

    def consumer(self, name: str) -> str:
        return f"{name}-{self.unique}"

    def agreement(self, name: str, fields: Sequence[str], **overrides: Any) -> Agreement:
        values: dict[str, Any] = {
            "id": f"{name}-{self.unique}",
            "provider": self.provider,
            "consumer": self.consumer(name),
            "record_type": "person",
            "fields": tuple(fields),
            "purpose": f"{name} purpose",
            "legal_basis": f"Law on {name}, Art. 1",
            "valid_from": TODAY - dt.timedelta(days=30),
            "valid_until": TODAY + dt.timedelta(days=365),
            "replaces": f"{name} certificate",
        }
        values.update(overrides)
        return Agreement(**values)

    # -- the directory and the registry ---------------------------------------------------
    async def setup(
        self, register_person: Callable[[str], object] | None = None, *, token: str | None = None
    ) -> None:
        """The provider: its person schema registered (by ``register_person`` when given), its key
        (and ``token``, when it calls the gateway) in the directory, its ingress topic created."""
        if register_person is None:
            async with RegistryClient(self.registry_url, token=self.operator_token) as registry:
                await registry.register(f"{self.topic}-value", PERSON_SCHEMA.read_text())
        else:
            register_person(self.provider)
        await self.add_agency(self.provider, "Civil registry", key=self.key, token=token)
        await ensure_service_key(self.settings, processor_key_file())
        await create_topics(self.settings, [spec_for(self.topic)])
        self.provider_settings = await agency_login(self.settings, self.provider, publishes=True)

    async def add_agency(
        self,
        agency: str,
        name: str,
        *,
        role: Role = Role.AGENCY,
        key: Ed25519PrivateKey | None = None,
        token: str | None = None,
        webhook: WebhookEntry | None = None,
    ) -> None:
        """Put ``agency`` in the directory with the public half of ``key`` and the hash of ``token``."""
        public = {} if key is None else {key_id_for(key.public_key()): public_key_text(key.public_key())}
        tokens = () if token is None else (hash_token(token),)
        entry = AgencyEntry(
            id=agency, name=name, role=role, public_keys=public, token_hashes=tokens, webhook=webhook
        )
        await put_agency(self.settings, entry)

    async def subscriber_agency(self, name: str, *, role: Role = Role.AGENCY) -> str:
        """Register the agency ``{name}-{unique}`` in the directory; returns its new bearer token."""
        token = new_token()
        agency = self.consumer(name)
        await self.add_agency(agency, f"{name} agency", role=role, token=token)
        if role is Role.AGENCY:  # portals and auditors reach the bus over HTTP only
            self.logins[agency] = await agency_login(self.settings, agency)
        return token

    # -- agreements and consent -------------------------------------------------------------
    async def apply(self, *agreements: Agreement, revoke: Sequence[str] = ()) -> None:
        """Write ``agreements`` to bus.agreements and revoke (tombstone) the ids in ``revoke``; the broker
        grants what the written ones imply (a revoked one's grant is removed by the next full reconcile,
        whose specs are tests/security)."""
        producer = make_producer(self.settings)
        await producer.start()
        try:
            for agreement in agreements:
                await producer.send_and_wait(
                    SystemTopic.AGREEMENTS,
                    key=agreement.id.encode(),
                    value=agreement.model_dump_json().encode(),
                )
            for agreement_id in revoke:
                await producer.send_and_wait(SystemTopic.AGREEMENTS, key=agreement_id.encode(), value=None)
        finally:
            await producer.stop()
        await grant_for(self.settings, agreements)  # the grants `bus agreements apply` would add

    async def consent(self, subject: str, consumer: str, purpose: str, status: ConsentStatus) -> None:
        record = ConsentRecord(
            subject=subject, consumer=consumer, purpose=purpose, status=status, time=dt.datetime.now(dt.UTC)
        )
        await record_consent(self.settings, record)

    # -- publishing ----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def publisher(self) -> AsyncIterator[Publisher]:
        """The provider's publisher SDK, spooling under ``tmp``; its spool is drained on exit."""
        async with Publisher(
            self.provider,
            "gbd-fl",
            self.key,
            bootstrap=self.provider_settings or self.settings,
            registry=self.registry_url,
            spool_path=self.tmp / f"{self.provider}.spool.sqlite",
        ) as publisher:
            yield publisher
            await publisher.flush(timeout_s=60)

    async def publish(self, *changes: Change) -> list[str]:
        async with self.publisher() as publisher:
            return await publisher.publish_many(list(changes))

    # -- running parts, each until its block ends ------------------------------------------------
    def processor_settings(self, group: str | None = None) -> ProcessorSettings:
        return ProcessorSettings(
            group_id=group or f"bus-processor-{self.unique}",
            registry_url=self.registry_url,
            operator_token=self.operator_token,
            topic_pattern=rf"^ingress\.{self.provider}\..*",
            signing_key=processor_key_file(),
        )

    @contextlib.asynccontextmanager
    async def processor(self, group: str | None = None) -> AsyncIterator[Processor]:
        """A processor worker reading only this provider's ingress topics."""
        async with running(Processor(self.settings, self.processor_settings(group))) as processor:
            yield processor

    @property
    def audit_key_file(self) -> Path:
        return self.tmp / "audit-key.pem"

    def archive_settings(self, db_url: str, **settings: Any) -> ArchiveSettings:
        """An archiver's settings into ``db_url``; ``settings``: other ``ArchiveSettings`` fields."""
        values: dict[str, Any] = {
            "db_url": db_url,
            "registry_url": self.registry_url,
            "key_file": self.audit_key_file,
            "group_id": f"bus-audit-archiver-{self.unique}",
            **settings,
        }
        return ArchiveSettings(**values)

    @contextlib.asynccontextmanager
    async def archiver(self, db_url: str, **settings: Any) -> AsyncIterator[Archiver]:
        """An audit archiver into ``db_url`` (see ``archive_settings``)."""
        async with running(Archiver(self.settings, self.archive_settings(db_url, **settings))) as archiver:
            yield archiver

    @contextlib.asynccontextmanager
    async def gateway(self, audit_db_url: str, **settings: Any) -> AsyncIterator[GatewayService]:
        """The HTTP gateway on a free port over the archive at ``audit_db_url``, accepting connections."""
        values: dict[str, Any] = {
            "port": free_port(),
            "registry_url": self.registry_url,
            "key_file": self.tmp / "gateway-key.pem",
            "audit_db_url": audit_db_url,
            "reads_topic": f"test-audit-reads-{self.unique}",
            "operator_token": self.operator_token,
            **settings,
        }
        reads = values["reads_topic"]
        if reads != SystemTopic.AUDIT_READS:  # this world's own read log, in place of bus.audit.reads
            await create_topics(self.settings, [TopicSpec(TopicName(reads), 1)])
            await grant(self.admin, may(GATEWAY.principal, Operation.WRITE, reads))
        async with serving(GatewayService(self.settings, GatewaySettings(**values))) as gateway:
            yield gateway

    # -- what came out -------------------------------------------------------------------------
    async def records(self, topic: str) -> list[Any]:
        try:
            return await read_to_end(self.settings, topic)
        except Exception:  # the topic does not exist yet
            return []

    async def deliveries(self, agreement: Agreement) -> list[Any]:
        return await self.records(agreement.delivery_topic)

    async def dead_letters(self) -> list[Any]:
        return await self.records(dlq(self.provider))

    async def audit(self) -> list[dict[str, Any]]:
        parsed = fastavro.parse_schema(AUDIT_SCHEMA)
        entries = []
        for record in await self.records(SystemTopic.AUDIT):
            entry = fastavro.schemaless_reader(io.BytesIO(unframe(record.value)[1]), parsed, None)
            if isinstance(entry, dict) and entry["provider"] == self.provider:
                entries.append(entry)
        return entries


def update(person: dict[str, Any], changed: Sequence[str], **fields: Any) -> Change:
    return Change(ChangeKind.UPDATED, "person", person["iin"], {**person, **fields}, list(changed))


def decode_with(schema_text: str, value: bytes) -> dict[str, Any]:
    record = fastavro.schemaless_reader(
        io.BytesIO(unframe(value)[1]), fastavro.parse_schema(json.loads(schema_text)), None
    )
    assert isinstance(record, dict)
    return record
