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
    """Counted per label set first, so a batch costs one ``inc`` per label set, not per entry."""
    deliveries: Counter[tuple[str, str]] = Counter()
    papers: Counter[str] = Counter()
    denials: Counter[tuple[str, str]] = Counter()
    dead: Counter[tuple[str, str]] = Counter()
    seen: dict[datetime, float] = {}  # event time -> latency, computed once per event
    for entry in entries:
        if entry.decision is Decision.DELIVERED or entry.decision is Decision.BACKFILLED:
            deliveries[(entry.consumer or "-", entry.agreement_id or "-")] += 1
            if entry.replaces:
                papers[entry.replaces] += 1
            if entry.decision is Decision.DELIVERED:
                latency = seen.get(entry.event_time)
                if latency is None:
                    latency = seen[entry.event_time] = max(
                        0.0, (written_at - entry.event_time).total_seconds()
                    )
                END_TO_END.observe(latency)
        elif entry.decision is Decision.DENIED:
            denials[(entry.reason or "-", entry.consumer or "-")] += 1
        else:
            dead[(entry.provider, entry.reason or "-")] += 1
    for (consumer, agreement), count in deliveries.items():
        DELIVERIES.labels(consumer=consumer, agreement=agreement).inc(count)
    for certificate, count in papers.items():
        PAPER_AVOIDED.labels(certificate=certificate).inc(count)
    for (reason, consumer), count in denials.items():
        DENIALS.labels(reason=reason, consumer=consumer).inc(count)
    for (provider, reason), count in dead.items():
        DEAD_LETTERS.labels(provider=provider, reason=reason).inc(count)
