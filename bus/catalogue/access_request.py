"""Access requests: a consumer's draft agreement and the summary its provider's reviewer decides on.

A request is only a file. Nothing changes on the bus until the operator puts the reviewed file in the
agreements folder and runs ``bus agreements apply``, which validates and publishes it as today.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict

from bus.acl.rules import agency_principal, rules_for
from bus.catalogue.build import field_docs
from bus.catalogue.model import FieldDoc
from bus.event.topics import ingress
from bus.policy.agreement import Agreement, schema_problems
from bus.policy.compile import compile_agreement
from bus.policy.schema_paths import ancestors

APPLY_NOTE: Final = (
    "It takes effect only when the operator adds this file to the agreements folder "
    "and runs `bus agreements apply`."
)


class Review(BaseModel):
    """What an agreement would deliver, to whom, under which law, and what it would let the consumer do."""

    model_config = ConfigDict(frozen=True)

    agreement: Agreement
    provider_subject: str
    provider_version: int | None
    granted: tuple[FieldDoc, ...]
    withheld: tuple[str, ...]
    delivery_subject: str
    projected_schema: dict[str, Any] | None
    grants: tuple[str, ...]
    problems: tuple[str, ...]


def review(agreement: Agreement, provider_schema: Any, version: int | None) -> Review:
    """The review of ``agreement`` against the provider's latest schema (None: not registered)."""
    subject = f"{ingress(agreement.provider, agreement.record_type)}-value"
    granted: list[FieldDoc] = []
    withheld: list[str] = []
    projected = None
    if provider_schema is None:
        problems = [f"the provider's schema {subject} is not registered: nothing can be delivered yet"]
    elif not isinstance(provider_schema, dict):
        problems = [f"the provider's schema {subject} is not an Avro record, so it has no fields to grant"]
    else:
        problems = schema_problems(agreement, provider_schema)
        for field in field_docs(provider_schema):
            covered = field.path in agreement.fields or any(
                parent in agreement.fields for parent in ancestors(field.path)
            )
            inside = any(path.startswith(f"{field.path}.") for path in agreement.fields)
            if covered:
                granted.append(field)
            elif not inside and not any(parent in withheld for parent in ancestors(field.path)):
                withheld.append(field.path)  # a withheld record is named once, not field by field
        if not problems:
            projected = compile_agreement(agreement, provider_schema).schema
    consumer = agency_principal(agreement.consumer)
    grants = [
        f"{r.principal} {r.operation.value} {r.resource_type.value} {r.pattern.value} {r.name}"
        for r in rules_for([agreement])
        if r.principal == consumer and r.name != "bus.agreements"
    ]
    return Review(
        agreement=agreement,
        provider_subject=subject,
        provider_version=version,
        granted=tuple(granted),
        withheld=tuple(withheld),
        delivery_subject=agreement.subject,
        projected_schema=projected,
        grants=tuple(grants),
        problems=tuple(problems),
    )


def render_review(found: Review) -> str:
    """The review as plain text for a reviewer's terminal or an e-mail."""
    a = found.agreement
    version = (
        f"schema version {found.provider_version}" if found.provider_version else "schema not registered"
    )
    consent = (
        "required: each citizen must grant it in the portal first"
        if a.consent.value == "required"
        else "not required"
    )
    until = a.valid_until.isoformat() if a.valid_until else "open"
    lines = [
        f"Agreement {a.id}: {a.provider} → {a.consumer}",
        f"  what:      {a.record_type} records of {a.provider} ({found.provider_subject}, {version})",
        f"  to whom:   {a.consumer}, on topic {a.delivery_topic}",
        f"  why:       {a.purpose}" + (f" [{a.purpose_code}]" if a.purpose_code else ""),
        f"  law:       {a.legal_basis}",
        f"  replaces:  {a.replaces or 'no paper certificate named'}",
        f"  consent:   {consent}",
        f"  in force:  {a.valid_from.isoformat()} to {until}",
    ]
    if a.disclosure:
        hidden = a.disclosure.hidden_until
        when = hidden.isoformat() if isinstance(hidden, dt.date) else f"{hidden} after each decision"
        lines.append(
            f"  hidden:    from the citizen until {when}: {a.disclosure.reason} ({a.disclosure.legal_basis})"
        )
    if a.where:
        conditions = "; ".join(
            f"{path} {op} {json.dumps(value)}"
            for path, condition in a.where.items()
            for op, value in condition.model_dump().items()
        )
        lines.append(f"  only:      records where {conditions}")
    lines += ["", f"Fields delivered ({len(found.granted)}):"]
    lines += [f"  {f.path:<32} {f.type:<24} {f.doc or ''}".rstrip() for f in found.granted]
    lines += ["", f"Fields withheld ({len(found.withheld)}): {', '.join(found.withheld) or 'none'}"]
    if found.projected_schema is not None:
        lines += [
            "",
            f"Delivery schema ({found.delivery_subject}):",
            json.dumps(found.projected_schema, indent=2),
        ]
    lines += ["", "Broker grants it adds:", *(f"  {g}" for g in found.grants)]
    lines += (
        ["", "Problems:", *(f"  - {p}" for p in found.problems)] if found.problems else ["", "Problems: none"]
    )
    return "\n".join([*lines, "", APPLY_NOTE, ""])


def draft_yaml(agreement: Agreement, *, requested_on: dt.date) -> str:
    """The draft agreement file: the same fields an applied one has, with a header saying what it is."""
    header = (
        f"# DRAFT access request by {agreement.consumer} to {agreement.provider}, "
        f"{requested_on.isoformat()}.\n"
        f"# Review it with `bus agreements review <this file>`. {APPLY_NOTE}\n"
    )
    body = yaml.safe_dump(
        agreement.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True, width=100
    )
    return header + body
