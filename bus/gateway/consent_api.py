"""The consent wallet API: ``POST /v1/consent`` and ``GET /v1/consent/subjects/{key}``.

A change is checked (IIN check digit, consumer in the directory, a purpose), written to
``bus.consent`` (the processors' source) and answered once the gateway's own view has applied it,
so a read right after a write sees it. Only the portal (and the operator) write: an agency never
grants consent on a citizen's behalf. Reads follow the tracker's rules and are recorded too.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from bus.directory.model import Principal, Role
from bus.directory.view import AgencyDirectory
from bus.errors import BrokerError, RecordInvalidError
from bus.gateway.access import authenticate, read_scope, require_consent_writer
from bus.gateway.consent_writer import send_consent
from bus.gateway.reads import ReadKind, ReadLog
from bus.kafka.client import BROKER_UNREACHABLE
from bus.kafka.follow import TopicFollower
from bus.policy.consent import ConsentRecord, ConsentStatus
from bus.validate.iin import validate_iin
from bus.validate.result import Invalid

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord


class ConsentAction(StrEnum):
    GRANT = "grant"
    REVOKE = "revoke"


class ConsentChannel(StrEnum):
    """Where the person made the decision (kept on the record for the audit trail)."""

    PORTAL = "portal"
    EGOV = "egov"
    MOBILE = "mobile"
    OFFICE = "office"


class ConsentIn(BaseModel):
    """A person's decision: let ``consumer`` use their data for ``purpose`` (grant), or stop (revoke)."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(description="The person's IIN.")
    consumer: str = Field(description="Agency id, as in the directory.")
    purpose: str = Field(max_length=500, description="The agreement's purpose, word for word.")
    action: ConsentAction
    channel: ConsentChannel = ConsentChannel.PORTAL
    valid_until: AwareDatetime | None = Field(
        default=None,
        description="A grant only: the last moment it holds (RFC 3339 with a zone); after it, changes are "
        "refused consent_expired and the wallet drops what it held for this purpose. Omit: until revoked.",
    )


class ConsentState(ConsentRecord):
    """A stored decision plus what it means now: ``expired`` once a grant's ``valid_until`` has passed."""

    state: ConsentStatus

    @classmethod
    def of(cls, record: ConsentRecord, now: dt.datetime) -> ConsentState:
        return cls(**dict(record), state=record.status_at(now))


class ConsentList(BaseModel):
    subject: str
    consents: list[ConsentState] = Field(description="The latest decision per consumer and purpose.")


class ConsentBook:
    """Latest ``ConsentRecord`` per (consumer, purpose), by subject, rebuilt from ``bus.consent``.

    Same rules as the processor's ``ConsentView``: malformed records and records under another
    key are ignored; the change with the later ``time`` wins (a late arrival does not undo).
    """

    def __init__(self) -> None:
        self._by_subject: dict[str, dict[str, ConsentRecord]] = {}

    def apply(self, message: ConsumerRecord[bytes, bytes]) -> None:
        try:
            key = (message.key or b"").decode()
            subject = json.loads(key)[0]
        except (UnicodeDecodeError, ValueError, IndexError, TypeError):
            return
        if not isinstance(subject, str):
            return
        if message.value is None:
            self._by_subject.get(subject, {}).pop(key, None)
            return
        try:
            record = ConsentRecord.model_validate_json(message.value)
        except ValidationError:
            return
        if record.key != key:
            return
        book = self._by_subject.setdefault(subject, {})
        current = book.get(key)
        if current is None or record.time >= current.time:
            book[key] = record

    def of(self, subject: str) -> list[ConsentRecord]:
        return sorted(self._by_subject.get(subject, {}).values(), key=lambda r: (r.consumer, r.purpose))


class ConsentDesk:
    """Checks, writes and lists consent for authenticated principals."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        directory: AgencyDirectory,
        book: ConsentBook,
        follower: TopicFollower,
        reads: ReadLog,
    ) -> None:
        self.directory = directory
        self.book = book
        self.reads = reads
        self._producer = producer
        self._follower = follower

    async def change(self, principal: Principal, request: ConsentIn) -> ConsentRecord:
        require_consent_writer(principal)
        self._check(request)
        record = ConsentRecord(
            subject=request.subject,
            consumer=request.consumer,
            purpose=request.purpose.strip(),
            status=ConsentStatus.GRANTED if request.action is ConsentAction.GRANT else ConsentStatus.REVOKED,
            time=dt.datetime.now(dt.UTC),
            channel=request.channel.value,
            valid_until=request.valid_until,
        )
        try:
            stored = await send_consent(self._producer, record)
        except BROKER_UNREACHABLE as exc:
            raise BrokerError(
                f"cannot write the consent change to bus.consent: {type(exc).__name__}",
                hint="nothing was recorded; retry the same request",
            ) from None
        await self._follower.wait_applied(stored.partition, stored.offset)
        return record

    def _check(self, request: ConsentIn) -> None:
        problems: list[tuple[str, str]] = []
        verdict = validate_iin(request.subject)
        if isinstance(verdict, Invalid):
            problems.append(("subject", verdict.reason))
        entry = self.directory.get(request.consumer)
        if entry is None or entry.role is not Role.AGENCY:
            problems.append(("consumer", f"{request.consumer!r} is not an agency in the directory"))
        if not request.purpose.strip():
            problems.append(("purpose", "must name the agreement's purpose"))
        if request.valid_until is not None:
            if request.action is not ConsentAction.GRANT:
                problems.append(("valid_until", "only a grant has an end; a revoke ends consent at once"))
            elif request.valid_until <= dt.datetime.now(dt.UTC):
                problems.append(("valid_until", "is already past: give a moment in the future"))
        if problems:
            raise RecordInvalidError(
                "the consent change cannot be recorded",
                problems,
                hint="subject is the person's IIN; consumer an agency id (bus agencies list); "
                "purpose the agreement's purpose word for word; valid_until a future time, on grants only",
            )

    async def consents(self, principal: Principal, subject: str) -> list[ConsentRecord]:
        """The subject's consents this principal may see (an agency: those given to it); recorded."""
        scope = read_scope(principal)
        found = [r for r in self.book.of(subject) if scope.everything or r.consumer == scope.agency]
        await self.reads.record(
            principal, subject, ReadKind.CONSENT, filters={"agency": scope.agency}, returned=len(found)
        )
        return found


def router(desk: ConsentDesk) -> APIRouter:
    api = APIRouter(tags=["consent"])

    @api.post("/v1/consent", status_code=201, response_model=ConsentState)
    async def change_consent(request: Request, body: ConsentIn) -> ConsentState:
        """Grant or revoke; portal (or operator) tokens only. Processors apply it to the next event."""
        principal = authenticate(desk.directory, request.headers.get("authorization"), "changing consent")
        return ConsentState.of(await desk.change(principal, body), dt.datetime.now(dt.UTC))

    @api.get("/v1/consent/subjects/{key}", response_model=ConsentList)
    async def list_consents(request: Request, key: str) -> ConsentList:
        """The latest decision per consumer and purpose; unknown key -> empty list."""
        principal = authenticate(desk.directory, request.headers.get("authorization"), "reading consent")
        now = dt.datetime.now(dt.UTC)
        found = await desk.consents(principal, key)
        return ConsentList(subject=key, consents=[ConsentState.of(record, now) for record in found])

    return api
