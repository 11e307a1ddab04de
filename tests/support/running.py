"""Run a bus component inside a test as `bus up` would: start, run until the block ends, stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

from bus.run.supervise import Component

C = TypeVar("C", bound=Component)


@contextlib.asynccontextmanager
async def running(component: C) -> AsyncIterator[C]:
    """``start()``, then ``run(stop)`` in a task; on exit the loop is told to stop, awaited, and
    ``stop()`` closes the clients even when the loop failed (its error is raised after)."""
    await component.start()
    stop = asyncio.Event()
    task = asyncio.create_task(component.run(stop), name=f"running:{type(component).__name__}")
    try:
        yield component
    finally:
        stop.set()
        try:
            await task
        finally:
            await component.stop()
