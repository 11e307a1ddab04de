"""A publisher in its own OS process, so tests can SIGKILL it mid-drain.

usage: python -m tests.publish.publisher_process publish|drain BOOTSTRAP REGISTRY AGENCY SPOOL KEYFILE COUNT
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bus.event.envelope import ChangeKind
from bus.event.signing import private_key_from_pem
from bus.kafka.client import KafkaSettings
from connectors.sdk import Change, Publisher
from tests.engine import BROKER_PROFILE
from tests.people import person


async def main(
    mode: str, bootstrap: str, registry: str, agency: str, spool: str, key_pem: bytes, count: int
) -> None:
    settings = KafkaSettings(bootstrap=bootstrap, broker_profile=BROKER_PROFILE)
    key = private_key_from_pem(key_pem)
    async with Publisher(
        agency, "gbd-fl", key, bootstrap=settings, registry=registry, spool_path=Path(spool)
    ) as publisher:
        if mode == "publish":
            people = [person(n) for n in range(500)]
            for start in range(0, count, 500):
                batch = [
                    Change(ChangeKind.UPDATED, "person", p["iin"], {**p, "phone": f"+7701{i:07d}"}, ["phone"])
                    for i, p in zip(range(start, min(start + 500, count)), people, strict=False)
                ]
                await publisher.publish_many(batch)
            print("spooled", flush=True)
        await publisher.flush(timeout_s=300)
        print("drained", flush=True)


if __name__ == "__main__":
    mode, bootstrap, registry, agency, spool, key_file, count = sys.argv[1:8]
    asyncio.run(main(mode, bootstrap, registry, agency, spool, Path(key_file).read_bytes(), int(count)))
