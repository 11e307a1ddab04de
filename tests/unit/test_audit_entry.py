"""Audit entries: deterministic ids, field names only, and they encode with their Avro schema."""

from __future__ import annotations

import datetime as dt
import io

import fastavro

from bus.audit.chain import ArchivedEntry
from bus.audit.entry import AUDIT_SCHEMA, AuditEntry, Decision

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def an_entry(**overrides: object) -> AuditEntry:
    values: dict[str, object] = {
        "time": NOW,
        "decision": Decision.DELIVERED,
        "subject": "900514301239",
        "provider": "civil-registry",
        "record_type": "person",
        "event_id": "e-1",
        "event_time": NOW,
        "consumer": "tax",
        "agreement_id": "civil-to-tax",
        "purpose": "tax",
        "legal_basis": "Tax Code",
        "fields": ("iin", "surname"),
    }
    values.update(overrides)
    return AuditEntry(**values)  # type: ignore[arg-type]


def test_the_same_decision_has_the_same_id() -> None:
    assert an_entry().entry_id == an_entry(time=NOW + dt.timedelta(hours=1)).entry_id


def test_another_agreement_or_reason_has_another_id() -> None:
    ids = {
        an_entry().entry_id,
        an_entry(agreement_id="other").entry_id,
        an_entry(decision=Decision.DENIED, reason="expired").entry_id,
    }
    assert len(ids) == 3


def test_an_entry_round_trips_through_its_avro_schema() -> None:
    schema = fastavro.parse_schema(AUDIT_SCHEMA)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, an_entry().to_record())
    decoded = fastavro.schemaless_reader(io.BytesIO(buffer.getvalue()), schema, None)
    assert isinstance(decoded, dict)
    assert decoded["fields"] == ["iin", "surname"]
    assert decoded["decision"] == "DELIVERED"


def test_the_schema_has_no_place_for_field_values() -> None:
    names = {f["name"] for f in AUDIT_SCHEMA["fields"]}
    assert "record" not in names
    assert "values" not in names


def test_the_direct_writer_matches_fastavro_byte_for_byte() -> None:
    schema = fastavro.parse_schema(AUDIT_SCHEMA)
    before_epoch = dt.datetime(1969, 7, 20, 20, 17, 40, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    entries = [
        an_entry(),
        an_entry(fields=(), consumer=None, agreement_id=None, purpose=None, legal_basis=None),
        an_entry(decision=Decision.DENIED, reason="consent_missing", fields=()),
        an_entry(decision=Decision.DEAD_LETTERED, reason="x" * 300, subject="ä€𝄞", event_time=before_epoch),
        an_entry(
            decision=Decision.BACKFILLED, replaces="certificate-7", fields=tuple(f"f{i}" for i in range(70))
        ),
        an_entry(time=dt.datetime(2026, 1, 1, 0, 0, 0, 123_456, tzinfo=dt.UTC), event_time=NOW),
        an_entry(
            purpose_code="police.investigation",
            hidden_until=NOW + dt.timedelta(days=90),
            hidden_reason="ongoing investigation",
            hidden_legal_basis="Code of Criminal Procedure, Art. 201",
        ),
        an_entry(hidden_until=NOW + dt.timedelta(microseconds=999_999), hidden_reason="sub-millisecond"),
        an_entry(hidden_until=before_epoch),
        an_entry(hidden_until=dt.datetime(2027, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=5)))),
    ]
    for entry in entries:
        buffer = io.BytesIO()
        buffer.write(b"\x00" + (4242).to_bytes(4, "big"))
        fastavro.schemaless_writer(buffer, schema, entry.to_record())
        assert entry.to_avro(4242) == buffer.getvalue()


def test_an_archived_row_without_the_later_fields_hashes_as_before_they_existed() -> None:
    # given a row as archived before purpose codes and delayed disclosure existed
    record = {**an_entry().to_record(), "entry_id": an_entry().entry_id, "decision": "DELIVERED"}
    old = {k: v for k, v in record.items() if k not in ("purpose_code", "hidden_until", "hidden_reason")}
    entry = ArchivedEntry.from_avro(0, 7, {k: v for k, v in old.items() if k != "hidden_legal_basis"})
    # then its chained document has exactly the keys it had then
    assert set(entry.document()) == {
        "kafka_partition", "kafka_offset", "entry_id", "time", "decision", "reason", "subject", "provider",
        "consumer", "agreement_id", "purpose", "legal_basis", "record_type", "fields", "event_id",
        "event_time", "replaces",
    }  # fmt: skip
    hidden = ArchivedEntry.from_avro(0, 7, {**record, "purpose_code": "tax.registration"})
    assert hidden.document()["purpose_code"] == "tax.registration"
    assert hidden.canonical_bytes() != entry.canonical_bytes()
