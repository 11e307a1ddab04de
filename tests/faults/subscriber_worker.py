"""The fault suite's subscriber: follows one agreement with the SDK until stopped or killed.

Each item handed over is appended to OUT before it is acked — ``U ce_id subject sequence
field,field`` for an update, ``E reason detail`` for a delivery the SDK could not decode — so
the file is the handler's view: a repeated ``ce_id`` would be an update handed over twice.

usage: python -m tests.faults.subscriber_worker BOOTSTRAP REGISTRY AGENCY TOKEN AGREEMENT STORE OUT
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bus.errors import AccessDeniedError
from bus.kafka.client import KafkaSettings
from bus.subscriber import Subscriber, Update
from tests.engine import BROKER_PROFILE


async def main(argv: list[str]) -> None:
    bootstrap, registry, agency, token, agreement, store, out = argv
    settings = KafkaSettings(bootstrap=bootstrap, broker_profile=BROKER_PROFILE)
    async with Subscriber(
        agency, token, bootstrap=settings, registry=registry, store_path=Path(store)
    ) as subscriber:
        print("subscribed", flush=True)
        try:
            await _follow(subscriber, agreement, out)
        except AccessDeniedError as exc:  # the broker refuses an agreement that is not in force
            print(f"refused: {exc}", flush=True)
            await asyncio.Event().wait()  # stay up like a real consumer until stopped


async def _follow(subscriber: Subscriber, agreement: str, out: str) -> None:
    with Path(out).open("a") as sink:
        async for item in subscriber.updates(agreement, follow=True):
            if isinstance(item, Update):
                fields = ",".join(sorted(item.record or {}))
                sink.write(f"U {item.event_id} {item.subject} {item.sequence} {fields}\n")
            else:
                sink.write(f"E {item.reason} {item.detail!r}\n")
            sink.flush()
            await item.ack()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:8]))
