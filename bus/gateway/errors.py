"""Gateway errors and the one place that turns any ``BusError`` into an HTTP answer."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from bus.audit.errors import ArchiveDatabaseError, AuditQueryError
from bus.catalogue.source import UnknownAgencyError
from bus.errors import (
    BrokerError,
    BusError,
    ConfigError,
    RecordInvalidError,
    RecordMismatchError,
    RecordTooLargeError,
    UnknownRecordTypeError,
)
from bus.gateway.ratelimit import RateLimited
from bus.registry.errors import RegistryError


class NotAuthenticated(BusError):
    code = "unauthenticated"


class NotAllowed(BusError):
    code = "forbidden"


class IdempotencyConflict(BusError):
    code = "idempotency_key_reused"


class PayloadTooLarge(BusError):
    code = "payload_too_large"


_STATUS: list[tuple[type[BusError], int]] = [
    (NotAuthenticated, 401),
    (NotAllowed, 403),
    (UnknownRecordTypeError, 404),
    (UnknownAgencyError, 404),
    (IdempotencyConflict, 409),
    (PayloadTooLarge, 413),
    (RecordTooLargeError, 413),
    (RateLimited, 429),
    (RecordInvalidError, 422),
    (RecordMismatchError, 422),
    (ConfigError, 422),
    (AuditQueryError, 422),
    (ArchiveDatabaseError, 503),
    (BrokerError, 503),
    (RegistryError, 503),
]


def status_of(error: BusError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


def error_body(error: BusError) -> dict[str, object]:
    body: dict[str, object] = {"error": error.code, "message": error.message, "hint": error.hint}
    if isinstance(error, RecordInvalidError):
        body["problems"] = [{"field": path, "reason": reason} for path, reason in error.problems]
    return body


async def bus_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BusError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="agency-bus"'} if status == 401 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": exc.retry_after_header}
    return JSONResponse(error_body(exc), status_code=status, headers=headers)
