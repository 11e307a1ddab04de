"""The Confluent Schema Registry REST API (the part real clients use), over ``SchemaStore``.

Every error is a ``RegistryError`` mapped to Confluent's ``{"error_code", "message"}``
body in one handler; routes never build error responses themselves.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from bus.directory.model import Principal
from bus.directory.view import AgencyDirectory
from bus.http.limits import BodySizeLimit
from bus.http.ops import ops_routes
from bus.metrics import REGISTRY_REQUESTS
from bus.registry.access import require_operator, require_subject_write
from bus.registry.compat import parse_level
from bus.registry.errors import BadRequest, InvalidSchema, PayloadTooLarge, RegistryError, SchemaNotFound
from bus.registry.schema_text import ParsedSchema, parse_avro, parse_schema_type
from bus.registry.state import VersionEntry
from bus.registry.store import SchemaStore

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryJSON(JSONResponse):
    media_type = MEDIA_TYPE


class SchemaRequest(BaseModel):
    """Body of register, lookup and compatibility requests."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_: str = Field(alias="schema", description="The Avro schema as a JSON string.")
    schemaType: str | None = Field(default=None, description="AVRO (the default) is the only type.")
    references: list[dict[str, Any]] = Field(default_factory=list)


class ConfigRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    compatibility: str | None = None
    compatibilityLevel: str | None = None

    def level(self) -> str:
        value = self.compatibility or self.compatibilityLevel
        if not value:
            raise BadRequest("body must contain 'compatibility'", hint='e.g. {"compatibility": "FULL"}')
        return value


Deleted = Annotated[bool, Query(description="Include soft-deleted entries.")]


def _caller(request: Request) -> Principal | None:
    """Who sent the request, by its Authorization header (None = anonymous)."""
    directory: AgencyDirectory = request.app.state.directory
    return directory.authenticate(request.headers.get("authorization"))


Caller = Annotated[Principal | None, Depends(_caller)]


def _parse(subject: str, body: SchemaRequest) -> ParsedSchema:
    parse_schema_type(body.schemaType)
    if body.references:
        raise InvalidSchema(
            f"schema for subject {subject!r} uses references, which this registry does not support",
            hint="inline the referenced named types in the schema",
        )
    return parse_avro(body.schema_, subject=subject)


def _version_body(entry: VersionEntry) -> dict[str, Any]:
    return {"subject": entry.subject, "id": entry.schema_id, "version": entry.version, "schema": entry.text}


def _render(error: Exception) -> tuple[bytes, str]:
    code = error.error_code if isinstance(error, RegistryError) else 50001
    return json.dumps({"error_code": code, "message": str(error)}).encode(), MEDIA_TYPE


_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"})


def create_app(store: SchemaStore, directory: AgencyDirectory, *, max_body_bytes: int = 1 << 20) -> FastAPI:
    """The registry's FastAPI app; OpenAPI docs at ``/docs``."""
    app = FastAPI(
        title="agency-bus schema registry",
        description="Confluent Schema Registry compatible API; storage is the bus.schemas topic.",
        default_response_class=RegistryJSON,
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=max_body_bytes,
        error=lambda message: PayloadTooLarge(message, hint="schemas are small; check what is being sent"),
        render=_render,
    )
    app.state.directory = directory

    @app.exception_handler(RegistryError)
    async def registry_error(_: Request, exc: RegistryError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="agency-bus"'} if exc.status == 401 else None
        body = {"error_code": exc.error_code, "message": str(exc)}
        return RegistryJSON(body, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            error: RegistryError = BadRequest(f"request body is not valid JSON: {errors[0].get('msg')}")
        elif any(e.get("loc", ())[:1] == ("body",) for e in errors):
            error = InvalidSchema(
                "request body is not a schema request: "
                + "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors),
                hint='send {"schema": "<Avro schema as a JSON string>"}',
            )
        else:
            error = BadRequest("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        return await registry_error(request, error)

    async def caught_up() -> tuple[bool, str]:
        return (True, "bus.schemas read to its end") if store.ready else (False, "still reading bus.schemas")

    app.router.routes.extend(ops_routes({"schemas": caught_up}))

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")  # the template: bounded labels
        method = request.method if request.method in _METHODS else "OTHER"
        REGISTRY_REQUESTS.labels(method=method, route=route, status=str(response.status_code)).inc()
        return response

    @app.get("/", include_in_schema=False)
    async def root() -> dict[str, Any]:
        return {}

    @app.get("/schemas/types")
    async def schema_types() -> list[str]:
        return ["AVRO"]

    @app.get("/schemas/ids/{schema_id}")
    async def schema_by_id(schema_id: int, subject: str | None = None) -> dict[str, Any]:
        return {"schema": store.schema_text(schema_id)}

    @app.get("/schemas/ids/{schema_id}/schema", response_class=PlainTextResponse)
    async def raw_schema_by_id(schema_id: int) -> str:
        return store.schema_text(schema_id)

    @app.get("/schemas/ids/{schema_id}/versions")
    async def versions_of_id(schema_id: int) -> list[dict[str, Any]]:
        return [{"subject": v.subject, "version": v.version} for v in store.usages(schema_id)]

    @app.get("/schemas/ids/{schema_id}/subjects")
    async def subjects_of_id(schema_id: int) -> list[str]:
        return sorted({v.subject for v in store.usages(schema_id)})

    @app.get("/subjects")
    async def subjects(
        deleted: Deleted = False,
        deleted_only: Annotated[bool, Query(alias="deletedOnly")] = False,
        deleted_only_snake: Annotated[bool, Query(alias="deleted_only")] = False,
        subject_prefix: Annotated[str, Query(alias="subjectPrefix")] = "",
    ) -> list[str]:
        if deleted_only or deleted_only_snake:
            live = set(store.state.subjects())
            names = [s for s in store.state.subjects(include_deleted=True) if s not in live]
        else:
            names = store.state.subjects(include_deleted=deleted)
        return [s for s in names if s.startswith(subject_prefix)]

    @app.get("/subjects/{subject}/versions")
    async def subject_versions(subject: str, deleted: Deleted = False) -> list[int]:
        return [v.version for v in store.live_versions(subject, include_deleted=deleted)]

    @app.post("/subjects/{subject}/versions")
    async def register(
        subject: str, body: SchemaRequest, who: Caller, normalize: bool = False
    ) -> dict[str, Any]:
        require_subject_write(who, subject)
        entry = await store.register(subject, _parse(subject, body))
        return {"id": entry.schema_id}

    @app.get("/subjects/{subject}/versions/{version}")
    async def get_version(subject: str, version: str, deleted: Deleted = False) -> dict[str, Any]:
        return _version_body(store.version(subject, version, include_deleted=deleted))

    @app.get("/subjects/{subject}/versions/{version}/schema", response_class=PlainTextResponse)
    async def get_version_schema(subject: str, version: str) -> str:
        return store.version(subject, version).text

    @app.post("/subjects/{subject}")
    async def lookup(subject: str, body: SchemaRequest, deleted: Deleted = False) -> dict[str, Any]:
        return _version_body(store.lookup(subject, _parse(subject, body), include_deleted=deleted))

    @app.delete("/subjects/{subject}")
    async def delete_subject(subject: str, who: Caller, permanent: bool = False) -> list[int]:
        require_subject_write(who, subject)
        return await store.delete_subject(subject, permanent=permanent)

    @app.delete("/subjects/{subject}/versions/{version}")
    async def delete_version(subject: str, version: str, who: Caller, permanent: bool = False) -> int:
        require_subject_write(who, subject)
        return await store.delete_version(subject, version, permanent=permanent)

    @app.post("/compatibility/subjects/{subject}/versions/{version}")
    async def check_version(
        subject: str, version: str, body: SchemaRequest, verbose: bool = False
    ) -> dict[str, Any]:
        messages = store.compatibility(subject, _parse(subject, body), version)
        return {"is_compatible": not messages, **({"messages": messages} if verbose else {})}

    @app.post("/compatibility/subjects/{subject}/versions")
    async def check_all(subject: str, body: SchemaRequest, verbose: bool = False) -> dict[str, Any]:
        messages = store.compatibility(subject, _parse(subject, body), None)
        return {"is_compatible": not messages, **({"messages": messages} if verbose else {})}

    @app.get("/config")
    async def get_global_config() -> dict[str, str]:
        return {"compatibilityLevel": store.state.global_level.value}

    @app.put("/config")
    async def put_global_config(body: ConfigRequest, who: Caller) -> dict[str, str]:
        require_operator(who, "change the global compatibility level")
        level = parse_level(body.level())
        await store.set_level(None, level)
        return {"compatibility": level.value}

    @app.get("/config/{subject}")
    async def get_subject_config(
        subject: str, default_to_global: Annotated[bool, Query(alias="defaultToGlobal")] = False
    ) -> dict[str, str]:
        level = store.subject_level(subject, default_to_global=default_to_global)
        return {"compatibilityLevel": level.value}

    @app.put("/config/{subject}")
    async def put_subject_config(subject: str, body: ConfigRequest, who: Caller) -> dict[str, str]:
        require_subject_write(who, subject)
        level = parse_level(body.level())
        await store.set_level(subject, level)
        return {"compatibility": level.value}

    @app.delete("/config/{subject}")
    async def delete_subject_config(subject: str, who: Caller) -> dict[str, str]:
        require_subject_write(who, subject)
        return {"compatibilityLevel": (await store.delete_level(subject)).value}

    @app.get("/mode")
    async def mode() -> dict[str, str]:
        return {"mode": "READWRITE"}

    @app.get("/mode/{subject}")
    async def subject_mode(subject: str) -> dict[str, str]:
        return {"mode": "READWRITE"}

    @app.get("/keys/{identity}")
    async def public_keys(identity: str) -> dict[str, Any]:
        """Public signing keys of a directory identity: consumers may not read bus.agencies, and
        verify the processor's signature on every delivery with these (empty if none)."""
        entry = directory.get(identity)
        return {"identity": identity, "keys": dict(entry.public_keys) if entry else {}}

    @app.get("/associations/resources/{resource:path}", include_in_schema=False)
    async def associations(resource: str) -> dict[str, Any]:
        raise SchemaNotFound(
            f"no associations for resource {resource!r}: this registry uses TopicNameStrategy",
            hint="clients fall back to <topic>-value subjects",
        )

    return app
