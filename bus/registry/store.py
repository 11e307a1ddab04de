"""The registry's storage: the ``bus.schemas`` topic, followed into a ``RegistryState``.

A write returns only after its record is acknowledged *and* applied locally, and after
checking that its claim won (see ``state``); a lost claim is tombstoned and retried.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from aiokafka.errors import KafkaError

from bus.errors import BrokerError
from bus.event.topics import SystemTopic, spec_for
from bus.kafka.client import KafkaSettings, create_topics, make_producer
from bus.kafka.follow import TopicFollower
from bus.registry.compat import CompatibilityLevel, check_compatibility
from bus.registry.errors import (
    IncompatibleSchema,
    InvalidVersion,
    SchemaNotFound,
    StoreError,
    StoreTimeout,
    SubjectConfigNotFound,
    SubjectNotFound,
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotFound,
    VersionNotSoftDeleted,
    VersionSoftDeleted,
)
from bus.registry.schema_text import ParsedSchema, parse_avro
from bus.registry.state import RegistryState, VersionEntry, config_key

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer, ConsumerRecord

_CLAIM_ATTEMPTS = 5


def _dumps(document: dict[str, Any] | None) -> bytes | None:
    return None if document is None else json.dumps(document, separators=(",", ":")).encode()


class SchemaStore:
    """Reads from memory; writes through the log. One instance per registry process."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self.state = RegistryState()
        self._follower = TopicFollower(settings, SystemTopic.SCHEMAS, self._apply)
        self._producer: AIOKafkaProducer | None = None
        self._parsed: dict[str, ParsedSchema] = {}
        self._write_lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return self._follower.caught_up

    async def start(self) -> None:
        await create_topics(self.settings, [spec_for(SystemTopic.SCHEMAS)])
        self._producer = make_producer(self.settings, linger_ms=0)
        await self._producer.start()
        await self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            key = json.loads(record.key) if record.key else {}
            value = json.loads(record.value) if record.value is not None else None
        except ValueError:
            return
        if isinstance(key, dict) and (value is None or isinstance(value, dict)):
            self.state.apply(key, value)

    async def _write(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        assert self._producer is not None, "SchemaStore.start() was not awaited"
        try:
            meta = await self._producer.send_and_wait(
                SystemTopic.SCHEMAS, key=_dumps(key), value=_dumps(value)
            )
        except KafkaError as exc:
            raise StoreError(
                f"writing to {SystemTopic.SCHEMAS} failed: {exc!r}",
                hint="check that the broker is reachable; the request can be retried",
            ) from None
        try:
            await self._follower.wait_applied(meta.partition, meta.offset)
        except BrokerError as exc:
            raise StoreTimeout(exc.message, hint=exc.hint) from None

    # -- reads -----------------------------------------------------------------------
    def parsed(self, entry: VersionEntry) -> ParsedSchema:
        cached = self._parsed.get(entry.fingerprint)
        if cached is None:
            cached = self._parsed[entry.fingerprint] = parse_avro(entry.text, subject=entry.subject)
        return cached

    def live_versions(self, subject: str, *, include_deleted: bool = False) -> list[VersionEntry]:
        """Versions of a subject, or ``SubjectNotFound`` when it has none (visible)."""
        entries = self.state.subject_versions(subject, include_deleted=include_deleted)
        if not entries:
            raise SubjectNotFound(
                f"subject {subject!r} not found",
                hint="list subjects with GET /subjects; register a schema first",
            )
        return entries

    def version(self, subject: str, version: str, *, include_deleted: bool = False) -> VersionEntry:
        entries = self.live_versions(subject, include_deleted=include_deleted)
        if version in ("latest", "-1"):
            return entries[-1]
        number = _version_number(version)
        for entry in entries:
            if entry.version == number:
                return entry
        raise VersionNotFound(
            f"version {number} of subject {subject!r} not found",
            hint=f"existing versions: {[e.version for e in entries]}",
        )

    def schema_text(self, schema_id: int) -> str:
        text = self.state.texts.get(schema_id)
        if text is None:
            raise SchemaNotFound(
                f"schema id {schema_id} not found", hint="ids come from registering a schema"
            )
        return text

    def usages(self, schema_id: int) -> list[VersionEntry]:
        self.schema_text(schema_id)
        return [
            v
            for s in self.state.subjects()
            for v in self.state.subject_versions(s)
            if v.schema_id == schema_id
        ]

    def lookup(self, subject: str, parsed: ParsedSchema, *, include_deleted: bool = False) -> VersionEntry:
        for entry in self.live_versions(subject, include_deleted=include_deleted):
            if entry.fingerprint == parsed.fingerprint:
                return entry
        raise SchemaNotFound(
            f"schema not found under subject {subject!r}",
            hint="register it with POST /subjects/{subject}/versions",
        )

    def subject_level(self, subject: str, *, default_to_global: bool) -> CompatibilityLevel:
        level = self.state.subject_levels.get(subject)
        if level is None:
            if default_to_global:
                return self.state.global_level
            raise SubjectConfigNotFound(
                f"subject {subject!r} has no compatibility level of its own",
                hint="use ?defaultToGlobal=true to see the global level",
            )
        return level

    def compatibility(self, subject: str, parsed: ParsedSchema, version: str | None) -> list[str]:
        """Messages why ``parsed`` is incompatible (empty = compatible); nothing is written."""
        if version is None:
            entries = self.state.subject_versions(subject)
        else:
            entries = [self.version(subject, version)]
        level = self.state.level_for(subject)
        if version is not None and level.endswith("_TRANSITIVE"):
            level = CompatibilityLevel(level.removesuffix("_TRANSITIVE"))
        return check_compatibility(level, parsed, [(e.version, self.parsed(e)) for e in entries])

    # -- writes ----------------------------------------------------------------------
    async def register(self, subject: str, parsed: ParsedSchema) -> VersionEntry:
        """Register (idempotently) and return the version entry that now holds the schema."""
        async with self._write_lock:
            for _ in range(_CLAIM_ATTEMPTS):
                existing = [
                    v for v in self.state.subject_versions(subject) if v.fingerprint == parsed.fingerprint
                ]
                if existing:
                    return existing[0]
                problems = self.compatibility(subject, parsed, None)
                if problems:
                    raise IncompatibleSchema(
                        f"schema for subject {subject!r} is incompatible with an earlier version "
                        f"(level {self.state.level_for(subject)}): " + "; ".join(problems),
                        hint="add defaults to new fields, keep removed fields optional, or change "
                        "the subject's compatibility level",
                    )
                claim = VersionEntry(
                    subject,
                    self.state.next_version(subject),
                    self.state.id_for(parsed.fingerprint),
                    parsed.fingerprint,
                    parsed.text,
                )
                await self._write(claim.key(), claim.value())
                if self.state.versions.get(subject, {}).get(claim.version) == claim:
                    self._parsed[parsed.fingerprint] = parsed
                    return claim
                await self._write(claim.key(), None)  # our claim lost the race: withdraw it
        raise StoreError(
            f"could not register a schema for {subject!r} after {_CLAIM_ATTEMPTS} concurrent attempts",
            hint="another registry instance is writing the same subject; retry",
        )

    async def delete_subject(self, subject: str, *, permanent: bool) -> list[int]:
        async with self._write_lock:
            every = self.live_versions(subject, include_deleted=True)
            live = [v for v in every if not v.deleted]
            if permanent:
                if live:
                    raise SubjectNotSoftDeleted(
                        f"subject {subject!r} must be soft-deleted before it is deleted permanently",
                        hint=f"DELETE /subjects/{subject} first, then with ?permanent=true",
                    )
                for entry in every:
                    await self._write(entry.key(), None)
                return [v.version for v in every]
            if not live:
                raise SubjectSoftDeleted(
                    f"subject {subject!r} was soft-deleted",
                    hint="set permanent=true to delete it permanently",
                )
            for entry in live:
                await self._write(entry.key(), {**entry.value(), "deleted": True})
            return [v.version for v in live]

    async def delete_version(self, subject: str, version: str, *, permanent: bool) -> int:
        async with self._write_lock:
            if version in ("latest", "-1"):
                entry = self.version(subject, version)
            else:
                entry = self.version(subject, version, include_deleted=True)
            if permanent:
                if not entry.deleted:
                    raise VersionNotSoftDeleted(
                        f"version {entry.version} of {subject!r} must be soft-deleted first",
                        hint="delete it without permanent=true first",
                    )
                await self._write(entry.key(), None)
            else:
                if entry.deleted:
                    raise VersionSoftDeleted(
                        f"version {entry.version} of {subject!r} was soft-deleted",
                        hint="set permanent=true to delete it permanently",
                    )
                await self._write(entry.key(), {**entry.value(), "deleted": True})
            return entry.version

    async def set_level(self, subject: str | None, level: CompatibilityLevel) -> None:
        async with self._write_lock:
            await self._write(config_key(subject), {"compatibilityLevel": level.value})

    async def delete_level(self, subject: str) -> CompatibilityLevel:
        async with self._write_lock:
            previous = self.subject_level(subject, default_to_global=False)
            await self._write(config_key(subject), None)
            return previous


def _version_number(version: str) -> int:
    try:
        number = int(version)
    except ValueError:
        number = 0
    if number < 1 or number > 2**31 - 1:
        raise InvalidVersion(
            f"version {version!r} is not valid",
            hint="use a positive integer or 'latest'",
        )
    return number
