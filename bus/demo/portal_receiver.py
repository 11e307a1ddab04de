"""The demo's eGov portal: an agency without Kafka that receives its updates as signed webhooks.

It verifies every call the Standard Webhooks way and keeps the verified CloudEvents, so
``bus up --demo`` can show what the portal received and that every signature held.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bus.http.server import serve_app
from bus.webhooks.message import new_secret


class PortalReceiver:
    """An ``HttpService`` (see bus.run.supervise) serving ``POST /webhooks/bus`` on a loopback port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.secret = new_secret()
        self.received: list[dict[str, Any]] = []
        self.rejected = 0
        self._verifier = Webhook(self.secret)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/bus"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def serve(self, stop: asyncio.Event, on_started: Callable[[], None] | None = None) -> None:
        app = Starlette(routes=[Route("/webhooks/bus", self._receive, methods=["POST"])])
        await serve_app(app, host="127.0.0.1", port=self.port, stop=stop, on_started=on_started)

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        try:
            self._verifier.verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.rejected += 1
            return Response(status_code=401)
        event = json.loads(body)
        if all(e["id"] != event["id"] for e in self.received):  # once per webhook-id
            self.received.append(event)
        return Response(status_code=204)
