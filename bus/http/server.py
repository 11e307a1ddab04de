"""Run an ASGI app with uvicorn inside our own event loop, stopped by our own signal handling."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

from bus.http.limits import BodyReadTimeout


class _EmbeddedServer(uvicorn.Server):
    """uvicorn would install its own SIGINT/SIGTERM handlers; the bus's command owns them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


KEEP_ALIVE_S = 5.0  # an idle keep-alive connection is closed after this
BODY_TIMEOUT_S = 30.0  # a request body must arrive within this (slow-body clients get 408)


async def serve_app(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    stop: asyncio.Event,
    on_started: Callable[[], None] | None = None,
    body_timeout_s: float = BODY_TIMEOUT_S,
    keep_alive_s: float = KEEP_ALIVE_S,
) -> None:
    """Serve until ``stop`` is set, then shut down gracefully (in-flight requests finish).

    ``on_started`` runs once the socket accepts connections, so "ready" lines never lie. Every
    app is wrapped in ``BodyReadTimeout``; idle connections close after ``keep_alive_s``.
    """
    config = uvicorn.Config(
        BodyReadTimeout(app, timeout_s=body_timeout_s),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=int(keep_alive_s),
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    stopper = asyncio.create_task(stop.wait())
    try:
        while not server.started and not task.done() and not stop.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # uvicorn exposes readiness only as a flag
        if server.started and on_started is not None:
            on_started()
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # a bind error or crash surfaces here
            return
        server.should_exit = True
        await task
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
