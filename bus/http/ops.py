"""The operations endpoints of every long-running component: ``/healthz``, ``/readyz``, ``/metrics``.

``/healthz`` answers while the process serves HTTP (liveness); ``/readyz`` runs the component's own
readiness checks (broker reachable, views caught up, partitions assigned) and answers 503 naming
the failing one; ``/metrics`` is the process's Prometheus registry (DESIGN §9).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bus.http.server import serve_app

Check = Callable[[], Awaitable[tuple[bool, str]]]
_CHECK_TIMEOUT_S = 3.0


async def _run(check: Check) -> tuple[bool, str]:
    try:
        return await asyncio.wait_for(check(), _CHECK_TIMEOUT_S)
    except TimeoutError:
        return False, f"no answer within {_CHECK_TIMEOUT_S:.0f} s"
    except Exception as exc:  # a failing check is a "not ready", never a 500
        return False, f"{type(exc).__name__}: {exc}"


async def readiness(checks: Mapping[str, Check]) -> dict[str, dict[str, object]]:
    results = await asyncio.gather(*(_run(check) for check in checks.values()))
    return {name: {"ok": ok, "detail": detail} for name, (ok, detail) in zip(checks, results, strict=True)}


def ops_routes(checks: Mapping[str, Check]) -> list[Route]:
    """Routes to add to a component's own app (registry, gateway) or to serve alone."""

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    async def readyz(_: Request) -> JSONResponse:
        found = await readiness(checks)
        ready = all(result["ok"] for result in found.values())
        return JSONResponse({"ready": ready, "checks": found}, status_code=200 if ready else 503)

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]


def ops_app(checks: Mapping[str, Check]) -> Starlette:
    """A standalone app for components without an HTTP API of their own (processor, webhooks, archive)."""
    return Starlette(routes=ops_routes(checks))


class OpsServer:
    """The ops endpoints on their own port, for components that have no HTTP API (an ``HttpService``)."""

    def __init__(self, checks: Mapping[str, Check], *, host: str, port: int) -> None:
        self._app = ops_app(checks)
        self._host = host
        self.port = port

    async def start(self) -> None:
        return None

    async def serve(self, stop: asyncio.Event, on_started: Callable[[], None] | None = None) -> None:
        await serve_app(self._app, host=self._host, port=self.port, stop=stop, on_started=on_started)

    async def stop(self) -> None:
        return None
