"""The catalogue as Markdown, for a wiki or a pull request (``bus catalogue --format markdown``)."""

from __future__ import annotations

from bus.catalogue.model import AgreementEntry, Catalogue, RecordType


def markdown(catalogue: Catalogue) -> str:
    lines = ["# Data catalogue", ""]
    if not catalogue.record_types:
        lines += ["No record type is registered yet.", ""]
    for rt in catalogue.record_types:
        lines += _record_type(rt)
    if catalogue.unregistered_agreements:
        lines += ["## Agreements on record types without a registered schema", ""]
        lines += _agreements(catalogue.unregistered_agreements)
    return "\n".join(lines)


def _record_type(rt: RecordType) -> list[str]:
    lines = [
        f"## {rt.record_type} — {rt.provider_name or rt.provider}",
        "",
        *([rt.doc, ""] if rt.doc else []),
        f"- provider: `{rt.provider}`",
        f"- topic: `{rt.topic}`",
        f"- schema: `{rt.name}`, subject `{rt.subject}`, version {rt.version} (id {rt.schema_id})",
        f"- compatibility: {rt.compatibility}",
        "",
        "| field | type | description |",
        "|---|---|---|",
    ]
    for f in rt.fields:
        optional = " (optional)" if f.optional else ""
        lines.append(f"| `{f.path}`{optional} | {_cell(f.type)} | {_cell(f.doc or '')} |")
    lines += ["", "### Agreements", ""]
    lines += (
        _agreements(rt.agreements) if rt.agreements else ["No agreement shares this record type yet.", ""]
    )
    return lines


def _agreements(entries: tuple[AgreementEntry, ...]) -> list[str]:
    lines = [
        "| agreement | consumer | purpose | legal basis | fields | in force | consent | replaces |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in entries:
        until = a.valid_until.isoformat() if a.valid_until else "open"
        validity = f"{a.valid_from.isoformat()} to {until}" + ("" if a.in_force else " (not today)")
        code = f" `{a.purpose_code}`" if a.purpose_code else ""
        lines.append(
            f"| `{a.id}` | {_cell(a.consumer_name or a.consumer)} | {_cell(a.purpose)}{code} "
            f"| {_cell(a.legal_basis)} | {_cell(', '.join(a.fields))} | {validity} | {a.consent} "
            f"| {_cell(a.replaces or '—')} |"
        )
    return [*lines, ""]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, line breaks folded."""
    return text.replace("|", "\\|").replace("\n", " ")
