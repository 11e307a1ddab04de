"""Run a bus component inside a test or bench as `bus up` would: start, run until the block ends, stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

from bus.run.supervise import Component, HttpService, Served

C = TypeVar("C", bound=Component)
S = TypeVar("S", bound=HttpService)


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


@contextlib.asynccontextmanager
async def serving(service: S) -> AsyncIterator[S]:
    """An HTTP service (gateway, registry) ``start()``-ed and serving from the moment its socket
    accepts connections until the block ends, then ``stop()``-ed: ``bus up``'s ``Served`` wrapper."""
    async with running(Served(service)):
        yield service
