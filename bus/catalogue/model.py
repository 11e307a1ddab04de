"""The catalogue as the API, the page and ``bus catalogue`` show it: record types and agreements."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict


class FieldDoc(BaseModel):
    """One field of a record type, nested fields by their dotted path (what an agreement names)."""

    model_config = ConfigDict(frozen=True)

    path: str
    type: str
    doc: str | None
    optional: bool


class AgreementEntry(BaseModel):
    """An applied agreement on a record type, as a consumer or a citizen would ask about it."""

    model_config = ConfigDict(frozen=True)

    id: str
    provider: str
    consumer: str
    consumer_name: str | None
    record_type: str
    fields: tuple[str, ...]
    purpose: str
    purpose_code: str | None
    legal_basis: str
    valid_from: date
    valid_until: date | None
    in_force: bool
    consent: str
    replaces: str | None
    where: dict[str, dict[str, Any]] | None
    delivery_topic: str


class RecordType(BaseModel):
    """A provider's record type: its registered schema (latest version) and the agreements on it."""

    model_config = ConfigDict(frozen=True)

    provider: str
    provider_name: str | None
    record_type: str
    topic: str
    subject: str
    schema_id: int
    version: int
    compatibility: str
    name: str
    doc: str | None
    fields: tuple[FieldDoc, ...]
    agreements: tuple[AgreementEntry, ...]
    avro_schema: dict[str, Any]


class Catalogue(BaseModel):
    """Every registered record type; agreements whose provider schema is not registered apart."""

    model_config = ConfigDict(frozen=True)

    generated_at: AwareDatetime
    record_types: tuple[RecordType, ...]
    unregistered_agreements: tuple[AgreementEntry, ...]
