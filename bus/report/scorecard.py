"""The per-agency scorecard: figures from the audit archive, the agreements and the directory only.

No counters of its own (they would drift from the archive): every figure is one SQLAlchemy Core
query over ``audit_entries`` for the period ``[start, end)`` by decision time, plus the agreements
in force at the period's "as of" moment. Definitions: docs/scorecard.md (one line per figure).
Runs on SQLite and PostgreSQL; blocking, so callers on an event loop use ``scorecard_async``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, and_, case, distinct, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from bus.audit.chain import utc
from bus.audit.db import ArchiveStore, AuditRow, database_error
from bus.audit.entry import Decision
from bus.audit.receipt_store import ReceiptRow
from bus.policy.agreement import Agreement
from bus.report.period import Period
from bus.report.sqltime import millis_between

EXPIRING_WITHIN = dt.timedelta(days=30)
UNRECEIVED_AFTER = dt.timedelta(hours=24)
AUDIT, RECEIPTS = AuditRow.__table__, ReceiptRow.__table__
_T, _R = AUDIT.c, RECEIPTS.c
_RECEIVED = (Decision.DELIVERED.value, Decision.BACKFILLED.value)


class Freshness(BaseModel):
    """How long ago a record type of the agency last changed (None: no change archived by then)."""

    record_type: str
    last_change: dt.datetime | None
    age_s: float | None


class AgencyScore(BaseModel):
    """One agency's figures for one period (definitions in docs/scorecard.md)."""

    agency: str
    name: str | None = Field(description="From the agency directory; None if it has left it.")
    record_types: list[str] = Field(description="Record types it published changes of in the period.")
    events_published: int
    events_dead_lettered: int
    rejected_share: float = Field(description="events_dead_lettered / events_published (0 when none).")
    latency_p50_s: float | None = Field(description="Median publish-to-delivery; None: no deliveries.")
    latency_p95_s: float | None
    deliveries_made: int
    consumers_served: int
    deliveries_received: int
    received_by_purpose: dict[str, int] = Field(
        description="Deliveries received per agreement purpose code ('-': the agreement has none)."
    )
    receipt_p50_s: float | None = Field(
        default=None, description="Median delivery-to-receipt time as a consumer; None: no receipts."
    )
    receipt_p95_s: float | None = None
    unreceived_after_24h: int = Field(
        default=0,
        description="Deliveries to it decided over 24 h before the as-of moment, still unreceipted.",
    )
    denials_as_provider: dict[str, int]
    denials_as_consumer: dict[str, int]
    agreements_active: int
    agreements_expiring: int = Field(description="Active and ending within 30 days of the as-of date.")
    paper_avoided: int
    freshness: list[Freshness]


class Scorecard(BaseModel):
    period: str
    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime
    agencies: list[AgencyScore]
    by_purpose: dict[str, dict[str, int]] = Field(
        description="Per purpose code ('-': none), decisions by kind: what the bus is used for."
    )


def _between(start: dt.datetime, end: dt.datetime) -> ColumnElement[bool]:
    return and_(_T.time >= utc(start), _T.time < utc(end))


def _live(within: ColumnElement[bool]) -> Any:
    """Rows of live changes: not a backfill snapshot (an event id with a ``backfilled`` row)."""
    snapshots = select(_T.event_id).where(within, _T.decision == Decision.BACKFILLED.value)
    return (
        select(_T.provider, _T.record_type, _T.event_id, _T.decision, _T.time)
        .where(within, _T.decision != Decision.BACKFILLED.value, _T.event_id.not_in(snapshots))
        .subquery("live")
    )


def _events(connection: Connection, within: ColumnElement[bool]) -> dict[str, tuple[int, int, set[str]]]:
    live = _live(within)
    dead = case((live.c.decision == Decision.DEAD_LETTERED.value, live.c.event_id))
    rows = connection.execute(
        select(live.c.provider, func.count(distinct(live.c.event_id)), func.count(distinct(dead))).group_by(
            live.c.provider
        )
    ).all()
    types: dict[str, set[str]] = defaultdict(set)
    for provider, record_type in connection.execute(select(live.c.provider, live.c.record_type).distinct()):
        types[provider].add(record_type)
    return {provider: (int(events), int(deads), types[provider]) for provider, events, deads in rows}


def _percentiles(
    connection: Connection, key: Any, millis: Any, where: ColumnElement[bool], source: Any
) -> dict[str, tuple[float, float]]:
    """Nearest-rank p50 and p95 in seconds of ``millis`` by ``key`` over ``source`` (window functions)."""
    ranked = (
        select(
            key.label("key"),
            millis.label("ms"),
            func.row_number().over(partition_by=key, order_by=millis).label("rank"),
            func.count().over(partition_by=key).label("n"),
        )
        .select_from(source)
        .where(where)
        .subquery("ranked")
    )

    def at(percent: int) -> Any:
        return func.min(case((ranked.c.rank * 100 >= percent * ranked.c.n, ranked.c.ms)))

    rows = connection.execute(select(ranked.c.key, at(50), at(95)).group_by(ranked.c.key))
    return {k: (float(p50) / 1000, float(p95) / 1000) for k, p50, p95 in rows}


def _latency(connection: Connection, within: ColumnElement[bool]) -> dict[str, tuple[float, float]]:
    """p50 and p95 of ``time - event_time`` of delivered rows, by provider."""
    delivered = and_(within, _T.decision == Decision.DELIVERED.value)
    return _percentiles(connection, _T.provider, millis_between(_T.time, _T.event_time), delivered, AUDIT)


def _receipt_latency(connection: Connection, within: ColumnElement[bool]) -> dict[str, tuple[float, float]]:
    """p50 and p95 of ``received_at - time`` of receipted deliveries, by consumer."""
    joined = AUDIT.join(RECEIPTS, and_(_T.event_id == _R.event_id, _T.consumer == _R.consumer))
    receipted = and_(within, _T.decision.in_(_RECEIVED))
    return _percentiles(connection, _T.consumer, millis_between(_R.received_at, _T.time), receipted, joined)


def _unreceived(connection: Connection, within: ColumnElement[bool], as_of: dt.datetime) -> dict[str, int]:
    """Deliveries per consumer decided over 24 h before ``as_of`` without a receipt."""
    joined = and_(_T.event_id == _R.event_id, _T.consumer == _R.consumer)
    query = (
        select(_T.consumer, func.count())
        .select_from(AUDIT.outerjoin(RECEIPTS, joined))
        .where(
            within,
            _T.decision.in_(_RECEIVED),
            _T.consumer.is_not(None),
            _T.time < utc(as_of) - UNRECEIVED_AFTER,
            _R.event_id.is_(None),
        )
        .group_by(_T.consumer)
    )
    return {consumer: int(n) for consumer, n in connection.execute(query)}


def _counts(connection: Connection, query: Any) -> dict[Any, int]:
    return {tuple(row[:-1]) if len(row) > 2 else row[0]: int(row[-1]) for row in connection.execute(query)}


def _last_changes(connection: Connection, as_of: dt.datetime) -> dict[tuple[str, str], dt.datetime]:
    before = _T.time < utc(as_of)
    snapshots = select(_T.event_id).where(before, _T.decision == Decision.BACKFILLED.value)
    changes = (
        select(_T.provider, _T.record_type, func.max(_T.time))
        .where(
            before,
            _T.decision.in_((Decision.DELIVERED.value, Decision.DENIED.value)),
            _T.event_id.not_in(snapshots),
        )
        .group_by(_T.provider, _T.record_type)
    )
    return {(p, r): utc(t) for p, r, t in connection.execute(changes)}


def _in_force(agreement: Agreement, day: dt.date) -> bool:
    return agreement.valid_from <= day and (agreement.valid_until is None or day <= agreement.valid_until)


def compute_scorecard(
    store: ArchiveStore,
    period: Period,
    agencies: Mapping[str, str],
    agreements: Sequence[Agreement],
    *,
    now: dt.datetime | None = None,
) -> Scorecard:
    """Every agency's figures: those in ``agencies`` (id → name), in the archive or in an agreement."""
    as_of = period.as_of(utc(now or dt.datetime.now(dt.UTC)))
    within = _between(period.start, period.end)
    received = _T.decision.in_(_RECEIVED)
    try:
        with store.engine.connect() as connection:
            events = _events(connection, within)
            latency = _latency(connection, within)
            made = _counts(
                connection, select(_T.provider, func.count()).where(within, received).group_by(_T.provider)
            )
            served = _counts(
                connection,
                select(_T.provider, func.count(distinct(_T.consumer)))
                .where(within, received)
                .group_by(_T.provider),
            )
            got = _counts(
                connection,
                select(_T.consumer, func.count())
                .where(within, received, _T.consumer.is_not(None))
                .group_by(_T.consumer),
            )
            denied = _T.decision == Decision.DENIED.value
            reason = func.coalesce(_T.reason, "-")
            by_provider = _counts(
                connection,
                select(_T.provider, reason, func.count()).where(within, denied).group_by(_T.provider, reason),
            )
            by_consumer = _counts(
                connection,
                select(_T.consumer, reason, func.count())
                .where(within, denied, _T.consumer.is_not(None))
                .group_by(_T.consumer, reason),
            )
            code = func.coalesce(_T.purpose_code, "-")
            received_for = _counts(
                connection,
                select(_T.consumer, code, func.count())
                .where(within, received, _T.consumer.is_not(None))
                .group_by(_T.consumer, code),
            )
            purposes = _counts(
                connection,
                select(code, _T.decision, func.count())
                .where(within, _T.consumer.is_not(None))
                .group_by(code, _T.decision),
            )
            paper = _counts(
                connection,
                select(_T.provider, func.count())
                .where(within, received, _T.replaces.is_not(None))
                .group_by(_T.provider),
            )
            last = _last_changes(connection, as_of)
            to_receipt = _receipt_latency(connection, within)
            unreceived = _unreceived(connection, within, as_of)
    except SQLAlchemyError as exc:
        raise database_error(exc, store.url, f"computing the scorecard of {period.name}") from None
    day = as_of.date()
    active = [a for a in agreements if _in_force(a, day)]
    ids = set(agencies) | set(events) | set(made) | set(got) | {p for p, _ in last}
    ids |= {p for p, _ in by_provider} | {c for c, _ in by_consumer}
    ids |= {a.provider for a in agreements} | {a.consumer for a in agreements}
    scores = []
    for agency in sorted(ids):
        published, dead, types = events.get(agency, (0, 0, set()))
        p50, p95 = latency.get(agency, (None, None))
        r50, r95 = to_receipt.get(agency, (None, None))
        mine = [a for a in active if agency in (a.provider, a.consumer)]
        expiring = [a for a in mine if a.valid_until is not None and a.valid_until <= day + EXPIRING_WITHIN]
        provided = {r for p, r in last if p == agency} | {
            a.record_type for a in agreements if a.provider == agency
        }
        scores.append(
            AgencyScore(
                agency=agency,
                name=agencies.get(agency),
                record_types=sorted(types),
                events_published=published,
                events_dead_lettered=dead,
                rejected_share=dead / published if published else 0.0,
                latency_p50_s=p50,
                latency_p95_s=p95,
                deliveries_made=made.get(agency, 0),
                consumers_served=served.get(agency, 0),
                deliveries_received=got.get(agency, 0),
                received_by_purpose={p: n for (c, p), n in sorted(received_for.items()) if c == agency},
                receipt_p50_s=r50,
                receipt_p95_s=r95,
                unreceived_after_24h=unreceived.get(agency, 0),
                denials_as_provider={r: n for (p, r), n in sorted(by_provider.items()) if p == agency},
                denials_as_consumer={r: n for (c, r), n in sorted(by_consumer.items()) if c == agency},
                agreements_active=len(mine),
                agreements_expiring=len(expiring),
                paper_avoided=paper.get(agency, 0),
                freshness=[_freshness(r, last.get((agency, r)), as_of) for r in sorted(provided)],
            )
        )
    by_purpose: dict[str, dict[str, int]] = {}
    for (purpose, decision), n in sorted(purposes.items()):
        by_purpose.setdefault(purpose, {})[decision] = n
    return Scorecard(
        period=period.name,
        start=period.start,
        end=period.end,
        as_of=as_of,
        agencies=scores,
        by_purpose=by_purpose,
    )


def _freshness(record_type: str, last: dt.datetime | None, as_of: dt.datetime) -> Freshness:
    age = (as_of - last).total_seconds() if last is not None else None
    return Freshness(record_type=record_type, last_change=last, age_s=age)


async def scorecard_async(
    store: ArchiveStore,
    period: Period,
    agencies: Mapping[str, str],
    agreements: Sequence[Agreement],
    *,
    now: dt.datetime | None = None,
) -> Scorecard:
    """``compute_scorecard`` off the event loop (the database driver blocks)."""
    return await asyncio.to_thread(compute_scorecard, store, period, agencies, agreements, now=now)
