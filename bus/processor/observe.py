"""Prometheus figures of a processor batch, counted after its outputs were acknowledged.

Counting after the acks means a batch that fails and is redone is not counted twice. Labels are
agency ids, agreement ids, reasons and certificate names: bounded sets, never subject keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from bus.audit.entry import AuditEntry, Decision
from bus.metrics import DEAD_LETTERS, DELIVERIES, DENIALS, END_TO_END, EVENTS_INGESTED, PAPER_AVOIDED


def count_ingested(topics: Iterable[str]) -> None:
    for topic, count in Counter(topics).items():
        _, provider, rtype = topic.split(".", 2)
        EVENTS_INGESTED.labels(provider=provider, type=rtype).inc(count)


def count_decisions(entries: Iterable[AuditEntry], written_at: datetime) -> None:
    for entry in entries:
        if entry.decision in (Decision.DELIVERED, Decision.BACKFILLED):
            DELIVERIES.labels(consumer=entry.consumer or "-", agreement=entry.agreement_id or "-").inc()
            if entry.replaces:
                PAPER_AVOIDED.labels(certificate=entry.replaces).inc()
            if entry.decision is Decision.DELIVERED:
                END_TO_END.observe(max(0.0, (written_at - entry.event_time).total_seconds()))
        elif entry.decision is Decision.DENIED:
            DENIALS.labels(reason=entry.reason or "-", consumer=entry.consumer or "-").inc()
        else:
            DEAD_LETTERS.labels(provider=entry.provider, reason=entry.reason or "-").inc()
