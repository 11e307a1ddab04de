"""``bench/results.json``: the last figures per engine, so Kafka's and tansu's stand side by side.

Each engine keeps its scenarios from earlier runs that this run did not repeat, each scenario with
the time it was measured; ``goals`` is issue #22's table computed from both.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from bench import goals

RESULTS = Path(__file__).resolve().parent / "results.json"


def load(path: Path = RESULTS) -> dict[str, Any]:
    """The file as ``{"engines": {engine: {...}}}``; a file in the one-engine layout of before is read
    as that engine's."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"engines": {}}
    if "engines" in found:
        return dict(found)
    if "scenarios" in found:
        engine = found.get("engine", "tansu")
        return {"engines": {engine: {k: v for k, v in found.items() if k != "machine"}}}
    return {"engines": {}}


def save(
    machine: dict[str, Any],
    engine: str,
    reason: str,
    quick: bool,
    scenarios: dict[str, Any],
    path: Path = RESULTS,
) -> dict[str, Any]:
    results = load(path)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for figures in scenarios.values():
        figures["measured_at"] = now
        figures["quick"] = quick
    earlier = results["engines"].get(engine, {}).get("scenarios", {})
    results["engines"][engine] = {
        "engine_reason": reason,
        "ran": sorted(scenarios),
        "scenarios": {**earlier, **scenarios},
    }
    results["machine"] = machine
    results["goals"] = goals.rows({e: r["scenarios"] for e, r in sorted(results["engines"].items())})
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results
