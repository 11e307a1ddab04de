"""Issue #22's goal table, read from the figures of each engine's last run: value, goal, met or by how much.

A row is None for an engine whose run did not include its scenario (``python -m bench`` runs all but
the soak; ``--soak`` adds it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Scenarios = Mapping[str, Any]


@dataclass(frozen=True)
class Goal:
    figure: str
    goal: str
    read: Callable[[Scenarios], float | None]
    met: Callable[[float], bool]
    unit: str = ""


def _at(*path: str) -> Callable[[Scenarios], float | None]:
    def read(scenarios: Scenarios) -> float | None:
        found: Any = scenarios
        for step in path:
            if not isinstance(found, Mapping) or step not in found:
                return None
            found = found[step]
        return float(found) if isinstance(found, int | float) else None

    return read


def _soak_growth(scenarios: Scenarios) -> float | None:
    """The largest RSS growth after warm-up of any component, in %."""
    soak = scenarios.get("soak")
    if not isinstance(soak, Mapping):
        return None
    growths = [v["growth_pct"] for v in soak.values() if isinstance(v, Mapping) and "growth_pct" in v]
    return max(growths) if growths else None


def _soak_kept_up(scenarios: Scenarios) -> float | None:
    """Delivered within 5 s of the end, as a share of published."""
    soak = scenarios.get("soak")
    if not isinstance(soak, Mapping) or not soak.get("published"):
        return None
    delivered = soak.get("delivered_within_5_s_of_end", soak.get("delivered_by_end", 0))
    return float(delivered) / float(soak["published"])


GOALS: tuple[Goal, ...] = (
    Goal(
        "pipeline events/s, one worker, fan-out 7",
        "≥ 20,000",
        _at("pipeline", "events_per_s"),
        lambda v: v >= 20_000,
    ),
    Goal(
        "pipeline / raw, same fan-out, same run", "≥ 0.5", _at("pipeline", "ratio_to_raw"), lambda v: v >= 0.5
    ),
    Goal(
        "CPU per event, whole worker",
        "≤ 50 µs",
        _at("pipeline", "cpu_us_per_event_whole_worker"),
        lambda v: v <= 50,
        " µs",
    ),
    Goal(
        "publisher SDK events/s, spooled and signed",
        "≥ 20,000",
        _at("publish", "sdk_delivered_events_per_s"),
        lambda v: v >= 20_000,
    ),
    Goal(
        "1k/s offered: p50 publisher → handler",
        "< 15 ms",
        _at("latency", "1000", "p50_ms"),
        lambda v: v < 15,
        " ms",
    ),
    Goal(
        "1k/s offered: p99 publisher → handler",
        "< 50 ms",
        _at("latency", "1000", "p99_ms"),
        lambda v: v < 50,
        " ms",
    ),
    Goal(
        "1k/s offered, at least once: p99",
        "(< 50 ms)",
        _at("latency", "1000 at-least-once", "p99_ms"),
        lambda v: v < 50,
        " ms",
    ),
    Goal(
        "5k/s offered: p99 publisher → handler",
        "< 100 ms",
        _at("latency", "5000", "p99_ms"),
        lambda v: v < 100,
        " ms",
    ),
    Goal("2 workers / 1 worker", "≥ 1.8x", _at("scale", "speedup_2_workers"), lambda v: v >= 1.8, "x"),
    Goal("soak: delivered / published within 5 s of the end", "= 1", _soak_kept_up, lambda v: v >= 1.0),
    Goal("soak: largest RSS growth after warm-up", "< 5 %", _soak_growth, lambda v: v < 5, " %"),
)


def verdict(goal: Goal, value: float | None) -> str:
    if value is None:
        return "not measured"
    return "met" if goal.met(value) else "missed"


def show(goal: Goal, value: float | None) -> str:
    if value is None:
        return "—"
    if goal.unit == "x" or value < 10:
        return f"{value:.2f}{goal.unit}"
    return f"{value:,.0f}{goal.unit}"


def rows(by_engine: Mapping[str, Scenarios]) -> list[dict[str, Any]]:
    """One row per goal: its figure, the goal, and per engine the value and the verdict."""
    table = []
    for goal in GOALS:
        row: dict[str, Any] = {"figure": goal.figure, "goal": goal.goal}
        for engine, scenarios in by_engine.items():
            value = goal.read(scenarios)
            row[engine] = {"value": value, "verdict": verdict(goal, value)}
        table.append(row)
    return table
