"""The scorecard recomputed by different code: hand-written SQL strings and Python over raw rows.

Nothing here calls bus.report; counts come from plain SQL text (standard SQL that SQLite and
PostgreSQL both run), percentiles and freshness from Python over rows fetched with a plain SELECT.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, text


def _literal(engine: Engine, moment: dt.datetime) -> str:
    naive = moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    return f"'{naive}+00'" if engine.dialect.name == "postgresql" else f"'{naive}'"


def _rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(sql)))


def _utc(value: Any) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def recompute(engine: Engine, start: dt.datetime, end: dt.datetime, as_of: dt.datetime) -> dict[str, Any]:
    """Figures by agency id: only agencies with archive rows appear (the others are all zeros)."""
    lo, hi = _literal(engine, start), _literal(engine, end)
    period = f"time >= {lo} AND time < {hi}"
    snapshots = f"SELECT event_id FROM audit_entries WHERE {period} AND decision = 'backfilled'"
    live = f"{period} AND decision <> 'backfilled' AND event_id NOT IN ({snapshots})"
    figures: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "events_published": 0,
            "events_dead_lettered": 0,
            "record_types": [],
            "deliveries_made": 0,
            "consumers_served": 0,
            "deliveries_received": 0,
            "denials_as_provider": {},
            "denials_as_consumer": {},
            "paper_avoided": 0,
            "latency": (None, None),
            "last_change": {},
        }
    )
    for agency, n in _rows(
        engine, f"SELECT provider, COUNT(DISTINCT event_id) FROM audit_entries WHERE {live} GROUP BY provider"
    ):
        figures[agency]["events_published"] = n
    for agency, n in _rows(
        engine,
        f"SELECT provider, COUNT(DISTINCT event_id) FROM audit_entries "
        f"WHERE {live} AND decision = 'dead_lettered' GROUP BY provider",
    ):
        figures[agency]["events_dead_lettered"] = n
    for agency, record_type in _rows(
        engine, f"SELECT DISTINCT provider, record_type FROM audit_entries WHERE {live} ORDER BY 1, 2"
    ):
        figures[agency]["record_types"].append(record_type)
    sent = f"{period} AND decision IN ('delivered', 'backfilled')"
    for agency, made, served in _rows(
        engine,
        f"SELECT provider, COUNT(*), COUNT(DISTINCT consumer) FROM audit_entries "
        f"WHERE {sent} GROUP BY provider",
    ):
        figures[agency]["deliveries_made"] = made
        figures[agency]["consumers_served"] = served
    for agency, n in _rows(
        engine,
        f"SELECT consumer, COUNT(*) FROM audit_entries "
        f"WHERE {sent} AND consumer IS NOT NULL GROUP BY consumer",
    ):
        figures[agency]["deliveries_received"] = n
    for agency, n in _rows(
        engine,
        f"SELECT provider, COUNT(*) FROM audit_entries "
        f"WHERE {sent} AND replaces IS NOT NULL GROUP BY provider",
    ):
        figures[agency]["paper_avoided"] = n
    for side in ("provider", "consumer"):
        for agency, reason, n in _rows(
            engine,
            f"SELECT {side}, reason, COUNT(*) FROM audit_entries "
            f"WHERE {period} AND decision = 'denied' AND {side} IS NOT NULL GROUP BY {side}, reason",
        ):
            figures[agency][f"denials_as_{side}"][reason or "-"] = n
    # latency percentiles and freshness: Python over the raw rows
    latencies: dict[str, list[int]] = defaultdict(list)
    for agency, time, event_time in _rows(
        engine,
        f"SELECT provider, time, event_time FROM audit_entries WHERE {period} AND decision = 'delivered'",
    ):
        latencies[agency].append(round((_utc(time) - _utc(event_time)).total_seconds() * 1000))
    for agency, values in latencies.items():
        ordered = sorted(values)

        def rank(q: float, ordered: list[int] = ordered) -> float:
            return ordered[math.ceil(q * len(ordered)) - 1] / 1000

        figures[agency]["latency"] = (rank(0.5), rank(0.95))
    before = _literal(engine, as_of)
    rows = _rows(
        engine,
        f"SELECT provider, record_type, event_id, decision, time FROM audit_entries WHERE time < {before}",
    )
    snapshot_ids = {r[2] for r in rows if r[3] == "backfilled"}
    for agency, record_type, event_id, decision, time in rows:
        if decision in ("delivered", "denied") and event_id not in snapshot_ids:
            known = figures[agency]["last_change"].get(record_type)
            moment = _utc(time)
            if known is None or moment > known:
                figures[agency]["last_change"][record_type] = moment
    return dict(figures)
