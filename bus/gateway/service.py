"""The gateway as a long-running component: directory and consent views, schema cache, producer, HTTP."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bus.acl.rules import GATEWAY
from bus.audit.archive import DEFAULT_DB_URL
from bus.catalogue.asyncapi import Server
from bus.directory.view import AgencyDirectory
from bus.event.signed_event import Signer
from bus.event.signing import private_key_from_pem, private_key_pem
from bus.event.topics import SystemTopic, spec_for
from bus.gateway.app import create_app
from bus.gateway.catalogue import CatalogueDesk
from bus.gateway.consent_api import ConsentBook, ConsentDesk
from bus.gateway.ingest import Ingestor
from bus.gateway.ratelimit import RateLimiter
from bus.gateway.reads import READS_TOPIC, ReadLog, reads_spec
from bus.gateway.reports import Reports
from bus.gateway.tracker import ArchiveReader, Tracker
from bus.gateway.wallet import Wallet
from bus.http.server import serve_app
from bus.kafka.client import KafkaSettings, create_topics, make_producer
from bus.kafka.follow import TopicFollower
from bus.kafka.record_size import RecordLimits
from bus.policy.agreements_view import AgreementsView
from bus.registry.client import RegistryClient
from bus.registry.subjects import SchemaCache
from bus.run.environment import OperatorToken
from bus.wallet.token import load_or_create_secret


class GatewaySettings(BaseSettings):
    """``BUS_GATEWAY_*`` settings; the operator token is ``BUS_OPERATOR_TOKEN``."""

    model_config = SettingsConfigDict(
        env_prefix="BUS_GATEWAY_", extra="forbid", frozen=True, populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    registry_url: str = "http://127.0.0.1:8081"
    key_file: Path = Path("bus-data/gateway-key.pem")
    max_body_bytes: int = Field(default=4 << 20, ge=1024)
    audit_db_url: str = Field(
        default=DEFAULT_DB_URL, description="The archive the tracker reads (read access is enough)."
    )
    reads_topic: str = Field(default=READS_TOPIC, description="Where every tracker read is recorded.")
    operator_token: OperatorToken = None
    ingest_rate_per_s: float = Field(
        default=1000.0, ge=0, description="Events per second one agency may ingest (0 = unlimited)."
    )
    ingest_burst: int = Field(default=2000, ge=1, description="Events an agency may send at once.")
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="Longest a client may take to send a request body (slow bodies: 408)."
    )
    public_bootstrap: str | None = Field(
        default=None,
        description="The Kafka address agencies connect to, for AsyncAPI documents (default: the bootstrap "
        "the gateway itself uses).",
    )
    public_registry_url: str | None = Field(
        default=None, description="The registry address agencies use (default: registry_url)."
    )
    wallet_secret_file: Path | None = Field(
        default=None,
        description="HMAC secret of citizens' wallet tokens (created if missing); unset = a random one "
        "per process, so tokens die with it. Replicas behind one address must share the file.",
    )


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The gateway's signing key, created (mode 0600) on first start."""
    if path.exists():
        return private_key_from_pem(path.read_bytes())
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(private_key_pem(key))
    return key


class GatewayService:
    def __init__(self, kafka: KafkaSettings, settings: GatewaySettings) -> None:
        self.kafka = kafka = kafka.acting_as(GATEWAY.user)
        self.settings = settings
        self.signer = Signer.of(load_or_create_key(settings.key_file))
        self.directory = AgencyDirectory(settings.operator_token)
        self._agencies = self.directory.follower(kafka)
        self._registry = RegistryClient(settings.registry_url)
        self._producer = make_producer(kafka)
        self.limiter = RateLimiter(settings.ingest_rate_per_s, settings.ingest_burst)
        self.ingestor = Ingestor(
            SchemaCache(self._registry), self.signer, self._producer, RecordLimits(kafka)
        )
        self.archive = ArchiveReader(settings.audit_db_url)
        reads = ReadLog(self._producer, settings.reads_topic)
        self.tracker = Tracker(self.archive, self.directory, reads)
        self.consent = ConsentBook()
        self._consents = TopicFollower(kafka, SystemTopic.CONSENT, self.consent.apply)
        self.desk = ConsentDesk(self._producer, self.directory, self.consent, self._consents, reads)
        self.agreements = AgreementsView()
        self._agreements = TopicFollower(kafka, SystemTopic.AGREEMENTS, self.agreements.apply)
        self.reports = Reports(self.archive, self.directory, self.agreements)
        server = Server(
            bootstrap=settings.public_bootstrap or kafka.bootstrap,
            registry_url=settings.public_registry_url or settings.registry_url,
            security_protocol=kafka.security_protocol,
            sasl_mechanism=kafka.sasl_mechanism,
        )
        self.catalogue = CatalogueDesk(self._registry, self.agreements, self.directory, server)
        secret = load_or_create_secret(settings.wallet_secret_file) if settings.wallet_secret_file else None
        self.wallet = Wallet(self.archive, self.directory, reads, secret or secrets.token_bytes(32))

    async def start(self) -> None:
        await create_topics(
            self.kafka,
            [
                spec_for(SystemTopic.CONSENT),
                spec_for(SystemTopic.AGREEMENTS),
                reads_spec(self.settings.reads_topic),
            ],
        )
        await self._producer.start()
        await self._agencies.start()
        await self._consents.start()
        await self._agreements.start()

    async def stop(self) -> None:
        await self._agreements.stop()
        await self._consents.stop()
        await self._agencies.stop()
        await self._producer.stop()
        await self._registry.close()
        await asyncio.to_thread(self.archive.close)

    def app(self) -> FastAPI:
        return create_app(
            self.ingestor,
            self.directory,
            max_body_bytes=self.settings.max_body_bytes,
            tracker_api=self.tracker,
            consent_desk=self.desk,
            checks={"directory": self._views_ready},
            reports_api=self.reports,
            wallet_api=self.wallet,
            limiter=self.limiter,
            catalogue_desk=self.catalogue,
        )

    async def _views_ready(self) -> tuple[bool, str]:
        """Ready once the directory (tokens) and consent views have read their topics to the end."""
        if self._agencies.caught_up and self._consents.caught_up:
            return True, "bus.agencies and bus.consent read to their end"
        return False, "still reading bus.agencies / bus.consent"

    async def serve(self, stop: asyncio.Event, on_started: Callable[[], None] | None = None) -> None:
        await serve_app(
            self.app(),
            host=self.settings.host,
            port=self.settings.port,
            stop=stop,
            on_started=on_started,
            body_timeout_s=self.settings.body_timeout_s,
        )
