"""A small async client for the registry's REST API (CLI, publisher SDK, processor).

Confluent error codes in responses become the matching ``RegistryError`` again, so a
caller handles "subject not found" the same whether it ran in-process or over HTTP.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from bus.errors import BrokerError
from bus.registry import errors as e

_BY_CODE: dict[int, type[e.RegistryError]] = {
    cls.error_code: cls
    for cls in (
        e.SubjectNotFound,
        e.VersionNotFound,
        e.SchemaNotFound,
        e.SubjectSoftDeleted,
        e.SubjectNotSoftDeleted,
        e.VersionSoftDeleted,
        e.VersionNotSoftDeleted,
        e.SubjectConfigNotFound,
        e.IncompatibleSchema,
        e.InvalidSchema,
        e.InvalidVersion,
        e.InvalidCompatibilityLevel,
        e.BadRequest,
        e.PayloadTooLarge,
        e.Unauthorized,
        e.Forbidden,
        e.StoreError,
        e.StoreTimeout,
    )
}
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryClient:
    """``async with RegistryClient(url, token=...)``; every method is one HTTP request."""

    def __init__(self, url: str, *, token: str | None = None, timeout_s: float = 30.0) -> None:
        headers = {"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BrokerError(
                f"cannot reach the schema registry at {self.url}: {exc!r}",
                hint="check --registry / BUS_REGISTRY_URL and that `bus registry serve` runs",
            ) from None
        if response.is_success:
            return response.json()
        try:
            body = response.json()
            code, message = int(body["error_code"]), str(body["message"])
        except (ValueError, KeyError, TypeError):
            code, message = response.status_code * 100 + 1, response.text[:300]
        raise _BY_CODE.get(code, e.RegistryError)(f"registry at {self.url}: {message}")

    async def register(self, subject: str, schema: str) -> int:
        body = await self._call(
            "POST", f"/subjects/{quote(subject, safe='')}/versions", json={"schema": schema}
        )
        return int(body["id"])

    async def check(self, subject: str, schema: str) -> list[str]:
        """Incompatibility messages against every version the subject's level checks."""
        body = await self._call(
            "POST",
            f"/compatibility/subjects/{quote(subject, safe='')}/versions",
            params={"verbose": "true"},
            json={"schema": schema},
        )
        return [] if body["is_compatible"] else list(body.get("messages", []))

    async def subjects(self) -> list[str]:
        return list(await self._call("GET", "/subjects"))

    async def latest(self, subject: str) -> dict[str, Any]:
        """``{"subject", "id", "version", "schema"}`` of the subject's latest version."""
        return dict(await self._call("GET", f"/subjects/{quote(subject, safe='')}/versions/latest"))

    async def schema(self, schema_id: int) -> str:
        return str((await self._call("GET", f"/schemas/ids/{schema_id}"))["schema"])

    async def subjects_of(self, schema_id: int) -> list[str]:
        """Subjects that have a (live) version with this schema id."""
        return list(await self._call("GET", f"/schemas/ids/{schema_id}/subjects"))

    async def public_keys(self, identity: str) -> dict[str, str]:
        """Key id → base64 public key of a directory identity (e.g. ``bus.processor``); bus extension."""
        body = await self._call("GET", f"/keys/{quote(identity, safe='')}")
        return {str(k): str(v) for k, v in dict(body["keys"]).items()}

    async def level(self, subject: str) -> str:
        """The compatibility level the registry enforces on ``subject`` (its own, else the global one)."""
        body = await self._call(
            "GET", f"/config/{quote(subject, safe='')}", params={"defaultToGlobal": "true"}
        )
        return str(body["compatibilityLevel"])

    async def set_level(self, subject: str, level: str) -> None:
        await self._call("PUT", f"/config/{quote(subject, safe='')}", json={"compatibility": level})
