"""HTTP ingestion: ``POST /v1/events/{record_type}`` and ``POST /v1/events:batch``.

For legacy systems that cannot run the Python SDK. The gateway validates with the SDK's own
preparation (``bus.ingest.prepare``), signs server-side with its own key (registered under each
HTTP-ingesting agency, see docs/ingestion.md for the trade-off) and answers after the broker's ack.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError
from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bus.directory.model import Principal, Role
from bus.directory.view import AgencyDirectory
from bus.errors import BusError, RecordTooLargeError
from bus.event.envelope import ChangeKind
from bus.event.signed_event import Draft, Signer, composed_headers
from bus.gateway.errors import NotAllowed, NotAuthenticated, error_body, status_of
from bus.gateway.idempotency import IdempotencyCache, event_id_for
from bus.gateway.ratelimit import RateLimiter
from bus.ingest.prepare import Preparation, Prepared
from bus.kafka.client import as_bus_error
from bus.kafka.record_size import RecordLimits, record_bytes
from bus.registry.subjects import SchemaCache

MAX_BATCH = 1000
SYSTEM = "http-gateway"


class EventIn(BaseModel):
    """One change in a batch request."""

    model_config = ConfigDict(extra="forbid")

    record_type: str
    kind: ChangeKind = ChangeKind.UPDATED
    key: str | None = Field(
        default=None, description="Record key; defaults to the record's identifier field."
    )
    record: dict[str, Any] | None = None
    changed: list[str] | None = None
    idempotency_key: str | None = Field(default=None, max_length=200)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(max_length=MAX_BATCH)


class Accepted(BaseModel):
    event_id: str
    topic: str
    key: str
    sequence: int


class Sequencer:
    """``bus_sequence`` for gateway events: per key, increasing, never behind the clock (µs)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], int] = {}

    def next(self, agency: str, key: str) -> int:
        value = max(self._last.get((agency, key), 0) + 1, time.time_ns() // 1000)
        self._last[(agency, key)] = value
        return value


class Ingestor:
    """Validate, sign and produce changes on behalf of authenticated agencies."""

    def __init__(
        self, schemas: SchemaCache, signer: Signer, producer: AIOKafkaProducer, limits: RecordLimits
    ) -> None:
        self._schemas = schemas
        self._preparation = Preparation(schemas)
        self._signer = signer
        self._producer = producer
        self._limits = limits
        self._sequencer = Sequencer()
        self.idempotency = IdempotencyCache()

    async def ingest(self, agency: str, items: Sequence[EventIn]) -> list[Accepted | BusError]:
        """One result per item, in order; valid items are produced even if others are not.

        Each record is checked against the largest record its topic takes before anything is sent,
        so no produce request fails for its size; each result is that record's own acknowledgement.
        """
        prepared: list[tuple[EventIn, Prepared] | BusError] = []
        for item in items:
            try:
                prepared.append(await self._prepare(agency, item))
            except BusError as exc:
                prepared.append(exc)
        good = [p for p in prepared if not isinstance(p, BusError)]
        drafts = [
            Draft(
                item.kind,
                p.schema.record_name,
                p.key,
                p.value,
                self._sequencer.next(agency, p.key),
                item.changed,
                event_id=event_id_for(agency, item.idempotency_key) if item.idempotency_key else None,
            )
            for item, p in good
        ]
        composed = composed_headers(agency, SYSTEM, self._signer, drafts) if drafts else []
        sent = [await self._send(p, headers) for (_, p), (_, headers) in zip(good, composed, strict=True)]
        acks = [await self._acknowledged(p, outcome) for (_, p), outcome in zip(good, sent, strict=True)]
        accepted = iter(
            ack or Accepted(event_id=event_id, topic=p.schema.topic, key=p.key, sequence=d.sequence or 0)
            for (_, p), (event_id, _), d, ack in zip(good, composed, drafts, acks, strict=True)
        )
        return [p if isinstance(p, BusError) else next(accepted) for p in prepared]

    async def _send(
        self, ready: Prepared, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[object] | BusError:
        """Queue one record, or say why not: too large for its topic, or refused by the producer."""
        topic, key = ready.schema.topic, ready.key.encode()
        size, limit = record_bytes(key, ready.value, headers), await self._limits.limit(topic)
        if size > limit:
            return ready.too_large(
                size,
                limit,
                nothing_sent="nothing of this record was published",
                ask=f", or ask the bus operator to raise max.message.bytes of {topic} (the limit is the "
                "smaller of the producer's max_request_size and the topic's max.message.bytes)",
            )
        try:
            future: asyncio.Future[object] = await self._producer.send(
                topic, key=key, value=ready.value, headers=headers
            )
        except KafkaError as exc:
            return self._refused(ready, exc)
        return future

    async def _acknowledged(
        self, ready: Prepared, sent: asyncio.Future[object] | BusError
    ) -> BusError | None:
        """None once the broker acknowledged the record; else the error that says why it did not."""
        if isinstance(sent, BusError):
            return sent
        try:
            await sent
        except KafkaError as exc:
            return self._refused(ready, exc)
        return None

    def _refused(self, ready: Prepared, exc: KafkaError) -> BusError:
        topic = ready.schema.topic
        if isinstance(exc, MessageSizeTooLargeError | RecordListTooLargeError):
            return RecordTooLargeError(
                f"the broker refused the {ready.schema.record_name} record with key {ready.key!r} "
                f"for topic {topic!r} as too large: {exc}",
                hint=f"nothing of this record was published; ask the bus operator for {topic}'s "
                "max.message.bytes and send large content by reference",
            )
        return as_bus_error(exc)

    async def _prepare(self, agency: str, item: EventIn) -> tuple[EventIn, Prepared]:
        key = item.key
        if key is None:  # the record's identifier field names it, once the schema says which field that is
            key_field = (await self._schemas.resolve(agency, item.record_type)).key_field
            key = str(item.record.get(key_field, "")) if item.record and key_field else ""
        return item, await self._preparation.prepare(agency, item.record_type, item.kind, key, item.record)


def publisher(directory: AgencyDirectory, authorization: str | None) -> str:
    """The agency a request publishes for; only agency tokens may publish."""
    principal: Principal | None = directory.authenticate(authorization)
    if principal is None:
        raise NotAuthenticated(
            "publishing needs an agency token",
            hint="send 'Authorization: Bearer <token>' (bus agencies add prints it)",
        )
    if principal.role is not Role.AGENCY or principal.agency is None:
        raise NotAllowed(
            f"{principal.label!r} may not publish record changes",
            hint="only an agency publishes, and only its own records",
        )
    return principal.agency


def router(ingestor: Ingestor, directory: AgencyDirectory, limiter: RateLimiter | None = None) -> APIRouter:
    api = APIRouter(tags=["ingest"])
    limiter = limiter or RateLimiter(0, 1)  # off

    @api.post("/v1/events/{record_type}", status_code=201, response_model=Accepted)
    async def publish_one(
        request: Request,
        record_type: str,
        record: Annotated[dict[str, Any] | None, Body(description="The record after the change.")] = None,
        kind: ChangeKind = ChangeKind.UPDATED,
        key: str | None = None,
        changed: Annotated[str | None, Query(description="Comma-separated changed field paths.")] = None,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Accepted:
        agency = publisher(directory, request.headers.get("authorization"))
        limiter.take(agency)
        item = EventIn(
            record_type=record_type,
            kind=kind,
            key=key,
            record=record,
            changed=changed.split(",") if changed else None,
            idempotency_key=idempotency_key,
        )

        async def once() -> Accepted:
            [result] = await ingestor.ingest(agency, [item])
            if isinstance(result, BusError):
                raise result
            return result

        if idempotency_key is None:
            return await once()
        return await ingestor.idempotency.run(agency, idempotency_key, item.model_dump(mode="json"), once)

    @api.post("/v1/events:batch")
    async def publish_batch(request: Request, batch: BatchIn) -> JSONResponse:
        agency = publisher(directory, request.headers.get("authorization"))
        limiter.take(agency, max(1, len(batch.events)))
        results = await ingestor.ingest(agency, batch.events)
        body = [
            {"index": i, "status": 201, **r.model_dump()}
            if isinstance(r, Accepted)
            else {"index": i, "status": status_of(r), **error_body(r)}
            for i, r in enumerate(results)
        ]
        accepted = sum(1 for r in results if isinstance(r, Accepted))
        return JSONResponse(
            {"accepted": accepted, "rejected": len(results) - accepted, "results": body},
            status_code=200 if accepted == len(results) else 207,
        )

    return api
