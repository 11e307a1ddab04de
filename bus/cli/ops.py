"""``--ops-host/--ops-port`` for services without an HTTP API: /healthz, /readyz and /metrics beside them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Annotated

import typer

from bus.http.ops import Check, OpsServer

OpsHost = Annotated[
    str,
    typer.Option(
        "--ops-host", envvar="BUS_OPS_HOST", help="Interface of the ops endpoints (0.0.0.0 in a pod)."
    ),
]
OpsPort = Annotated[
    int,
    typer.Option(
        "--ops-port", envvar="BUS_OPS_PORT", help="Port of /healthz, /readyz and /metrics (0 = off)."
    ),
]


@contextlib.asynccontextmanager
async def ops_endpoints(checks: Mapping[str, Check], *, host: str, port: int) -> AsyncIterator[None]:
    """Serve the ops endpoints for as long as the block runs (a bind error stops the command)."""
    if port == 0:
        yield
        return
    stop = asyncio.Event()
    started = asyncio.Event()
    server = asyncio.create_task(OpsServer(checks, host=host, port=port).serve(stop, on_started=started.set))
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({server, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if server.done():
        server.result()
    try:
        yield
    finally:
        stop.set()
        await server
