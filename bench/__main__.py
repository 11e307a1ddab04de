"""``python -m bench [--quick]``: run the benchmarks, print one table, write bench/results.json."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import broker_storage, pipeline, publish, signing

RESULTS = Path(__file__).resolve().parent / "results.json"


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer records (under 3 minutes)")
    args = parser.parse_args()
    records = 50_000 if args.quick else 200_000
    storage = asyncio.run(broker_storage.run(records))
    table = Table(
        "scenario",
        "storage",
        "batching",
        "produce msg/s",
        "read msg/s",
        title=f"agency-bus bench ({records:,} records of {storage['value_bytes']} bytes)",
    )
    for figure in storage["figures"]:
        table.add_row(
            "broker_storage",
            figure["storage"],
            figure["batching"],
            f"{figure['produce_per_s']:,.0f}",
            f"{figure['read_per_s']:,.0f}",
        )
    for name, ratio in storage["durable_to_memory"].items():
        table.add_row("durable/memory", "ratio", name, f"{ratio['produce']:.2f}", f"{ratio['read']:.2f}")
    Console().print(table)
    signatures = signing.run(20_000 if args.quick else 100_000)
    publishing = asyncio.run(publish.run(20_000 if args.quick else 100_000))
    figures = Table("scenario", "figure", "value", title="signing and publishing (same run)")
    for row in signatures["figures"]:
        for figure in ("sign_per_s", "verify_per_s"):
            figures.add_row(
                "signing", f"{row['scheme']} {figure} (batch {row['batch_size']})", f"{row[figure]:,.0f}"
            )
    for name, ratio in signatures["batch_to_per_event"].items():
        figures.add_row("signing", f"batch/per-event {name}", f"{ratio:.2f}")
    for key, value in publishing.items():
        if isinstance(value, float):
            figures.add_row("publish", key, f"{value:,.2f}")
    pipe = asyncio.run(pipeline.run(10_000 if args.quick else 50_000))
    for key in ("raw_events_per_s", "pipeline_events_per_s", "ratio_to_raw"):
        figures.add_row("pipeline", f"{key} (fan-out {pipe['fan_out']})", f"{pipe[key]:,.2f}")
    Console().print(figures)
    raw = {"events_per_s": pipe["raw_events_per_s"], "fan_out": pipe["fan_out"]}
    scenarios = {
        "raw": raw,
        "pipeline": pipe,
        "broker_storage": storage,
        "signing": signatures,
        "publish": publishing,
    }
    RESULTS.write_text(json.dumps({"machine": machine(), "scenarios": scenarios}, indent=2))
    Console().print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
