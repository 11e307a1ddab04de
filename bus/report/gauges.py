"""The current quarter's scorecard as Prometheus gauges, recomputed from the archive every minute.

Grafana reads Prometheus only (deploy/grafana); these gauges carry exactly the figures of
``bus report agencies`` (same code, bus/report/scorecard.py), labelled by agency, never by subject.
A long-running component (start / run(stop) / stop) supervised by ``bus up``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from prometheus_client import Gauge

from bus import metrics
from bus.acl.rules import SCORECARD
from bus.audit.db import ArchiveStore
from bus.directory.view import AgencyDirectory
from bus.errors import BusError
from bus.event.topics import SystemTopic
from bus.kafka.client import KafkaSettings
from bus.kafka.follow import TopicFollower
from bus.policy.agreements_view import AgreementsView
from bus.report.period import current_quarter
from bus.report.scorecard import AgencyScore, Scorecard, scorecard_async
from bus.report.sources import agency_names

log = logging.getLogger(__name__)


def _set(gauge: Gauge, agency: str, value: float | None) -> None:
    if value is None:
        with contextlib.suppress(KeyError):
            gauge.remove(agency)  # no figure (e.g. no deliveries): no sample rather than a false zero
    else:
        gauge.labels(agency=agency).set(value)


def _stalest(score: AgencyScore) -> float | None:
    ages = [f.age_s for f in score.freshness if f.age_s is not None]
    return max(ages) if ages else None


def export(card: Scorecard) -> None:
    """Set every scorecard gauge from one computed scorecard."""
    for s in card.agencies:
        _set(metrics.SCORECARD_EVENTS, s.agency, s.events_published)
        _set(metrics.SCORECARD_RECORD_TYPES, s.agency, len(s.record_types))
        _set(metrics.SCORECARD_REJECTED, s.agency, s.rejected_share)
        _set(metrics.SCORECARD_LATENCY_P50, s.agency, s.latency_p50_s)
        _set(metrics.SCORECARD_LATENCY_P95, s.agency, s.latency_p95_s)
        _set(metrics.SCORECARD_SERVED, s.agency, s.consumers_served)
        _set(metrics.SCORECARD_RECEIVED, s.agency, s.deliveries_received)
        _set(metrics.SCORECARD_DENIED_PROVIDER, s.agency, sum(s.denials_as_provider.values()))
        _set(metrics.SCORECARD_DENIED_CONSUMER, s.agency, sum(s.denials_as_consumer.values()))
        _set(metrics.SCORECARD_AGREEMENTS, s.agency, s.agreements_active)
        _set(metrics.SCORECARD_EXPIRING, s.agency, s.agreements_expiring)
        _set(metrics.SCORECARD_PAPER, s.agency, s.paper_avoided)
        _set(metrics.SCORECARD_FRESHNESS, s.agency, _stalest(s))


class ScorecardGauges:
    """Follows the directory and the agreements; recomputes the gauges every ``every_s`` seconds."""

    def __init__(self, kafka: KafkaSettings, db_url: str, *, every_s: float = 60.0) -> None:
        kafka = kafka.acting_as(SCORECARD.user)
        self.every_s = every_s
        self.store = ArchiveStore(db_url)
        self.directory = AgencyDirectory()
        self.agreements = AgreementsView()
        self._followers = [
            self.directory.follower(kafka),
            TopicFollower(kafka, SystemTopic.AGREEMENTS, self.agreements.apply),
        ]
        self.last: Scorecard | None = None

    async def start(self) -> None:
        for follower in self._followers:
            await follower.start()

    async def refresh(self) -> Scorecard:
        now = dt.datetime.now(dt.UTC)
        agreements = sorted(self.agreements.active.values(), key=lambda a: a.id)
        card = await scorecard_async(
            self.store, current_quarter(now), agency_names(self.directory), agreements, now=now
        )
        export(card)
        self.last = card
        return card

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh()
            except BusError as exc:  # e.g. no archive yet: keep the last figures, try again later
                log.warning("scorecard gauges not refreshed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)

    async def stop(self) -> None:
        for follower in self._followers:
            await follower.stop()
        await asyncio.to_thread(self.store.close)
