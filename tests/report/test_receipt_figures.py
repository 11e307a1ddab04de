"""The scorecard's receipt figures: time from delivery to the consumer's receipt, and what is still
unreceipted a day later."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bus.audit.db import ArchiveStore, AuditRow
from bus.audit.receipt_store import ReceiptRow
from bus.report.period import parse_period
from bus.report.scorecard import compute_scorecard

NOW = dt.datetime(2027, 2, 10, 12, 0, tzinfo=dt.UTC)


def _delivery(offset: int, time: dt.datetime, consumer: str = "tax") -> dict[str, Any]:
    return {
        "kafka_partition": 0, "kafka_offset": offset, "entry_id": uuid.uuid4().hex, "time": time,
        "decision": "delivered", "reason": None, "subject": f"9001013000{offset:02d}",
        "provider": "civil-registry", "consumer": consumer, "agreement_id": f"civil-to-{consumer}",
        "purpose": "p", "legal_basis": "law", "record_type": "person", "fields": ["iin"],
        "event_id": f"event-{offset}", "event_time": time, "replaces": None, "hash": "0" * 64,
    }  # fmt: skip


def _receipt(offset: int, delivery: dict[str, Any], after: dt.timedelta) -> dict[str, Any]:
    return {
        "kafka_partition": 0, "kafka_offset": offset, "consumer": delivery["consumer"],
        "agreement_id": delivery["agreement_id"], "event_id": delivery["event_id"],
        "subject": delivery["subject"], "received_at": delivery["time"] + after, "value": "{}",
        "signature": "s", "proof": "", "key_id": "k", "hash": "0" * 64,
    }  # fmt: skip


def test_receipt_time_and_unreceived_deliveries_per_consumer(tmp_path: Path) -> None:
    # given four deliveries to tax two days ago, three receipted after 1 s, 2 s and 10 s, and one
    # delivery an hour ago, not receipted yet
    store = ArchiveStore(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    store.migrate()
    old = NOW - dt.timedelta(days=2)
    deliveries = [_delivery(n, old + dt.timedelta(minutes=n)) for n in range(4)]
    deliveries.append(_delivery(4, NOW - dt.timedelta(hours=1)))
    receipts = [_receipt(n, deliveries[n], dt.timedelta(seconds=s)) for n, s in enumerate((1, 2, 10))]
    with store.engine.begin() as connection:
        connection.execute(insert(AuditRow), deliveries)
        connection.execute(insert(ReceiptRow), receipts)
    # when the quarter's scorecard is computed
    card = compute_scorecard(store, parse_period("2027-Q1"), {}, [], now=NOW)
    store.close()
    # then tax's receipts took 2 s at the median and 10 s at p95, and one delivery is overdue
    [tax] = [s for s in card.agencies if s.agency == "tax"]
    assert (tax.receipt_p50_s, tax.receipt_p95_s) == (2.0, 10.0)
    assert tax.unreceived_after_24h == 1
    # and the provider, which receives nothing, has no receipt figures
    [civil] = [s for s in card.agencies if s.agency == "civil-registry"]
    assert (civil.receipt_p50_s, civil.unreceived_after_24h) == (None, 0)
