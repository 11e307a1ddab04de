"""Every scorecard figure equals an independent recomputation over a seeded archive; no traffic = zeros."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest

from bus.audit.db import ArchiveStore
from bus.policy.agreement import Agreement
from bus.report.period import parse_period
from bus.report.scorecard import AgencyScore, Scorecard, compute_scorecard
from tests.postgres import PostgresServer
from tests.report.recompute import recompute
from tests.report.seed import seed_archive

NOW = dt.datetime(2027, 2, 10, 12, 0, tzinfo=dt.UTC)
DIRECTORY = {
    "civil-registry": "Civil registry",
    "land-registry": "Land cadastre",
    "tax": "State revenue committee",
    "quiet-agency": "An agency with no traffic",
}


def agreement(agreement_id: str, provider: str, consumer: str, start: str, end: str | None) -> Agreement:
    return Agreement(
        id=agreement_id,
        provider=provider,
        consumer=consumer,
        record_type="person",
        fields=("iin",),
        purpose="p",
        legal_basis="law",
        valid_from=dt.date.fromisoformat(start),
        valid_until=dt.date.fromisoformat(end) if end else None,
    )


AGREEMENTS = [
    agreement("a-open", "civil-registry", "tax", "2026-01-01", None),
    agreement("a-ends-soon", "civil-registry", "health", "2026-01-01", "2027-01-20"),
    agreement("a-ended", "civil-registry", "police", "2026-01-01", "2026-06-30"),
    agreement("a-later", "land-registry", "tax", "2027-06-01", None),
    agreement("a-quiet", "quiet-agency", "tax", "2026-01-01", "2030-01-01"),
]


def check_against_recomputation(store: ArchiveStore, card: Scorecard) -> None:
    expected = recompute(store.engine, card.start, card.end, card.as_of)
    by_id = {s.agency: s for s in card.agencies}
    assert set(expected) <= set(by_id)
    for agency, score in by_id.items():
        want: dict[str, Any] = expected.get(agency) or recompute_zero()
        published, dead = want["events_published"], want["events_dead_lettered"]
        assert score.events_published == published, agency
        assert score.events_dead_lettered == dead, agency
        assert score.rejected_share == (dead / published if published else 0.0), agency
        assert score.record_types == want["record_types"], agency
        assert (score.latency_p50_s, score.latency_p95_s) == want["latency"], agency
        assert score.deliveries_made == want["deliveries_made"], agency
        assert score.consumers_served == want["consumers_served"], agency
        assert score.deliveries_received == want["deliveries_received"], agency
        assert score.denials_as_provider == want["denials_as_provider"], agency
        assert score.denials_as_consumer == want["denials_as_consumer"], agency
        assert score.paper_avoided == want["paper_avoided"], agency
        for fresh in score.freshness:
            last = want["last_change"].get(fresh.record_type)
            assert fresh.last_change == last, (agency, fresh.record_type)
            assert fresh.age_s == ((card.as_of - last).total_seconds() if last else None)


def recompute_zero() -> dict[str, Any]:
    return {
        "events_published": 0,
        "events_dead_lettered": 0,
        "record_types": [],
        "latency": (None, None),
        "deliveries_made": 0,
        "consumers_served": 0,
        "deliveries_received": 0,
        "denials_as_provider": {},
        "denials_as_consumer": {},
        "paper_avoided": 0,
        "last_change": {},
    }


def check_agreements(card: Scorecard) -> None:
    day = card.as_of.date()
    for score in card.agencies:
        mine = [
            a
            for a in AGREEMENTS
            if score.agency in (a.provider, a.consumer)
            and a.valid_from <= day
            and (a.valid_until is None or day <= a.valid_until)
        ]
        soon = [a for a in mine if a.valid_until and (a.valid_until - day).days <= 30]
        assert (score.agreements_active, score.agreements_expiring) == (len(mine), len(soon)), score.agency


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> ArchiveStore:
    url = f"sqlite:///{tmp_path_factory.mktemp('scorecard') / 'audit.sqlite'}"
    started = time.monotonic()
    store = seed_archive(url, 50_000)
    print(f"seeded {store.count()} rows in {time.monotonic() - started:.1f} s")
    return store


@pytest.mark.parametrize("period", ["2026-Q3", "2026-Q4", "2026-11", "2026", "2027-Q1"])
def test_every_figure_equals_the_independent_recomputation(seeded: ArchiveStore, period: str) -> None:
    # given a seeded archive of 50,000 entries
    assert seeded.count() >= 50_000
    # when the scorecard of the period is computed
    started = time.monotonic()
    card = compute_scorecard(seeded, parse_period(period), DIRECTORY, AGREEMENTS, now=NOW)
    print(f"{period}: scorecard in {time.monotonic() - started:.2f} s")
    # then every figure equals the hand-written SQL / Python recomputation
    check_against_recomputation(seeded, card)
    check_agreements(card)
    assert sum(s.events_published for s in card.agencies) > 0


def test_the_seed_exercises_every_figure(seeded: ArchiveStore) -> None:
    card = compute_scorecard(seeded, parse_period("2026-Q4"), DIRECTORY, AGREEMENTS, now=NOW)
    civil = next(s for s in card.agencies if s.agency == "civil-registry")
    assert civil.events_dead_lettered > 0
    assert 0 < civil.rejected_share < 1
    assert civil.latency_p50_s is not None
    assert civil.latency_p95_s is not None
    assert 0 < civil.latency_p50_s <= civil.latency_p95_s
    assert {"consent_missing", "no_agreement"} <= civil.denials_as_provider.keys()
    assert civil.paper_avoided > 0
    assert civil.consumers_served == 5
    assert next(s for s in card.agencies if s.agency == "wallet").deliveries_received > 0
    assert civil.agreements_active == 2
    assert civil.agreements_expiring == 1


def test_an_empty_period_and_a_quiet_agency_show_zeros(seeded: ArchiveStore) -> None:
    # given a period before any entry
    card = compute_scorecard(seeded, parse_period("2025-Q1"), DIRECTORY, AGREEMENTS, now=NOW)
    # then every agency of the directory and of the agreements is listed with zeros
    ids = {s.agency for s in card.agencies}
    assert set(DIRECTORY) | {"health", "police"} <= ids
    for score in card.agencies:
        assert (score.events_published, score.deliveries_made, score.deliveries_received) == (0, 0, 0)
        assert score.rejected_share == 0.0
        assert score.paper_avoided == 0
        assert score.denials_as_provider == {} == score.denials_as_consumer
        assert (score.latency_p50_s, score.latency_p95_s) == (None, None)
        assert all(f.last_change is None and f.age_s is None for f in score.freshness)
    quiet = next(s for s in card.agencies if s.agency == "quiet-agency")
    assert quiet.name == DIRECTORY["quiet-agency"]
    assert quiet.freshness[0].record_type == "person"


def test_an_empty_archive_gives_zeros(tmp_path: Path) -> None:
    store = ArchiveStore(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    store.migrate()
    card = compute_scorecard(store, parse_period("2026-Q4"), DIRECTORY, [], now=NOW)
    assert [s.agency for s in card.agencies] == sorted(DIRECTORY)
    assert all(s == AgencyScore(**{**s.model_dump(), "name": s.name}) for s in card.agencies)
    assert all(s.events_published == 0 and s.freshness == [] for s in card.agencies)


def test_postgresql_gives_the_same_figures(postgres: PostgresServer, unique: str) -> None:
    store = seed_archive(postgres.create_database(f"scorecard_{unique}"), 5_000)
    try:
        for period in ("2026-Q4", "2026"):
            card = compute_scorecard(store, parse_period(period), DIRECTORY, AGREEMENTS, now=NOW)
            check_against_recomputation(store, card)
            check_agreements(card)
    finally:
        store.close()
