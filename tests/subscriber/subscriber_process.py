"""A subscriber in its own OS process that can SIGKILL itself right after the n-th ack.

Each update handed over is appended to OUT as ``ce_id subject sequence`` before it is acked,
so the file is the handler's view: a duplicate line would be an update handed over twice.

usage: python -m tests.subscriber.subscriber_process BOOTSTRAP REGISTRY AGENCY TOKEN AGREEMENT STORE OUT N
       [KEY]

With KEY (the agency's PEM signing key) every ack is receipted; the kill comes after the n-th ack and
before the receipts of its batch are sent.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from bus.event.signing import private_key_from_pem
from bus.kafka.client import KafkaSettings
from bus.subscriber import Subscriber, Update
from tests.engine import BROKER_PROFILE
from tests.support.logins import settings_env
from tests.support.world import World


async def main(
    bootstrap: str,
    registry: str,
    agency: str,
    token: str,
    agreement: str,
    store: str,
    out: str,
    kill_after: int,
    key_file: str | None = None,
) -> None:
    settings = KafkaSettings(bootstrap=bootstrap, broker_profile=BROKER_PROFILE)
    handed = 0
    key = private_key_from_pem(Path(key_file).read_bytes()) if key_file else None
    async with Subscriber(
        agency, token, bootstrap=settings, registry=registry, store_path=Path(store), signing_key=key
    ) as subscriber:
        with Path(out).open("a") as sink:
            async for item in subscriber.updates(agreement, follow=False):
                assert isinstance(item, Update), item
                sink.write(f"{item.event_id} {item.subject} {item.sequence}\n")
                sink.flush()
                await item.ack()
                handed += 1
                if handed == kill_after:
                    os.kill(os.getpid(), signal.SIGKILL)
    print("caught up", flush=True)


def run_subscriber(
    world: World, token: str, agreement: str, tmp: Path, kill_after: int, key_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """This module as tax's subscriber in its own process, with tax's broker login; its handled ids go
    to ``tmp/handled.txt`` and its dedup store is ``tmp/store.sqlite`` (kept across runs)."""
    argv = [
        sys.executable, "-m", "tests.subscriber.subscriber_process", world.settings.bootstrap,
        world.registry_url, world.consumer("tax"), token, agreement, str(tmp / "store.sqlite"),
        str(tmp / "handled.txt"), str(kill_after), *([str(key_file)] if key_file else []),
    ]  # fmt: skip
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, **settings_env(world.logins[world.consumer("tax")])},  # the agency's login
    )


if __name__ == "__main__":
    bootstrap, registry, agency, token, agreement, store, out, kill_after = sys.argv[1:9]
    key_file = sys.argv[9] if len(sys.argv) > 9 else None
    asyncio.run(main(bootstrap, registry, agency, token, agreement, store, out, int(kill_after), key_file))
