"""A real HTTP receiver for webhook specs: uvicorn on a loopback port, Standard Webhooks verification.

Tests switch its answer (``respond``), make it slow (``delay_s``) or take it down and up again
on the same port (``down()``/``up()``), and read back every call it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bus.broker.ports import free_port
from bus.http.server import serve_app

Answer = tuple[int, dict[str, str], str]  # status, headers, body
Responder = Callable[[dict[str, Any]], Answer]


def ok(event: dict[str, Any]) -> Answer:
    return 204, {}, ""


@dataclass(frozen=True)
class Call:
    webhook_id: str
    status: int
    verified: bool
    event: dict[str, Any] | None
    at: float
    headers: dict[str, str]


@dataclass
class Receiver:
    secret: str
    port: int = field(default_factory=free_port)
    respond: Responder = ok
    delay_s: float = 0.0
    calls: list[Call] = field(default_factory=list)
    _stop: asyncio.Event | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def accepted(self) -> list[Call]:
        """Calls answered 2xx, in arrival order."""
        return [c for c in self.calls if 200 <= c.status < 300]

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        try:
            event = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            self.calls.append(
                Call(headers.get("webhook-id", ""), 401, False, None, time.monotonic(), headers)
            )
            return Response(f"signature does not verify: {exc}", status_code=401)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status, extra, text = self.respond(event)
        self.calls.append(Call(headers["webhook-id"], status, True, event, time.monotonic(), headers))
        return Response(text, status_code=status, headers=extra)

    async def up(self) -> None:
        self._stop = asyncio.Event()
        started = asyncio.Event()
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        self._task = asyncio.create_task(
            serve_app(app, host="127.0.0.1", port=self.port, stop=self._stop, on_started=started.set)
        )
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():
            waiter.cancel()
            self._task.result()

    async def down(self) -> None:
        """Stop listening: the dispatcher then sees connection errors."""
        if self._stop is not None and self._task is not None:
            self._stop.set()
            await self._task
            self._stop = self._task = None


@contextlib.asynccontextmanager
async def running_receiver(secret: str) -> AsyncIterator[Receiver]:
    receiver = Receiver(secret)
    await receiver.up()
    try:
        yield receiver
    finally:
        await receiver.down()
