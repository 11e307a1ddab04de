"""Refuse oversized request bodies before reading them, for every HTTP API of the bus."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bus.errors import BusError


class BodySizeLimit:
    """ASGI middleware: 413 when Content-Length or the streamed body exceeds ``max_bytes``.

    ``error`` builds the API's own error for the message, so each API keeps its error format:
    a declared oversize is answered here with ``render``; a streamed one raises ``error``
    into the app, whose exception handler renders it.
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
            body, media_type = self.render(self.error(message))
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", media_type.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            received = await receive()
            seen += len(received.get("body", b""))
            if seen > self.max_bytes:
                raise self.error(message)
            return received

        await self.app(scope, limited_receive, send)
