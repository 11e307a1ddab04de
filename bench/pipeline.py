"""``raw`` and ``pipeline``: the full processor vs raw aiokafka with the same fan-out, in one run.

raw: consume each ingress record and write its bytes, unchanged, to as many topics as the
pipeline writes for it (3 deliveries + state + 3 audit entries = 7), with the processor's own
I/O machinery (``getmany``, record batches per partition, two batches in flight, commit after
every ack) and no processing: the I/O-only ceiling, and the baseline of ``ratio_to_raw``. Also
measured: the same with aiokafka's per-record ``send()`` (what the processor used to do), and a
1:1 pass-through. pipeline: person records published through the publisher SDK, then the
processor (verify, decode, validate, state, 3 agreements, project, re-encode, audit, route) on
that backlog, then the subscriber SDK reading one agreement's deliveries; on Kafka also the same
pipeline without transactions (acks then commit). Each measurement gets a provider of its own, so
it starts from empty state topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import time
from collections import deque
from pathlib import Path
from typing import Any

from bench.proc_cpu import cpu_s
from bench.world import CONSUMER, FAN_OUT, Provider, World, tax_agreement
from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka.batch_writer import BatchWriter
from bus.kafka.client import KafkaSettings, create_topics, make_consumer, make_producer
from bus.processor.outputs import Output
from bus.processor.service import Processor
from bus.subscriber import Subscriber, Update

NO_CODEC = "skipped: needs cramjam (pip install -e '.[dev]')"


def codec_available(codec: str) -> bool:
    """aiokafka compresses lz4, zstd and snappy with ``cramjam``, which the plain install leaves out."""
    return codec in ("none", "gzip") or importlib.util.find_spec("cramjam") is not None


_RUNS = itertools.count()  # every raw run reads with a group of its own, from the beginning


async def raw(
    settings: KafkaSettings, source: Provider, count: int, *, fan_out: int, batched: bool, **producer: Any
) -> float:
    """Events/s of consume → produce the same bytes to ``fan_out`` topics, commit after the acks."""
    label = f"{source.provider}-{fan_out}-{'b' if batched else 's'}-{next(_RUNS)}"
    outputs = [TopicName(f"bench.raw.{label}.{n}") for n in range(fan_out)]
    await create_topics(settings, [TopicSpec(t, 6) for t in outputs])
    consumer = make_consumer(settings, source.topic, group_id=f"bench-raw-{label}", max_poll_records=2000)
    kafka = make_producer(settings, **producer)
    writer = BatchWriter(kafka)
    await consumer.start()
    await kafka.start()
    try:
        in_flight: deque[tuple[asyncio.Future[Any], dict[Any, int]]] = deque()
        done, warm, started = 0, 0, 0.0
        while done < count:
            batch = await consumer.getmany(timeout_ms=100, max_records=2000)
            records = [r for rs in batch.values() for r in rs]
            if batched:
                futures = await writer.write(
                    [Output(t, r.key, r.value, list(r.headers)) for r in records for t in outputs]
                )
            else:
                futures = [
                    await kafka.send(t, key=r.key, value=r.value, headers=list(r.headers))
                    for r in records
                    for t in outputs
                ]
            in_flight.append(
                (asyncio.gather(*futures), {tp: rs[-1].offset + 1 for tp, rs in batch.items() if rs})
            )
            done += len(records)
            while in_flight and (len(in_flight) > 1 or done >= count):
                acks, offsets = in_flight.popleft()
                await acks
                if offsets:
                    await consumer.commit(offsets)
            if not warm and done:  # the first batch pays for topic metadata; time the steady state
                warm, started = done, time.perf_counter()
        return (count - warm) / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await kafka.stop()


async def processor_rate(
    world: World,
    provider: Provider,
    count: int,
    compression: str = "none",
    *,
    exactly_once: bool | None = None,
) -> dict[str, Any]:
    """One in-process processor worker on the provider's backlog: steady-state events/s, and the CPU
    of this whole process per event (every thread: the loop, the Kafka client's own threads, the
    executor; the bench's registry shares the process but is idle once its schemas are cached).

    ``exactly_once`` None: the engine's default (a transaction per batch on Kafka); False: acks then commit.
    """
    settings = provider.processor_settings(group=f"bus-processor-{provider.provider}")
    processor = Processor(
        world.settings.model_copy(update={"compression": compression}),
        settings.model_copy(update={"exactly_once": exactly_once}),
    )
    await processor.start()
    stop = asyncio.Event()
    try:
        await processor.routes.refresh()
        while not await processor.step():  # first batch: creates delivery/state topics, untimed
            pass
        warm, started, cpu_started = processor.processed, time.perf_counter(), time.process_time()
        threads_started = thread_cpu_s()
        task = asyncio.create_task(processor.run(stop))
        while processor.processed < count and not task.done():  # noqa: ASYNC110 - polling a count
            await asyncio.sleep(0.01)
        stop.set()
        await task  # settles: every output acknowledged and committed
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        threads = thread_cpu_s()
    finally:
        stop.set()
        await processor.stop()
    processed = count - warm
    return {
        "events_per_s": processed / elapsed,
        "cpu_us_per_event": cpu / processed * 1e6,
        "cpu_us_per_event_by_thread": {
            group: (threads.get(group, 0.0) - threads_started.get(group, 0.0)) / processed * 1e6
            for group in threads
        },
        "ed25519_checks": processor.verifier.ed25519_checks,
        "exactly_once": processor.exactly_once,
    }


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds of this process so far by thread group: librdkafka names its threads ``rdk:*``;
    the rest are Python's (the event loop with aiokafka, the executor threads)."""
    groups: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            name = (task / "comm").read_text().strip()
            group = "librdkafka threads" if name.startswith("rdk:") else "python threads"
            groups[group] = groups.get(group, 0.0) + cpu_s(task / "stat")
    return groups


async def subscriber_rate(world: World, provider: Provider, expected: int) -> dict[str, Any]:
    """The subscriber SDK handing over one agreement's deliveries (written by the pipeline run)."""
    seen = 0
    done = asyncio.Event()
    started = time.perf_counter()

    async def handler(update: Update) -> None:
        nonlocal seen
        seen += 1
        if seen >= expected:
            done.set()

    async with Subscriber(
        CONSUMER,
        world.consumer_token,
        bootstrap=world.consumer_settings,
        registry=world.registry_url,
        store_path=Path(world.tmp) / f"{provider.provider}.subscriber.sqlite",
    ) as subscriber:
        task = asyncio.create_task(subscriber.run(tax_agreement(provider), handler))
        try:
            await asyncio.wait_for(done.wait(), timeout=300)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return {"handled": seen, "events_per_s": seen / (time.perf_counter() - started)}


async def run(
    count: int, *, compression: tuple[str, ...] = ("lz4",), pipeline_compression: tuple[str, ...] = ("lz4",)
) -> dict[str, Any]:
    """raw (same fan-out, batched and per-record send, and 1:1) and pipeline, same broker, same run."""
    async with World() as world:
        source = await world.provider("raw")
        await world.backlog(source, count)
        raws: dict[str, float | str] = {
            "fan_out_batched": await raw(world.settings, source, count, fan_out=FAN_OUT, batched=True),
            "fan_out_per_record_send": await raw(
                world.settings, source, count, fan_out=FAN_OUT, batched=False
            ),
            "pass_through_1to1": await raw(world.settings, source, count, fan_out=1, batched=True),
        }
        for codec in compression:
            if not codec_available(codec):
                raws[f"fan_out_batched_{codec}"] = NO_CODEC
                continue
            raws[f"fan_out_batched_{codec}"] = await raw(
                world.settings, source, count, fan_out=FAN_OUT, batched=True, compression_type=codec
            )
        provider = await world.provider("pipe")
        await world.backlog(provider, count)
        pipe = await processor_rate(world, provider, count)
        pipe["subscriber"] = await subscriber_rate(world, provider, count)
        guarantee = {("exactly_once" if pipe["exactly_once"] else "at_least_once"): pipe["events_per_s"]}
        if pipe["exactly_once"]:  # the same pipeline without transactions, in the same run
            plain = await world.provider("pipe-acks")
            await world.backlog(plain, count)
            acked = await processor_rate(world, plain, count, exactly_once=False)
            guarantee["at_least_once"] = acked["events_per_s"]
        variants: dict[str, float | str] = {}
        for codec in pipeline_compression:
            if not codec_available(codec):
                variants[codec] = NO_CODEC
                continue
            other = await world.provider(f"pipe-{codec}")
            await world.backlog(other, count)
            variants[codec] = (await processor_rate(world, other, count, compression=codec))["events_per_s"]
    baseline = float(raws["fan_out_batched"])
    return {
        "raw": {
            "events_per_s": baseline,
            "fan_out": FAN_OUT,
            "events": count,
            "variants_events_per_s": raws,
            "method": "getmany + create_batch/send_batch per partition, 2 batches in flight, commit on acks",
        },
        "pipeline": {
            "events_per_s": pipe["events_per_s"],
            "ratio_to_raw": pipe["events_per_s"] / baseline,
            "ratio_to_raw_per_record_send": pipe["events_per_s"] / float(raws["fan_out_per_record_send"]),
            "cpu_us_per_event_whole_worker": pipe["cpu_us_per_event"],
            "cpu_us_per_event_by_thread": pipe["cpu_us_per_event_by_thread"],
            "workers": 1,
            "events": count,
            "fan_out": FAN_OUT,
            "subscriber": pipe["subscriber"],
            "ed25519_checks": pipe["ed25519_checks"],
            "compression_events_per_s": {"none": pipe["events_per_s"], **variants},
            "guarantee_events_per_s": guarantee,
        },
    }
