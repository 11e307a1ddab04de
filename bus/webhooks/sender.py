"""One signed POST to a receiver, as an :class:`Attempt`; httpx errors are translated here only."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
from standardwebhooks import Webhook

from bus.webhooks.message import signed_headers
from bus.webhooks.retry import Attempt, Outcome, classify

_BODY_EXCERPT_BYTES = 2048


class Sender:
    """Holds the connection pool and one ``Webhook`` signer per secret."""

    def __init__(self, *, connect_timeout_s: float, request_timeout_s: float) -> None:
        self._timeout_s = request_timeout_s
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(request_timeout_s, connect=connect_timeout_s),
            follow_redirects=False,  # a moved endpoint is a registration to fix, not something to follow
            trust_env=False,  # no proxy from the environment: receivers are registered URLs only
        )
        self._signers: dict[str, Webhook] = {}

    async def close(self) -> None:
        await self._http.aclose()

    def signer(self, secret: str) -> Webhook:
        if secret not in self._signers:
            self._signers[secret] = Webhook(secret)
        return self._signers[secret]

    async def post(self, url: str, secret: str, message_id: str, body: str) -> Attempt:
        """POST ``body`` signed with a fresh timestamp; never raises for network or HTTP failures."""
        now = dt.datetime.now(dt.UTC)
        headers = signed_headers(self.signer(secret), message_id, body, now)
        try:
            async with (
                asyncio.timeout(self._timeout_s),
                self._http.stream("POST", url, content=body.encode(), headers=headers) as response,
            ):
                excerpt = b""
                async for chunk in response.aiter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= _BODY_EXCERPT_BYTES:
                        break
        except (TimeoutError, httpx.TimeoutException):
            return Attempt(Outcome.TIMEOUT, None, f"no answer within {self._timeout_s:g} s")
        except httpx.HTTPError as exc:
            return Attempt(Outcome.CONNECTION_ERROR, None, f"{type(exc).__name__}: {exc}")
        text = excerpt[:_BODY_EXCERPT_BYTES].decode("utf-8", "replace")
        return classify(response.status_code, text, response.headers.get("retry-after"), now)
