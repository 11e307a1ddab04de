"""The fault suite's webhook receiver, in its own process: verifies, deduplicates, can stall.

Every verified request is appended to OUT as ``A webhook-id subject sequence agreement
field,field`` (first time: handled) or ``R webhook-id`` (a repeat it answered 204 without
handling again); a request whose signature fails is ``X webhook-id`` and answered 401. While
the file STALL exists, each request first sleeps ``stall_s`` (longer than the dispatcher's
timeout), the way a receiver whose database hangs behaves.

usage: python -m tests.faults.receiver_worker PORT SECRET OUT STALL STALL_S
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bus.http.server import serve_app


def app(secret: str, out: Path, stall: Path, stall_s: float) -> Starlette:
    seen: set[str] = set()
    if out.exists():  # a receiver's dedup store survives its restarts
        for line in out.read_text().splitlines():
            kind, webhook_id, *_ = line.split(" ")
            if kind == "A":
                seen.add(webhook_id)
    sink = out.open("a")

    async def hook(request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        webhook_id = headers.get("webhook-id", "-")
        try:
            event = Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            sink.write(f"X {webhook_id}\n")
            sink.flush()
            return Response("signature does not verify", status_code=401)
        if stall.exists():
            await asyncio.sleep(stall_s)
        if webhook_id in seen:
            sink.write(f"R {webhook_id}\n")
        else:
            seen.add(webhook_id)
            fields = ",".join(sorted(event.get("data") or {}))
            sink.write(
                f"A {webhook_id} {event.get('subject')} {event.get('sequence')} {event.get('agreement')} "
                f"{fields}\n"
            )
        sink.flush()
        return Response(status_code=204)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


async def main(argv: list[str]) -> None:
    port, secret, out, stall, stall_s = argv
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    with contextlib.suppress(asyncio.CancelledError):
        await serve_app(
            app(secret, Path(out), Path(stall), float(stall_s)),
            host="127.0.0.1",
            port=int(port),
            stop=stop,
            on_started=lambda: print("receiver ready", flush=True),
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:6]))
