"""``soak`` (``--soak``, not in CI): 10 minutes at 2k events/s, RSS of every component each 10 s.

Components: the embedded broker, the processor and the publisher (processes of their own), and
this process (registry + subscriber SDK). Growth is the last sample against the first sample
after a one-minute warm-up; "flat" means under 5 %.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import time
from typing import Any

from bench.latency import expect, processor_process, quantiles, spawn, stop
from bench.world import CONSUMER, World
from bus.subscriber.client import Subscriber
from bus.subscriber.update import Update


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def run(
    seconds: float = 600.0, rate: int = 2000, every_s: float = 10.0, warm_s: float = 60.0
) -> dict[str, Any]:
    async with World() as world:
        provider = await world.provider("soak")
        worker = await processor_process(world, provider, "bench-soak")
        latencies: list[float] = []

        async def handler(update: Update) -> None:
            latencies.append((dt.datetime.now(dt.UTC) - update.event_time).total_seconds())

        samples: dict[str, list[tuple[float, int]]] = {}
        try:
            await expect(worker, "assigned")
            async with Subscriber(
                CONSUMER,
                world.consumer_token,
                bootstrap=world.settings,
                registry=world.registry_url,
                store_path=world.tmp / "soak.subscriber.sqlite",
                max_batch=2000,
            ) as subscriber:
                task = asyncio.create_task(subscriber.run(provider.tax_agreement, handler))
                publisher = await spawn(
                    world,
                    "publish",
                    {
                        "provider": provider.name,
                        "key_file": str(world.key_file(provider)),
                        "spool": str(world.tmp / "soak.spool.sqlite"),
                        "rate": rate,
                        "seconds": seconds,
                    },
                )
                pids = {
                    "broker": world.broker.pid or 0,
                    "processor": worker.pid,
                    "publisher": publisher.pid,
                    "registry+subscriber": os.getpid(),
                }
                started = time.monotonic()
                while publisher.returncode is None and time.monotonic() - started < seconds + 5:
                    for name, pid in pids.items():
                        with contextlib.suppress(OSError):
                            samples.setdefault(name, []).append((time.monotonic() - started, rss_kib(pid)))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(publisher.wait(), every_s)
                await stop(publisher)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        finally:
            await stop(worker)
    result: dict[str, Any] = {"seconds": seconds, "rate_per_s": rate, "delivered": len(latencies)}
    for name, points in samples.items():
        after = [kib for at, kib in points if at >= warm_s] or [kib for _, kib in points]
        result[name] = {
            "rss_mib_after_warmup": after[0] / 1024,
            "rss_mib_last": after[-1] / 1024,
            "growth_pct": (after[-1] - after[0]) / after[0] * 100 if after[0] else 0.0,
            "samples_mib": [round(kib / 1024, 1) for _, kib in points],
        }
    if latencies:
        result["latency"] = quantiles(latencies[len(latencies) // 10 :])
    return result
