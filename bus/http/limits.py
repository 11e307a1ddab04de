"""Refuse oversized request bodies before reading them, and bodies that arrive too slowly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bus.errors import BusError


class BodySizeLimit:
    """ASGI middleware: 413 when Content-Length or the streamed body exceeds ``max_bytes``.

    ``error`` builds the API's own error for the message, so each API keeps its error format:
    a declared oversize is answered here with ``render``; a streamed one raises ``error`` into the
    app, and whatever the app answers then (FastAPI makes any body-read error a 400) is replaced
    by the same 413.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        error: Callable[[str], BusError],
        render: Callable[[BusError], tuple[bytes, str]],
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.error = error
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body is larger than {self.max_bytes} bytes"
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, message)
            return
        seen = 0
        exceeded = answered = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            received = await receive()
            seen += len(received.get("body", b""))
            if seen > self.max_bytes:
                exceeded = True
                raise self.error(message)
            return received

        async def guarded_send(reply: Message) -> None:
            nonlocal answered
            if exceeded and not answered:
                return  # e.g. FastAPI turns any body-read error into 400: the 413 below replaces it
            answered = answered or reply["type"] == "http.response.start"
            await send(reply)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not answered:
            await self._refuse(send, message)

    async def _refuse(self, send: Send, message: str) -> None:
        body, media_type = self.render(self.error(message))
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", media_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyReadTimeout:
    """ASGI middleware: a client that takes longer than ``timeout_s`` to send its body gets 408.

    Against slow-body ("slow loris" POST) clients that would hold a worker and a connection open
    by trickling bytes. The deadline covers the whole body, from the first read. On expiry the
    app's read ends as a client disconnect; whatever the app then answers is replaced by
    ``408 request_timeout`` with ``Connection: close``.
    """

    def __init__(self, app: ASGIApp, *, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        timed_out = False
        answered = False

        async def timed_receive() -> Message:
            nonlocal deadline, timed_out
            loop = asyncio.get_running_loop()
            if deadline is None:
                deadline = loop.time() + self.timeout_s
            try:
                return await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                timed_out = True
                return {"type": "http.disconnect"}

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if timed_out and not answered:
                return  # the app's reaction to the "disconnect" is replaced by the 408 below
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not timed_out:
                raise
        if timed_out and not answered:
            body = json.dumps(
                {
                    "error": "request_timeout",
                    "message": f"the request body did not arrive within {self.timeout_s:g} s",
                    "hint": "send the whole body at once; slow clients are cut off",
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 408,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
