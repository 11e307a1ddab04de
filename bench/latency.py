"""``latency`` and ``scale``: processor workers as separate processes, measured from outside.

latency: a publisher process offers a fixed load (1k, 5k, 10k events/s) through the publisher
SDK; one processor process; the subscriber SDK in this process records ce_time → handler for
every delivery of one agreement (same clock). Events of the first 3 s of each run are warm-up
(subscriber group join, delivery topic creation) and are not counted.
scale: the same backlog drained by 1 and then 2 processor processes (each starts only when all
partitions are assigned, so no rebalance is timed); the rate comes from the workers' own counts
of records processed (the embedded broker's OffsetFetch answer does not decode in aiokafka's admin
client).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import statistics
import sys
import time
from typing import Any

from bench.world import CONSUMER, Provider, World, tax_agreement
from bus.event import topics
from bus.kafka.client import KafkaSettings, iter_to_end
from bus.subscriber import Subscriber, Update


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": ordered[-1] * 1000,
    }


async def spawn(
    world: World, role: str, config: dict[str, Any], login: KafkaSettings | None = None
) -> asyncio.subprocess.Process:
    """A bench worker process, logged in as ``login`` (a provider's) or as its own component."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.worker",
        role,
        json.dumps({"bootstrap": world.settings.bootstrap, "registry": world.registry_url, **config}),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=world.worker_env(login),
    )


async def expect(process: asyncio.subprocess.Process, prefix: str, within_s: float = 120) -> str:
    assert process.stdout is not None
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), within_s)).decode()
        if not line:
            raise RuntimeError(f"worker exited before saying {prefix!r}")
        if line.startswith(prefix):
            return line.strip()


async def stop(process: asyncio.subprocess.Process) -> list[str]:
    """Terminate (kill after 20 s); returns the lines it printed that nobody read yet."""
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()
    if process.stdout is None:
        return []
    with contextlib.suppress(RuntimeError, OSError):  # a reader task may hold the stream
        return (await process.stdout.read()).decode().splitlines()
    return []


def transactions(lines: list[str]) -> dict[str, float]:
    """The processor's count and mean duration of its transactions, from its last lines."""
    for line in lines:
        if line.startswith("transactions "):
            count, total = float(line.split()[1]), float(line.split()[2])
            return {"transactions": count, "mean_transaction_ms": total / count * 1000 if count else 0.0}
    return {}


async def processor_process(
    world: World, provider: Provider, group: str, *, wait_go: bool = False, exactly_once: bool | None = None
) -> Any:
    return await spawn(
        world,
        "processor",
        {
            "group": group,
            "token": world.token,
            "pattern": rf"^{provider.topic}$",
            "signing_key": str(provider.processor_settings().signing_key),
            "wait_go": wait_go,
            "progress": wait_go,  # the scale scenario counts from these lines
            "exactly_once": exactly_once,
        },
    )


async def one_load(
    world: World, rate: int, seconds: float, warm_s: float = 3.0, *, exactly_once: bool | None = None
) -> dict[str, Any]:
    """``warm_s`` first seconds of publishing are not counted (group joins, topic creation)."""
    label = f"{rate}" if exactly_once is not False else f"{rate}acked"
    provider = await world.provider(f"lat{label}")
    worker = await processor_process(world, provider, f"bus-processor-lat-{label}", exactly_once=exactly_once)
    latencies: list[tuple[dt.datetime, float]] = []
    handled: dict[str, float] = {}  # ce_id -> handler time (s since the epoch)

    async def handler(update: Update) -> None:
        now = dt.datetime.now(dt.UTC)
        latencies.append((update.event_time, (now - update.event_time).total_seconds()))
        handled[update.event_id] = now.timestamp()

    last: list[str] = []
    try:
        await expect(worker, "assigned")
        async with Subscriber(
            CONSUMER,
            world.consumer_token,
            bootstrap=world.consumer_settings,
            registry=world.registry_url,
            store_path=world.tmp / f"{provider.provider}.subscriber.sqlite",
            max_batch=2000,
        ) as subscriber:
            task = asyncio.create_task(subscriber.run(tax_agreement(provider), handler))
            counted_from = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=warm_s)
            publisher = await spawn(
                world,
                "publish",
                {
                    "provider": provider.provider,
                    "key_file": str(world.key_file(provider)),
                    "spool": str(world.tmp / f"{provider.provider}.spool.sqlite"),
                    "rate": rate,
                    "seconds": seconds + warm_s,
                },
                provider.provider_settings,
            )
            published = int((await expect(publisher, "published", within_s=seconds + 180)).split()[1])
            await publisher.wait()
            deadline = time.monotonic() + 60
            while len(latencies) < published and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a count
                await asyncio.sleep(0.1)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        last = await stop(worker)
    steady = [latency for at, latency in latencies if at >= counted_from]
    return {
        "offered_per_s": rate,
        "published": published,
        "published_per_s": published / (seconds + warm_s),
        "delivered": len(latencies),
        **(quantiles(steady) if steady else {}),
        "path": "ce_time (publisher SDK) -> subscriber SDK handler",
        "stages": await _stages(world, provider, handled, counted_from.timestamp()),
        "processor": transactions(last),
    }


async def _stages(
    world: World, provider: Provider, handled: dict[str, float], counted_from: float
) -> dict[str, dict[str, float]]:
    """Where the milliseconds go, per event: the three stages between its four timestamps.

    ce_time (the publish call), the ingress record's and the delivery record's timestamps (set when
    the publisher's sender and the processor's producer append them) and the handler call; all
    clocks are this machine's.
    """
    ingress = await _stamps(world, provider.topic)
    delivery = await _stamps(world, topics.deliver(CONSUMER, tax_agreement(provider)))
    spans: dict[str, list[float]] = {"publisher": [], "processor": [], "subscriber": []}
    for event_id, (event_time, produced) in delivery.items():
        appended = ingress.get(event_id)
        done = handled.get(event_id)
        if appended is None or done is None or event_time < counted_from:
            continue
        spans["publisher"].append(appended[1] - event_time)
        spans["processor"].append(produced - appended[1])
        spans["subscriber"].append(done - produced)
    return {
        {
            "publisher": "publisher (ce_time -> ingress record appended)",
            "processor": "processor (ingress record -> delivery record appended)",
            "subscriber": "subscriber (delivery record -> handler; includes the commit)",
        }[stage]: quantiles(values)
        for stage, values in spans.items()
        if values
    }


async def _stamps(world: World, topic: str) -> dict[str, tuple[float, float]]:
    """ce_id -> (ce_time, record timestamp), in seconds since the epoch, for every record of ``topic``."""
    stamps: dict[str, tuple[float, float]] = {}
    async for batch in iter_to_end(world.settings, topic):
        for record in batch:
            headers = dict(record.headers)
            event_id, event_time = headers.get("ce_id"), headers.get("ce_time")
            if event_id is None or event_time is None:
                continue
            at = dt.datetime.fromisoformat(event_time.decode()).timestamp()
            stamps[event_id.decode()] = (at, record.timestamp / 1000)
    return stamps


async def latency(loads: tuple[int, ...], seconds: float, *, acked_too: bool = False) -> dict[str, Any]:
    """Each load on the engine's default guarantee; with ``acked_too`` (Kafka, where the default is a
    transaction per batch) the first load again without transactions, to show what they cost."""
    async with World() as world:
        results = {str(rate): await one_load(world, rate, seconds) for rate in loads}
        if acked_too:
            acked = await one_load(world, loads[0], seconds, exactly_once=False)
            results[f"{loads[0]} at-least-once"] = acked
        return results


async def _drain(world: World, provider: Provider, count: int, workers: int) -> float:
    """Events/s of ``workers`` processes draining a backlog, from their ``progress`` lines.

    The backlog is written once every worker holds partitions: a librdkafka worker joins its group
    only while it polls, so it joins on the empty topic and then waits for "go"."""
    group = f"bus-processor-scale-{workers}"
    processes = [await processor_process(world, provider, group, wait_go=True) for _ in range(workers)]
    progress = [0] * workers

    async def follow(index: int, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            if line.startswith(b"progress "):
                progress[index] = int(line.split()[1])

    try:
        for process in processes:  # every worker holds partitions: the group has settled
            await expect(process, "assigned")
        await world.backlog(provider, count)
        readers = [asyncio.create_task(follow(i, p)) for i, p in enumerate(processes)]
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        first, started = 0, time.perf_counter()
        while sum(progress) < count:
            if not first and sum(progress) != 0:
                first, started = sum(progress), time.perf_counter()
            await asyncio.sleep(0.02)
        rate = (count - first) / (time.perf_counter() - started)
    finally:
        for process in processes:
            await stop(process)
    for reader in readers:
        reader.cancel()
    return rate


async def scale(count: int) -> dict[str, Any]:
    async with World() as world:
        rates = {}
        for workers in (1, 2):
            provider = await world.provider(f"scale{workers}")
            rates[workers] = await _drain(world, provider, count, workers)
    return {
        "events": count,
        "events_per_s_1_worker": rates[1],
        "events_per_s_2_workers": rates[2],
        "speedup_2_workers": rates[2] / rates[1],
        "note": (
            "2 cores: the broker, both workers and this process share them, so 2 workers cannot reach "
            "2 cores' worth; on a machine with a core per worker (and the broker elsewhere) they can"
        ),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(latency((1000,), 5.0)), indent=1))
