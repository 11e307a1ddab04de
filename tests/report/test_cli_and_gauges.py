"""``bus report agencies`` prints the computed figures as table, CSV or JSON; the gauges carry them too."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bus.audit.db import ArchiveStore
from bus.cli.report import app
from bus.policy.agreement import load_agreements
from bus.report.gauges import export
from bus.report.period import parse_period
from bus.report.scorecard import compute_scorecard
from tests.report.seed import seed_archive
from tests.support.cli import BusRunner

REPO = Path(__file__).resolve().parents[2]
AGREEMENTS = REPO / "deploy" / "agreements"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ArchiveStore]:
    url = f"sqlite:///{tmp_path_factory.mktemp('report-cli') / 'audit.sqlite'}"
    return url, seed_archive(url, 3_000)


def invoke(url: str, *args: str) -> str:
    result = BusRunner().invoke(
        app, ["agencies", "--period", "2026-Q3", "--db", url, "--agreements", str(AGREEMENTS), *args]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_csv_and_json_carry_the_computed_figures(archive: tuple[str, ArchiveStore]) -> None:
    url, store = archive
    expected = compute_scorecard(store, parse_period("2026-Q3"), {}, load_agreements(AGREEMENTS))
    rows = {r["agency"]: r for r in csv.DictReader(io.StringIO(invoke(url, "--format", "csv")))}
    body = json.loads(invoke(url, "--format", "json"))
    assert set(rows) == {s.agency for s in expected.agencies} == {a["agency"] for a in body["agencies"]}
    for score in expected.agencies:
        row = rows[score.agency]
        assert int(row["events_published"]) == score.events_published
        assert float(row["rejected_share"]) == pytest.approx(score.rejected_share, abs=1e-6)
        assert row["latency_p95_s"] == ("" if score.latency_p95_s is None else str(score.latency_p95_s))
        assert int(row["deliveries_received"]) == score.deliveries_received
        assert int(row["agreements_active"]) == score.agreements_active
    civil = next(a for a in body["agencies"] if a["agency"] == "civil-registry")
    assert civil == next(s for s in expected.agencies if s.agency == "civil-registry").model_dump(mode="json")


def test_the_table_names_the_period_and_every_agency(archive: tuple[str, ArchiveStore]) -> None:
    url, _ = archive
    output = invoke(url, "--format", "table")
    assert "agency scorecard 2026-Q3" in output
    assert "land-registry" in output


def test_an_unknown_period_and_a_missing_archive_are_named(tmp_path: Path) -> None:
    bad = BusRunner().invoke(app, ["agencies", "--period", "Q9", "--agreements", str(AGREEMENTS)])
    assert bad.exit_code == 1
    assert "not a reporting period" in bad.output
    missing = BusRunner().invoke(
        app, ["agencies", "--db", f"sqlite:///{tmp_path / 'none.sqlite'}", "--agreements", str(AGREEMENTS)]
    )
    assert missing.exit_code == 1
    assert "holds no audit archive" in missing.output


def test_the_gauges_hold_the_same_figures(archive: tuple[str, ArchiveStore]) -> None:
    _, store = archive
    card = compute_scorecard(store, parse_period("2026-Q3"), {}, load_agreements(AGREEMENTS))
    export(card)
    for score in card.agencies:
        labels = {"agency": score.agency}
        assert REGISTRY.get_sample_value("bus_scorecard_events_published", labels) == score.events_published
        assert REGISTRY.get_sample_value("bus_scorecard_rejected_ratio", labels) == score.rejected_share
        assert REGISTRY.get_sample_value("bus_scorecard_latency_p95_seconds", labels) == score.latency_p95_s
        assert REGISTRY.get_sample_value("bus_scorecard_paper_avoided", labels) == score.paper_avoided
        denied = sum(score.denials_as_consumer.values())
        assert REGISTRY.get_sample_value("bus_scorecard_denials_as_consumer", labels) == denied
