"""Folding registry subjects and applied agreements into a ``Catalogue``: pure, so every view agrees."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bus.acl.rules import in_force_on
from bus.catalogue.model import AgreementEntry, Catalogue, FieldDoc, RecordType
from bus.event.topics import ingress_subject_parts
from bus.policy.agreement import Agreement
from bus.policy.schema_paths import AvroNames, Definition, describe, namespace_of, provider_root

Names = Callable[[str], str | None]


@dataclass(frozen=True)
class Registered:
    """The latest version of one ingress value subject, as the registry answers for it."""

    subject: str
    schema_id: int
    version: int
    schema: str
    compatibility: str


def build_catalogue(
    registered: Iterable[Registered],
    agreements: Iterable[Agreement],
    *,
    names: Names = lambda _agency: None,
    now: dt.datetime | None = None,
) -> Catalogue:
    """Record types sorted by provider and type, each with the agreements on it sorted by id."""
    now = now or dt.datetime.now(dt.UTC)
    today = now.date()
    entries = sorted((agreement_entry(a, today, names) for a in agreements), key=lambda e: e.id)
    types: list[RecordType] = []
    for found in sorted(registered, key=lambda r: r.subject):
        parts = ingress_subject_parts(found.subject)
        if parts is None:
            continue
        provider, rtype = parts
        schema = json.loads(found.schema)
        types.append(
            RecordType(
                provider=provider,
                provider_name=names(provider),
                record_type=rtype,
                topic=found.subject.removesuffix("-value"),
                subject=found.subject,
                schema_id=found.schema_id,
                version=found.version,
                compatibility=found.compatibility,
                name=_full_name(schema),
                doc=schema.get("doc") if isinstance(schema, dict) else None,
                fields=tuple(field_docs(schema)),
                agreements=tuple(e for e in entries if (e.provider, e.record_type) == parts),
                avro_schema=schema if isinstance(schema, dict) else {"type": schema},
            )
        )
    known = {(t.provider, t.record_type) for t in types}
    return Catalogue(
        generated_at=now,
        record_types=tuple(types),
        unregistered_agreements=tuple(e for e in entries if (e.provider, e.record_type) not in known),
    )


def agreement_entry(agreement: Agreement, today: dt.date, names: Names) -> AgreementEntry:
    return AgreementEntry(
        id=agreement.id,
        provider=agreement.provider,
        consumer=agreement.consumer,
        consumer_name=names(agreement.consumer),
        record_type=agreement.record_type,
        fields=agreement.fields,
        purpose=agreement.purpose,
        purpose_code=agreement.purpose_code,
        legal_basis=agreement.legal_basis,
        valid_from=agreement.valid_from,
        valid_until=agreement.valid_until,
        in_force=in_force_on(agreement, today),
        consent=agreement.consent.value,
        replaces=agreement.replaces,
        where={path: c.model_dump() for path, c in agreement.where.items()} if agreement.where else None,
        delivery_topic=agreement.delivery_topic,
    )


def field_docs(schema: Any) -> Iterator[FieldDoc]:
    """Every field path of a record schema, nested records entered (the paths agreements may grant);
    none for a schema that is not a record (the registry accepts any Avro schema on a subject)."""
    if not isinstance(schema, Mapping):
        return
    names, root = provider_root(schema)
    if root is not None:
        yield from _fields(names, root, "", set())


def _fields(names: AvroNames, record: Definition, prefix: str, seen: set[str]) -> Iterator[FieldDoc]:
    namespace = namespace_of(record.full_name)
    for field in record.schema.get("fields", ()):
        if not isinstance(field, dict):
            continue
        path = f"{prefix}{field.get('name')}"
        avro_type = field.get("type")
        optional = "default" in field or (isinstance(avro_type, list) and "null" in avro_type)
        doc = field.get("doc")
        yield FieldDoc(
            path=path, type=describe(avro_type), doc=doc if isinstance(doc, str) else None, optional=optional
        )
        inner = names.record_of(avro_type, namespace)
        if inner is not None and inner.full_name not in seen:  # a recursive type is listed once
            yield from _fields(names, inner, f"{path}.", seen | {inner.full_name})


def _full_name(schema: Any) -> str:
    if not isinstance(schema, dict):
        return describe(schema)
    name = str(schema.get("name", ""))
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"
