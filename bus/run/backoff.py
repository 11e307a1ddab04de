"""The one backoff policy of every retry loop: a first wait doubling to a cap, full jitter where many retry.

Hand-written here rather than taken from ``tenacity``/``stamina``: every loop also waits on a stop
event and resets after a success, which those libraries' decorators do not model; this is 60 lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bus.errors import BusError


@dataclass(frozen=True, slots=True)
class Backoff:
    """``first_s * 2**failures`` capped at ``cap_s``; with ``jitter``, uniform in [0, that] (full jitter)."""

    first_s: float
    cap_s: float
    jitter: bool = False

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """The wait after ``failures`` earlier consecutive failures (0 for the first retry)."""
        ceiling = min(self.cap_s, self.first_s * 2 ** min(failures, 62))
        return (rng or random).uniform(0.0, ceiling) if self.jitter else ceiling


class Retry:
    """Consecutive failures of one loop: ``failed()`` says how long to wait, ``succeeded()`` starts over."""

    def __init__(self, policy: Backoff) -> None:
        self.policy = policy
        self.failures = 0

    def failed(self) -> float:
        delay = self.policy.delay(self.failures)
        self.failures += 1
        return delay

    def succeeded(self) -> None:
        self.failures = 0


async def pause(seconds: float, stop: asyncio.Event | None) -> bool:
    """Sleep ``seconds``, cut short when ``stop`` is set; True when it was."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


BATCH_STEP = Backoff(first_s=0.5, cap_s=10.0)


async def step_until_stopped(
    step: Callable[[], Awaitable[object]], stop: asyncio.Event, log: logging.Logger
) -> None:
    """Run a batch step until stopped; a retriable ``BusError`` (database or broker away) backs off and
    retries, anything else ends the loop for the supervisor (the archiver and the wallet loop so)."""
    retry = Retry(BATCH_STEP)
    while not stop.is_set():
        try:
            await step()
            retry.succeeded()
        except BusError as exc:
            if not exc.retriable:
                raise
            delay = retry.failed()
            log.error("%s; retrying in %.1f s", exc, delay)
            await pause(delay, stop)
