"""``soak`` (``--soak``, not in CI): 30 minutes at 2k events/s on a durable broker (as ``bus up``
keeps its data), RSS of every component each 10 s.

Components: the embedded broker, the processor and the publisher (processes of their own), and
this process (registry + subscriber SDK). Growth is the last sample against the first sample
after a one-minute warm-up; "flat" means under 5 %. Growth only says "leak" when the bus kept up:
a backlog grows buffers too, so the result also gives published vs delivered. Latencies are kept
for one update in ``SAMPLE_EVERY`` so the harness's own list does not count as subscriber growth.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from bench.latency import expect, processor_process, quantiles, spawn, stop
from bench.proc_cpu import cpu_s
from bench.world import CONSUMER, World, tax_agreement
from bus.subscriber import Subscriber, Update

SAMPLE_EVERY = 50


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def run(
    seconds: float = 1800.0, rate: int = 2000, every_s: float = 10.0, warm_s: float = 60.0
) -> dict[str, Any]:
    async with World(durable=True) as world:  # the storage `bus up` uses by default
        provider = await world.provider("soak")
        worker = await processor_process(world, provider, "bus-processor-soak")  # its ACL prefix
        latencies: list[float] = []
        handled = 0
        published = 0
        delivered_at_end = 0

        async def handler(update: Update) -> None:
            nonlocal handled
            handled += 1
            if handled % SAMPLE_EVERY == 0:
                latencies.append((dt.datetime.now(dt.UTC) - update.event_time).total_seconds())

        samples: dict[str, list[tuple[float, int]]] = {}
        cpu: dict[str, list[float]] = {}
        try:
            await expect(worker, "assigned")
            async with Subscriber(
                CONSUMER,
                world.consumer_token,
                bootstrap=world.consumer_settings,
                registry=world.registry_url,
                store_path=world.tmp / "soak.subscriber.sqlite",
                max_batch=2000,
            ) as subscriber:
                task = asyncio.create_task(subscriber.run(tax_agreement(provider), handler))
                publisher = await spawn(
                    world,
                    "publish",
                    {
                        "provider": provider.provider,
                        "key_file": str(world.key_file(provider)),
                        "spool": str(world.tmp / "soak.spool.sqlite"),
                        "rate": rate,
                        "seconds": seconds,
                    },
                    provider.provider_settings,
                )
                pids = {
                    "broker": world.broker.pid or 0,
                    "processor": worker.pid,
                    "publisher": publisher.pid,
                    "registry+subscriber": os.getpid(),
                }
                started = time.monotonic()
                ended = asyncio.ensure_future(expect(publisher, "published", within_s=seconds + 60))
                while not ended.done() and time.monotonic() - started < seconds + 5:
                    for name, pid in pids.items():
                        with contextlib.suppress(OSError):
                            samples.setdefault(name, []).append((time.monotonic() - started, rss_kib(pid)))
                            cpu.setdefault(name, []).append(cpu_s(Path(f"/proc/{pid}/stat")))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(ended), every_s)
                if ended.done() and not ended.exception():
                    published = int(ended.result().split()[1])
                    caught_up = time.monotonic() + 5  # the goal: delivered = published within 5 s
                    while handled < published and time.monotonic() < caught_up:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                    delivered_at_end = handled
                ended.cancel()
                await stop(publisher)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        finally:
            await stop(worker)
    result: dict[str, Any] = {
        "seconds": seconds,
        "rate_per_s": rate,
        "published": published,
        "delivered_within_5_s_of_end": delivered_at_end,
        "kept_up": bool(published) and delivered_at_end >= published,
        "latency_sampled_every": SAMPLE_EVERY,
    }
    for name, points in samples.items():
        after = [kib for at, kib in points if at >= warm_s] or [kib for _, kib in points]
        result[name] = {
            "rss_mib_after_warmup": after[0] / 1024,
            "rss_mib_last": after[-1] / 1024,
            "growth_pct": (after[-1] - after[0]) / after[0] * 100 if after[0] else 0.0,
            "samples_mib": [round(kib / 1024, 1) for _, kib in points],
            "cpu_share_per_interval": [
                round((b - a) / every_s, 2) for a, b in zip(cpu[name], cpu[name][1:], strict=False)
            ],
        }
    if latencies:
        result["latency"] = quantiles(latencies[len(latencies) // 10 :])
    return result
