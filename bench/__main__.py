"""``python -m bench [--quick] [--soak] [--only NAME ...]``: run the benchmarks, print one table,
write bench/results.json.

Scenarios (each figure measured in the same run as its baseline, on a local broker of the chosen
engine, with canonical person records): raw, pipeline, pipeline_cpu, latency, scale, publish,
registry, tracker, receipts, wallet, and the older broker_storage, signing, idle and transactions
(Kafka only); soak only with ``--soak`` (30 minutes, not in CI). The figures of each engine's last run
stand side by side in results.json, with issue #22's goal table.
``--quick`` runs reduced sizes in about 5 minutes on an idle 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import (
    broker_storage,
    goals,
    idle,
    latency,
    pipeline,
    pipeline_cpu,
    publish,
    receipt_latency,
    registry,
    results,
    signing,
    soak,
    tracker_latency,
    transactions,
    wallet_latency,
)
from bus.broker.engine import Engine, choose

DEFAULT = (
    *("raw", "pipeline", "pipeline_cpu", "latency", "scale", "publish"),
    *("registry", "tracker", "receipts", "wallet"),
)
OLDER = ("broker_storage", "signing", "idle", "transactions")


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        info["cpu"] = model
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return info


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="reduced sizes (under 3 minutes)")
    parser.add_argument("--soak", action="store_true", help="also the 30-minute soak at 2k events/s")
    parser.add_argument(
        "--soak-rate", type=int, default=2000, help="events/s offered in the soak (default 2000)"
    )
    parser.add_argument(
        "--soak-seconds", type=float, default=1800.0, help="how long the soak offers load (default 1800)"
    )
    parser.add_argument("--profile", action="store_true", help="write bench/profile-pipeline.txt")
    parser.add_argument(
        "--engine",
        choices=[e.value for e in Engine],
        default=Engine.AUTO.value,
        help="broker engine to measure on (default auto: Apache Kafka when Java 17 is present)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=[*DEFAULT, *OLDER, "soak", "all"], help="run just these scenarios"
    )
    args = parser.parse_args()
    choice = choose(Engine(args.engine))
    os.environ["BUS_ENGINE"] = choice.engine.value  # worker processes measure the same engine
    quick = args.quick
    wanted = set(args.only or (DEFAULT if quick else (*DEFAULT, *OLDER)))
    if "all" in wanted:
        wanted = {*DEFAULT, *OLDER}
    if args.soak:
        wanted.add("soak")
    console = Console(width=max(Console().width, 150))  # tables stay readable in a log file
    console.print(f"engine: [bold]{choice.engine.value}[/] ({choice.reason})")
    scenarios: dict[str, Any] = {}
    loads: dict[str, str] = {}

    def scenario(name: str, run: Callable[[], Any]) -> None:
        if name not in wanted:
            return
        console.print(f"[bold]{name}[/] (load average {_load()})")
        started = time.perf_counter()
        scenarios[name] = run()
        loads[name] = _load()
        scenarios[name]["load_average_after"] = loads[name]
        scenarios[name]["seconds"] = round(time.perf_counter() - started, 1)

    count = 10_000 if quick else 50_000
    if wanted & {"raw", "pipeline"}:
        both = asyncio.run(
            pipeline.run(count, compression=("lz4", "zstd"), pipeline_compression=() if quick else ("lz4",))
        )
        for name in ("raw", "pipeline"):
            both[name]["load_average_after"] = _load()
            scenarios[name] = both[name]
    scenario("pipeline_cpu", lambda: pipeline_cpu.run(3_000 if quick else 20_000, profile=args.profile))
    scenario(
        "latency",
        lambda: asyncio.run(
            latency.latency((1000, 5000), 5.0 if quick else 20.0, acked_too=choice.engine is Engine.KAFKA)
        ),
    )
    scenario("scale", lambda: asyncio.run(latency.scale(12_000 if quick else 60_000)))
    scenario("registry", lambda: asyncio.run(registry.run(2.0 if quick else 5.0)))
    scenario("tracker", lambda: asyncio.run(tracker_latency.run(30 if quick else 200)))
    scenario("receipts", lambda: asyncio.run(receipt_latency.run(30 if quick else 200)))
    scenario("wallet", lambda: asyncio.run(wallet_latency.run(30 if quick else 200)))
    scenario("broker_storage", lambda: asyncio.run(broker_storage.run(50_000 if quick else 200_000)))
    scenario("signing", lambda: signing.run(20_000 if quick else 100_000))
    scenario("publish", lambda: asyncio.run(publish.run(20_000 if quick else 100_000)))
    scenario("idle", lambda: idle.run(seconds=60.0, steady_from_s=None if quick else 240.0))
    scenario("transactions", lambda: asyncio.run(transactions.run(20_000 if quick else 100_000)))
    scenario("soak", lambda: asyncio.run(soak.run(seconds=args.soak_seconds, rate=args.soak_rate)))

    saved = results.save(machine(), choice.engine.value, choice.reason, quick, scenarios)
    console.print(table(scenarios))
    console.print(goal_table(saved))
    console.print(f"wrote {results.RESULTS}")


def goal_table(saved: dict[str, Any]) -> Table:
    """Issue #22's goals beside each engine's last figures (other engines' from their last run)."""
    engines = sorted(saved["engines"])
    rows = Table("figure", "goal", *engines, title="issue #22 goals (each engine's last run)")
    by_goal = {g.figure: g for g in goals.GOALS}
    for row in saved["goals"]:
        goal = by_goal[row["figure"]]
        cells = [
            f"{goals.show(goal, row[e]['value'])} ({row[e]['verdict']})" if e in row else "—" for e in engines
        ]
        rows.add_row(row["figure"], row["goal"], *cells)
    return rows


def table(scenarios: dict[str, Any]) -> Table:
    rows = Table("scenario", "figure", "value", "load avg (1/5/15 min, after)", title="agency-bus bench")

    def add(name: str, figure: str, value: float | str, fmt: str = ",.0f") -> None:
        text = value if isinstance(value, str) else format(value, fmt)
        rows.add_row(name, figure, text, scenarios[name].get("load_average_after", ""))

    if "raw" in scenarios:
        raw = scenarios["raw"]
        for key, value in raw["variants_events_per_s"].items():
            add("raw", f"{key} events/s (fan-out {raw['fan_out']} unless 1to1)", value)
    if "pipeline" in scenarios:
        pipe = scenarios["pipeline"]
        add("pipeline", "events/s, 1 worker", pipe["events_per_s"])
        add("pipeline", "ratio to raw (same fan-out, batched)", pipe["ratio_to_raw"], ".2f")
        add("pipeline", "ratio to raw (per-record send)", pipe["ratio_to_raw_per_record_send"], ".2f")
        add("pipeline", "subscriber SDK events/s (one agreement)", pipe["subscriber"]["events_per_s"])
        add(
            "pipeline",
            "CPU µs per event, whole worker (processing + Kafka client threads)",
            pipe["cpu_us_per_event_whole_worker"],
            ".0f",
        )
        for group, value in pipe.get("cpu_us_per_event_by_thread", {}).items():
            add("pipeline", f"  of which {group}", value, ".0f")
        for codec, value in pipe["compression_events_per_s"].items():
            add("pipeline", f"events/s with compression {codec}", value)
        for guarantee, value in pipe.get("guarantee_events_per_s", {}).items():
            add("pipeline", f"events/s {guarantee.replace('_', ' ')}", value)
    if "pipeline_cpu" in scenarios:
        cpu = scenarios["pipeline_cpu"]
        add("pipeline_cpu", "CPU µs per event (process only)", cpu["cpu_us_per_event"], ".0f")
        add("pipeline_cpu", "events per CPU second", cpu["events_per_cpu_s"])
    for rate, figures in scenarios.get("latency", {}).items():
        if isinstance(figures, dict) and "p99_ms" in figures:
            add(
                "latency",
                f"{rate}/s p50 / p95 / p99 ms",
                f"{figures['p50_ms']:.0f} / {figures['p95_ms']:.0f} / {figures['p99_ms']:.0f}",
            )
            for stage, spans in figures.get("stages", {}).items():
                add(
                    "latency",
                    f"  {rate}/s {stage}: p50 / p99 ms",
                    f"{spans['p50_ms']:.0f} / {spans['p99_ms']:.0f}",
                )
    if "scale" in scenarios:
        scale = scenarios["scale"]
        add("scale", "1 worker events/s", scale["events_per_s_1_worker"])
        add("scale", "2 workers events/s", scale["events_per_s_2_workers"])
        add("scale", "speedup 2 workers", scale["speedup_2_workers"], ".2f")
    if "registry" in scenarios:
        for key, value in scenarios["registry"].items():
            if key.endswith("_per_s"):
                add("registry", key, value)
    if "tracker" in scenarios:
        tracker = scenarios["tracker"]
        add(
            "tracker",
            f"decision -> visible p50 / p99 ms ({tracker['rate_per_s']:.0f}/s)",
            f"{tracker['p50_s'] * 1000:.0f} / {tracker['p99_s'] * 1000:.0f}",
        )
    if "receipts" in scenarios:
        receipted = scenarios["receipts"]
        add(
            "receipts",
            f"ack -> receipt in the archive p50 / p99 ms ({receipted['rate_per_s']:.0f}/s)",
            f"{receipted['p50_s'] * 1000:.0f} / {receipted['p99_s'] * 1000:.0f}",
        )
    if "wallet" in scenarios:
        wallet = scenarios["wallet"]
        add(
            "wallet",
            f"address change -> wallet API p50 / p99 ms ({wallet['rate_per_s']:.0f}/s)",
            f"{wallet['p50_s'] * 1000:.0f} / {wallet['p99_s'] * 1000:.0f}",
        )
    if "soak" in scenarios:
        soaked = scenarios["soak"]
        add(
            "soak",
            f"published / delivered within 5 s of the end ({soaked['rate_per_s']}/s offered)",
            f"{soaked.get('published', 0):,} / {soaked.get('delivered_within_5_s_of_end', 0):,}",
        )
        for name, figures in soaked.items():
            if isinstance(figures, dict) and "growth_pct" in figures:
                add("soak", f"{name} RSS growth % after warm-up", figures["growth_pct"], ".1f")
    for name in ("signing", "publish"):
        for key, value in scenarios.get(name, {}).items():
            if isinstance(value, float) and key not in ("seconds",):
                add(name, key, value, ",.2f")
    if "idle" in scenarios:
        for window in ("first_minute", "steady"):
            figures = scenarios["idle"].get(window)
            if figures is None:
                continue
            label = window.replace("_", " ")
            add(
                "idle",
                f"cores busy, `bus up` idle, {label} ({figures['window_s']:.0f} s)",
                figures["cores_busy_total"],
                ".3f",
            )
            for process, cores in figures["cores_busy_by_process"].items():
                add("idle", f"  of which {process}", cores, ".3f")
    txn = scenarios.get("transactions", {})
    for name in ("at_least_once", "aiokafka_txn", "librdkafka_txn"):
        if name in txn:
            figures = txn[name]
            add(
                "transactions",
                f"{name} events/s (committed outputs {figures['committed_outputs']:,})",
                figures["events_per_s"],
            )
            if "ratio_to_at_least_once" in figures:
                add(
                    "transactions", f"{name} ratio to at_least_once", figures["ratio_to_at_least_once"], ".2f"
                )
    if "broker_storage" in scenarios:
        for figure in scenarios["broker_storage"]["figures"]:
            add(
                "broker_storage",
                f"{figure['storage']}/{figure['batching']} produce msg/s",
                figure["produce_per_s"],
            )
    return rows


if __name__ == "__main__":
    main()
