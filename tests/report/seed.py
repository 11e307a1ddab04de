"""A seeded audit archive for scorecard specs: rows written straight into the archive's own table.

Deterministic (``random.Random(seed)``): providers with live events fanned out to several
consumers, denials with every kind of reason, dead letters, backfill snapshots (some only denied),
``replaces`` on some agreements; times spread over 2026-Q3..2027-Q1 at millisecond precision.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from sqlalchemy import Table, insert

from bus.audit.db import ArchiveStore, AuditRow

PROVIDERS = {
    "civil-registry": ["person", "address"],
    "land-registry": ["land_parcel"],
    "vehicle-registry": ["vehicle"],
}
CONSUMERS = ["tax", "health", "police", "social-protection", "wallet"]
REASONS = ["consent_missing", "consent_revoked", "where_mismatch", "unchanged_fields", "expired"]
START = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
SPAN_S = 3 * 92 * 86400  # into 2027-Q1


def _ms(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def seed_rows(count: int, seed: int = 14) -> list[dict[str, Any]]:
    """At least ``count`` rows (whole events are generated, so a few more)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    offsets = {0: 0, 1: 0, 2: 0}
    while len(rows) < count:
        provider = rng.choice(list(PROVIDERS))
        record_type = rng.choice(PROVIDERS[provider])
        event_id = str(uuid.UUID(int=rng.getrandbits(128)))
        time = _ms(START + dt.timedelta(seconds=rng.uniform(0, SPAN_S)))
        subject = f"{rng.randrange(10**11, 10**12)}"
        kind = rng.random()
        decisions: list[dict[str, Any]] = []
        if kind < 0.05:  # dead-lettered: event_time = decision time, as the processor writes it
            decisions.append({"decision": "dead_lettered", "reason": "signature_invalid", "event_time": time})
        elif kind < 0.10:  # a backfill snapshot: backfilled and denied rows with event_time = time
            for consumer in rng.sample(CONSUMERS, 2):
                denied = rng.random() < 0.4
                decisions.append(
                    {
                        "decision": "denied" if denied else "backfilled",
                        "reason": "consent_missing" if denied else None,
                        "consumer": consumer,
                        "event_time": time,
                    }
                )
        elif kind < 0.13:  # no agreement at all
            latency = dt.timedelta(milliseconds=rng.randrange(1, 3000))
            decisions.append({"decision": "denied", "reason": "no_agreement", "event_time": time - latency})
        else:
            latency = dt.timedelta(milliseconds=rng.randrange(1, 5000))
            for consumer in rng.sample(CONSUMERS, rng.randrange(1, 4)):
                denied = rng.random() < 0.25
                decisions.append(
                    {
                        "decision": "denied" if denied else "delivered",
                        "reason": rng.choice(REASONS) if denied else None,
                        "consumer": consumer,
                        "event_time": time - latency,
                        "replaces": "certificate of residence" if not denied and consumer == "tax" else None,
                    }
                )
        partition = rng.randrange(3)
        for decision in decisions:
            row_consumer = decision.get("consumer")
            rows.append(
                {
                    "kafka_partition": partition,
                    "kafka_offset": offsets[partition],
                    "entry_id": uuid.uuid4().hex,
                    "time": time,
                    "decision": decision["decision"],
                    "reason": decision.get("reason"),
                    "subject": subject,
                    "provider": provider,
                    "consumer": row_consumer,
                    "agreement_id": f"{provider}-to-{row_consumer}" if row_consumer else None,
                    "purpose": "p" if row_consumer else None,
                    "legal_basis": "law" if row_consumer else None,
                    "record_type": record_type,
                    "fields": ["iin"] if decision["decision"] in ("delivered", "backfilled") else [],
                    "event_id": event_id,
                    "event_time": decision["event_time"],
                    "replaces": decision.get("replaces"),
                    "hash": "0" * 64,
                }
            )
            offsets[partition] += 1
    return rows


def seed_archive(url: str, count: int, seed: int = 14) -> ArchiveStore:
    """A migrated archive at ``url`` holding ``seed_rows(count)``."""
    store = ArchiveStore(url)
    store.migrate()
    rows = seed_rows(count, seed)
    table = AuditRow.__table__
    assert isinstance(table, Table), f"AuditRow.__table__ is a {type(table).__name__}, not a Table"
    with store.engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(insert(table), rows[start : start + 5000])
    return store
