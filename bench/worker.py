"""Bench components in processes of their own, so each has its own core share (and RSS to sample).

``python -m bench.worker processor CONFIG``: a processor worker; prints ``assigned <n>`` once it
holds partitions (its scenario fills the ingress topic only after that), waits for a line on
stdin when ``wait_go`` is set, then runs until SIGTERM (``progress <n>`` lines with ``progress``),
and prints ``processed <n>`` and ``transactions <count> <seconds in all>`` as it exits.
``python -m bench.worker publish CONFIG``: publishes person changes through the publisher SDK at a
fixed rate for a fixed time (ce_time is stamped at publish), then prints ``published <n>``.
CONFIG is one JSON argument written by the scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from bench.engine import profile
from bench.world import people
from bus.event.envelope import ChangeKind
from bus.event.signing import private_key_from_pem
from bus.kafka.client import KafkaSettings
from bus.processor.service import Processor, ProcessorSettings
from connectors.sdk import Change, Publisher


def _settings(config: dict[str, Any]) -> KafkaSettings:
    return KafkaSettings(bootstrap=config["bootstrap"], broker_profile=profile())


async def processor(config: dict[str, Any]) -> None:
    worker = Processor(
        _settings(config),
        ProcessorSettings(
            group_id=config["group"],
            registry_url=config["registry"],
            operator_token=config["token"],
            topic_pattern=config["pattern"],
            signing_key=Path(config["signing_key"]),
            exactly_once=config.get("exactly_once"),
        ),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await worker.start()
    try:
        deadline = time.monotonic() + 60
        while not worker.assignment and time.monotonic() < deadline:  # joins on an empty ingress topic
            await worker.step()
        print(f"assigned {len(worker.assignment)}", flush=True)
        if config.get("wait_go"):
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        # only when asked: nobody reads a long run's pipe, and a full pipe would stall this worker's loop
        reporting = asyncio.create_task(_progress(worker, stop)) if config.get("progress") else None
        await worker.run(stop)
        if reporting is not None:
            await reporting
    finally:
        await worker.stop()
        print(f"processed {worker.processed}", flush=True)
        count = REGISTRY.get_sample_value("bus_processor_transaction_seconds_count") or 0.0
        total = REGISTRY.get_sample_value("bus_processor_transaction_seconds_sum") or 0.0
        print(f"transactions {count:.0f} {total:.6f}", flush=True)


async def _progress(worker: Processor, stop: asyncio.Event) -> None:
    """``progress <n>`` lines (records processed so far) for a scenario that counts from outside."""
    while not stop.is_set():
        print(f"progress {worker.processed}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def publish(config: dict[str, Any]) -> None:
    rate, seconds, chunk = float(config["rate"]), float(config["seconds"]), int(config.get("chunk", 0))
    chunk = chunk or max(1, int(rate / 100))  # 100 publish calls per second
    persons = people(int(config.get("people", 5000)))
    key = private_key_from_pem(Path(config["key_file"]).read_bytes())  # noqa: ASYNC240 - start-up
    sent = 0
    async with Publisher(
        config["provider"],
        "bench",
        key,
        bootstrap=_settings(config),
        registry=config["registry"],
        spool_path=Path(config["spool"]),
    ) as publisher:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            due = int((time.monotonic() - started) * rate)
            if sent >= due:
                await asyncio.sleep(min(0.01, (sent + chunk - due) / rate))
                continue
            batch = [persons[(sent + i) % len(persons)] for i in range(min(chunk, due - sent))]
            await publisher.publish_many([Change(ChangeKind.CREATED, "person", p["iin"], p) for p in batch])
            sent += len(batch)
        await publisher.flush(timeout_s=120)
    print(f"published {sent}", flush=True)


def main() -> None:
    role, config = sys.argv[1], json.loads(sys.argv[2])
    asyncio.run({"processor": processor, "publish": publish}[role](config))


if __name__ == "__main__":
    main()
