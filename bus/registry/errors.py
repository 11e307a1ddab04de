"""Registry errors carry Confluent's HTTP status and ``error_code``, so clients react as usual.

The API maps every ``RegistryError`` to ``{"error_code": …, "message": …}`` in one handler.
"""

from __future__ import annotations

from bus.errors import BusError


class RegistryError(BusError):
    """Base: ``status`` is the HTTP status, ``error_code`` Confluent's numeric code."""

    code = "registry_error"
    status = 500
    error_code = 50001


class SubjectNotFound(RegistryError):
    code, status, error_code = "subject_not_found", 404, 40401


class VersionNotFound(RegistryError):
    code, status, error_code = "version_not_found", 404, 40402


class SchemaNotFound(RegistryError):
    code, status, error_code = "schema_not_found", 404, 40403


class SubjectSoftDeleted(RegistryError):
    code, status, error_code = "subject_soft_deleted", 404, 40404


class SubjectNotSoftDeleted(RegistryError):
    code, status, error_code = "subject_not_soft_deleted", 404, 40405


class VersionSoftDeleted(RegistryError):
    code, status, error_code = "version_soft_deleted", 404, 40406


class VersionNotSoftDeleted(RegistryError):
    code, status, error_code = "version_not_soft_deleted", 404, 40407


class SubjectConfigNotFound(RegistryError):
    code, status, error_code = "subject_config_not_found", 404, 40408


class IncompatibleSchema(RegistryError):
    code, status, error_code = "schema_incompatible", 409, 409


class InvalidSchema(RegistryError):
    code, status, error_code = "schema_invalid", 422, 42201


class InvalidVersion(RegistryError):
    code, status, error_code = "version_invalid", 422, 42202


class InvalidCompatibilityLevel(RegistryError):
    code, status, error_code = "compatibility_level_invalid", 422, 42203


class BadRequest(RegistryError):
    code, status, error_code = "request_invalid", 400, 400


class PayloadTooLarge(RegistryError):
    code, status, error_code = "payload_too_large", 413, 413


class Unauthorized(RegistryError):
    code, status, error_code = "unauthorized", 401, 401


class Forbidden(RegistryError):
    code, status, error_code = "forbidden", 403, 40301


class StoreError(RegistryError):
    code, status, error_code = "store_error", 500, 50001
    retriable = True


class StoreTimeout(RegistryError):
    code, status, error_code = "store_timeout", 500, 50002
    retriable = True
