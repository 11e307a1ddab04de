"""``GET /v1/audit/subjects/{key}``: the citizen data tracker, one archived decision per item in plain terms.

Reads the SQL archive (``bus.audit.query``), never the topic; every read is recorded on
``bus.audit.reads`` first (``reads.py``). An unknown key is an empty page, the same answer as a
known key the caller may not see, so the API never reveals whether a person has records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bus.audit.chain import ArchivedEntry
from bus.audit.db import ArchiveStore
from bus.audit.entry import Decision
from bus.audit.errors import ArchiveDatabaseError
from bus.audit.query import MAX_LIMIT, SubjectQuery, subject_entries
from bus.directory.model import Principal, Role
from bus.directory.view import AgencyDirectory
from bus.gateway.access import authenticate, read_scope
from bus.gateway.reads import ReadKind, ReadLog
from bus.gateway.words import (
    Lang,
    explain_dead_letter,
    explain_delivery,
    explain_denial,
    explain_disclosure,
    explain_receipt,
    negotiate,
)

MAX_KEY = 256  # the archive's subject column


class Party(BaseModel):
    """An agency as the directory names it (``name`` is None if it has left the directory)."""

    id: str
    name: str | None


class TrackerItem(BaseModel):
    """One decision about the person: who received which fields, for what, under which law, when."""

    when: dt.datetime = Field(description="When the bus decided (UTC).")
    decision: Decision
    provider: Party = Field(description="The agency whose record changed.")
    consumer: Party | None = Field(description="The agency that received it, or was refused it.")
    record_type: str
    fields: list[str] = Field(description="Names of the fields sent (never their values).")
    purpose: str | None
    legal_basis: str | None
    agreement: str | None
    replaces: str | None = Field(description="The paper certificate this delivery made unnecessary.")
    purpose_code: str | None = Field(description="The agreement's machine-readable purpose code.")
    hidden_until: dt.datetime | None = Field(
        description="Delayed disclosure: the citizen is shown this item only from this time."
    )
    hidden: bool = Field(description="Still hidden from the citizen (only auditors and parties see it now).")
    hidden_reason: str | None
    hidden_legal_basis: str | None
    received_at: dt.datetime | None = Field(
        default=None,
        description="When the consumer signed a receipt for this delivery; None: not (yet) confirmed.",
    )
    reason: str | None = Field(description="Why refused or set aside, as a code (e.g. consent_revoked).")
    explanation: str = Field(description="The whole item as one sentence in the requested language.")
    event_id: str


class TrackerPage(BaseModel):
    subject: str
    lang: Lang
    items: list[TrackerItem]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page.")


class ArchiveReader:
    """The archive, opened on first use; never creates a SQLite file or folder (only the archiver does)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._store: ArchiveStore | None = None

    def store(self) -> ArchiveStore:
        if self._store is None:
            try:
                parsed = make_url(self.url)
            except ArgumentError:
                parsed = None  # ArchiveStore names the problem
            database = parsed.database if parsed and parsed.get_backend_name() == "sqlite" else None
            if database and database != ":memory:" and not Path(database).exists():
                raise ArchiveDatabaseError(
                    f"there is no audit archive at {self.url} yet",
                    hint="run `bus audit archive --db <url>` and give the gateway the same --audit-db",
                )
            self._store = ArchiveStore(self.url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class Tracker:
    """Answers tracker reads for a principal: scoped, explained, and audited."""

    def __init__(
        self,
        archive: ArchiveReader,
        directory: AgencyDirectory,
        reads: ReadLog,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.archive = archive
        self.directory = directory
        self.reads = reads
        self.clock = clock

    async def page(
        self, principal: Principal, query: SubjectQuery, lang: Lang, kind: ReadKind = ReadKind.TRACKER
    ) -> TrackerPage:
        scope = read_scope(principal)
        now = self.clock()
        if scope.agency is not None:
            query = dataclasses.replace(query, agency=scope.agency)
        if principal.role is Role.PORTAL or kind is ReadKind.PAGE:  # the citizen's view: delayed disclosure
            query = dataclasses.replace(query, visible_at=now)
        found = await subject_entries(self.archive.store(), query) if len(query.subject) <= MAX_KEY else None
        entries = found.entries if found else ()
        await self.reads.record(
            principal, query.subject, kind, filters=_filters(query), returned=len(entries)
        )
        return TrackerPage(
            subject=query.subject,
            lang=lang,
            items=[self.item(e, lang, now, found.received_at(e) if found else None) for e in entries],
            next_cursor=found.next_cursor if found else None,
        )

    def party(self, agency: str) -> Party:
        entry = self.directory.get(agency)
        return Party(id=agency, name=entry.name if entry else None)

    def item(
        self, entry: ArchivedEntry, lang: Lang, now: dt.datetime, received_at: dt.datetime | None = None
    ) -> TrackerItem:
        provider = self.party(entry.provider)
        consumer = self.party(entry.consumer) if entry.consumer else None
        if entry.decision is Decision.DEAD_LETTERED:
            explanation = explain_dead_letter(entry.reason, provider.name or provider.id, lang)
        elif entry.decision is Decision.DENIED:
            explanation = explain_denial(entry.reason, lang)
        else:
            explanation = explain_delivery(
                backfill=entry.decision is Decision.BACKFILLED,
                consumer=(consumer.name or consumer.id) if consumer else "-",
                fields=entry.fields,
                purpose=entry.purpose,
                law=entry.legal_basis,
                replaces=entry.replaces,
                lang=lang,
            )
            explanation += explain_receipt(
                consumer=(consumer.name or consumer.id) if consumer else "-",
                date=received_at.strftime("%Y-%m-%d %H:%M:%S UTC") if received_at else None,
                lang=lang,
            )
        hidden = entry.hidden_until is not None and entry.hidden_until > now
        if entry.hidden_until is not None:
            explanation += explain_disclosure(
                hidden=hidden,
                date=entry.hidden_until.strftime("%Y-%m-%d %H:%M UTC"),
                reason=entry.hidden_reason or "-",
                law=entry.hidden_legal_basis or "-",
                lang=lang,
            )
        return TrackerItem(
            when=entry.time,
            decision=entry.decision,
            provider=provider,
            consumer=consumer,
            record_type=entry.record_type,
            fields=list(entry.fields),
            purpose=entry.purpose,
            legal_basis=entry.legal_basis,
            agreement=entry.agreement_id,
            replaces=entry.replaces,
            purpose_code=entry.purpose_code,
            hidden_until=entry.hidden_until,
            hidden=hidden,
            hidden_reason=entry.hidden_reason,
            hidden_legal_basis=entry.hidden_legal_basis,
            received_at=received_at,
            reason=entry.reason,
            explanation=explanation,
            event_id=entry.event_id,
        )


def _filters(query: SubjectQuery) -> dict[str, str | None]:
    return {
        "since": query.since.isoformat() if query.since else None,
        "until": query.until.isoformat() if query.until else None,
        "consumer": query.consumer,
        "decision": query.decision.value if query.decision else None,
        "agency": query.agency,
        "cursor": query.cursor,
        "limit": str(query.limit),
    }


def router(tracker: Tracker) -> APIRouter:
    api = APIRouter(tags=["tracker"])

    @api.get("/v1/audit/subjects/{key}", response_model=TrackerPage)
    async def subject_tracker(
        request: Request,
        key: str,
        since: Annotated[dt.datetime | None, Query(description="Entries at or after (RFC 3339).")] = None,
        until: Annotated[dt.datetime | None, Query(description="Entries before (RFC 3339).")] = None,
        consumer: Annotated[str | None, Query(description="Only this receiving agency.")] = None,
        decision: Decision | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        lang: Annotated[str | None, Query(description="kk, ru or en (else Accept-Language).")] = None,
    ) -> TrackerPage:
        """Newest first. Portal and auditor tokens see every entry; an agency only its own."""
        principal = authenticate(tracker.directory, request.headers.get("authorization"), "the tracker")
        query = SubjectQuery(key, since, until, consumer, decision, None, limit, cursor)
        return await tracker.page(principal, query, negotiate(lang, request.headers.get("accept-language")))

    return api
