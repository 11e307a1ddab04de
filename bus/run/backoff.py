"""Run a batch step until stopped, backing off on retriable failures (database or broker away).

The archiver and the wallet materialiser loop the same way: a retriable ``BusError`` waits
0.5 s doubling to a cap, then tries again; anything else ends the loop for the supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bus.errors import BusError

FIRST_S = 0.5
MAX_S = 10.0


async def step_until_stopped(
    step: Callable[[], Awaitable[object]], stop: asyncio.Event, log: logging.Logger
) -> None:
    backoff = FIRST_S
    while not stop.is_set():
        try:
            await step()
            backoff = FIRST_S
        except BusError as exc:
            if not exc.retriable:
                raise
            log.error("%s; retrying in %.1f s", exc, backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, MAX_S)
