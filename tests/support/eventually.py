"""Wait for an outcome the bus reaches asynchronously; on timeout, fail and say what was last seen.

One helper for the whole suite (it replaced four): a check that never comes true fails the test
here, with its last value, instead of handing a falsy result to an assertion that may not exist.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def _timed_out(timeout_s: float, last: object) -> AssertionError:
    shown = repr(last)
    return AssertionError(f"still not true after {timeout_s:g} s; last seen: {shown[:500]}")


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout_s: float = 30.0, every_s: float = 0.2
) -> T:
    """Await ``check()`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise _timed_out(timeout_s, result)
        await asyncio.sleep(every_s)


def eventually_sync(check: Callable[[], T | None], *, timeout_s: float = 30.0, every_s: float = 0.05) -> T:
    """Call ``check()`` until it returns something truthy, and return that (blocking tests)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise _timed_out(timeout_s, result)
        time.sleep(every_s)


async def until(check: Callable[[], bool], *, timeout_s: float = 30.0, every_s: float = 0.02) -> None:
    """Await until a synchronous, cheap ``check()`` is true (state inside this process)."""

    async def now() -> bool:
        return check()

    await eventually(now, timeout_s=timeout_s, every_s=every_s)
