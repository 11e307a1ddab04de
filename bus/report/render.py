"""The scorecard as a Rich table, CSV or JSON: the same figures, whichever a reader needs."""

from __future__ import annotations

import csv
import io
from enum import StrEnum

from rich import box
from rich.table import Table

from bus.report.scorecard import AgencyScore, Freshness, Scorecard


class ReportFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    if value < 2 * 3600:
        return f"{value / 60:.0f} min"
    if value < 2 * 86400:
        return f"{value / 3600:.0f} h"
    return f"{value / 86400:.0f} d"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n:,}" for reason, n in sorted(counts.items(), key=lambda i: -i[1])) or "0"


def _fresh(freshness: list[Freshness]) -> str:
    return ", ".join(f"{f.record_type} {_seconds(f.age_s)}" for f in freshness) or "-"


def compact_table(card: Scorecard) -> Table:
    """The headline figures in 80 columns (the demo): totals instead of per-reason and per-type detail."""
    table = Table(
        title=f"agency scorecard {card.period} (as of {card.as_of:%Y-%m-%d %H:%M} UTC)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1, 0, 0),
    )
    table.add_column("agency", no_wrap=True)
    for header in ("events", "DLQ", "p50/p95", "srv", "recv", "denied", "agr", "paper"):
        table.add_column(header, justify="right", no_wrap=True)
    for s in card.agencies:
        table.add_row(
            s.agency,
            f"{s.events_published:,}",
            f"{s.rejected_share:.0%}",
            f"{_seconds(s.latency_p50_s)}/{_seconds(s.latency_p95_s)}".replace(" ", ""),
            f"{s.consumers_served:,}",
            f"{s.deliveries_received:,}",
            f"{sum(s.denials_as_provider.values())}/{sum(s.denials_as_consumer.values())}",
            f"{s.agreements_active} ({s.agreements_expiring})",
            f"{s.paper_avoided:,}",
        )
    return table


def scorecard_table(card: Scorecard) -> Table:
    table = Table(
        "agency",
        "types",
        "events",
        "to DLQ",
        "p50 / p95",
        "served",
        "received",
        "receipt p50 / p95 (unreceived > 24 h)",
        "denied (as provider)",
        "denied (as consumer)",
        "agreements (expiring)",
        "paper avoided",
        "freshness",
        title=f"agency scorecard {card.period} (as of {card.as_of:%Y-%m-%d %H:%M} UTC)",
    )
    for s in card.agencies:
        table.add_row(
            f"{s.name or s.agency}\n[dim]{s.agency}[/]" if s.name else s.agency,
            ", ".join(s.record_types) or "-",
            f"{s.events_published:,}",
            f"{s.rejected_share:.1%}",
            f"{_seconds(s.latency_p50_s)} / {_seconds(s.latency_p95_s)}",
            f"{s.consumers_served:,}",
            f"{s.deliveries_received:,}",
            f"{_seconds(s.receipt_p50_s)} / {_seconds(s.receipt_p95_s)} ({s.unreceived_after_24h:,})",
            _counts(s.denials_as_provider),
            _counts(s.denials_as_consumer),
            f"{s.agreements_active} ({s.agreements_expiring})",
            f"{s.paper_avoided:,}",
            _fresh(s.freshness),
        )
    return table


def purpose_table(card: Scorecard) -> Table:
    """Decisions per purpose code: what the bus is used for, counted (issue #23)."""
    kinds = sorted({kind for counts in card.by_purpose.values() for kind in counts})
    table = Table("purpose code", *kinds, title=f"decisions by purpose {card.period}")
    for purpose, counts in card.by_purpose.items():
        table.add_row(purpose, *(f"{counts.get(kind, 0):,}" for kind in kinds))
    return table


CSV_COLUMNS = [
    "period",
    "agency",
    "name",
    "record_types",
    "events_published",
    "events_dead_lettered",
    "rejected_share",
    "latency_p50_s",
    "latency_p95_s",
    "deliveries_made",
    "consumers_served",
    "deliveries_received",
    "received_by_purpose",
    "receipt_p50_s",
    "receipt_p95_s",
    "unreceived_after_24h",
    "denials_as_provider",
    "denials_as_consumer",
    "agreements_active",
    "agreements_expiring",
    "paper_avoided",
    "freshness_s",
]


def _row(card: Scorecard, s: AgencyScore) -> list[object]:
    def pairs(items: dict[str, object]) -> str:
        return ";".join(f"{k}={v}" for k, v in items.items())

    return [
        card.period,
        s.agency,
        s.name or "",
        ";".join(s.record_types),
        s.events_published,
        s.events_dead_lettered,
        f"{s.rejected_share:.6f}",
        "" if s.latency_p50_s is None else s.latency_p50_s,
        "" if s.latency_p95_s is None else s.latency_p95_s,
        s.deliveries_made,
        s.consumers_served,
        s.deliveries_received,
        pairs(dict(s.received_by_purpose)),
        "" if s.receipt_p50_s is None else s.receipt_p50_s,
        "" if s.receipt_p95_s is None else s.receipt_p95_s,
        s.unreceived_after_24h,
        pairs(dict(s.denials_as_provider)),
        pairs(dict(s.denials_as_consumer)),
        s.agreements_active,
        s.agreements_expiring,
        s.paper_avoided,
        pairs({f.record_type: "" if f.age_s is None else round(f.age_s, 3) for f in s.freshness}),
    ]


def scorecard_csv(card: Scorecard) -> str:
    """One row per agency; maps as ``key=value;…``, absent latencies and ages as empty cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for score in card.agencies:
        writer.writerow(_row(card, score))
    return out.getvalue()


def scorecard_json(card: Scorecard) -> str:
    return card.model_dump_json(indent=2)
