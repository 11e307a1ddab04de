"""The event envelope: CloudEvents 1.0 Kafka binary binding headers plus bus headers.

The value stays the plain Confluent-framed Avro record so any Kafka client can read it;
everything about the event (id, source, type, time, subject, sequence, signature)
travels in headers, which this module builds and checks (DESIGN §3).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import TzInfo

from bus.errors import EnvelopeError
from bus.ids import AgencyId, AgreementId, EventId, RecordKey

Headers = Sequence[tuple[str, bytes]]

CONTENT_TYPE: Final = "application/avro"
_SOURCE = re.compile(r"^/agencies/(?P<agency>[a-z0-9]+(?:-[a-z0-9]+)*)/(?P<system>[A-Za-z0-9._-]+)$")
_TYPE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\.(?P<kind>[a-z]+)$")


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    SNAPSHOT = "snapshot"


def _check_source(value: str) -> str:
    if not _SOURCE.fullmatch(value):
        raise ValueError("must look like /agencies/<agency-id>/<system>")
    return value


def _check_type(value: str) -> str:
    match = _TYPE.fullmatch(value)
    if not match or match["kind"] not in ChangeKind._value2member_map_:
        kinds = "|".join(ChangeKind)
        raise ValueError(f"must look like <avro full name>.<{kinds}>, e.g. gov.civil.Person.updated")
    return value


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$")


def _check_rfc3339(value: object) -> object:
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 time with a zone, e.g. 2026-11-23T12:00:00Z")
    return value


def _check_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID, e.g. 0b9c6f3e-5a7d-4f0e-9d8a-2f4c1e6b7a90") from None


# header name -> model field; the order is the order headers are written in.
_CE_HEADERS = {
    "ce_specversion": "specversion",
    "ce_id": "id",
    "ce_source": "source",
    "ce_type": "type",
    "ce_time": "time",
    "ce_subject": "subject",
    "content-type": "content_type",
}
_BUS_HEADERS = {
    "bus_sequence": "sequence",
    "bus_changed": "changed",
    "bus_signature": "signature",
    "bus_sig_proof": "sig_proof",
    "bus_sig_key": "sig_key",
    "bus_agreement": "agreement",
}
_REQUIRED = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject")
_FIELD_TO_HEADER = {v: k for k, v in {**_CE_HEADERS, **_BUS_HEADERS}.items()}


class Envelope(BaseModel):
    """Everything about one record change except the record itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: Annotated[str, AfterValidator(_check_uuid)]
    source: Annotated[str, AfterValidator(_check_source)]
    type: Annotated[str, AfterValidator(_check_type)]
    time: Annotated[AwareDatetime, BeforeValidator(_check_rfc3339)]
    subject: str = Field(min_length=1, max_length=256)
    content_type: Literal["application/avro"] = CONTENT_TYPE
    sequence: int | None = Field(default=None, ge=0)
    changed: tuple[str, ...] | None = None
    signature: str | None = None
    sig_proof: str | None = None
    sig_key: str | None = None
    agreement: AgreementId | None = None

    @classmethod
    def new(
        cls,
        *,
        provider: str,
        system: str,
        record_name: str,
        kind: ChangeKind,
        subject: str,
        sequence: int | None = None,
        changed: Sequence[str] | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> Envelope:
        """A fresh envelope for a change published now (UUID4 id unless one is given)."""
        try:
            return cls(
                id=event_id or str(uuid.uuid4()),
                source=f"/agencies/{provider}/{system}",
                type=f"{record_name}.{kind.value}",
                time=time or datetime.now(UTC),
                subject=subject,
                sequence=sequence,
                changed=tuple(changed) if changed is not None else None,
            )
        except ValidationError as exc:
            raise _as_envelope_error(exc) from None

    @property
    def time_text(self) -> str:
        """``ce_time`` exactly as written to the header (signatures cover this text)."""
        return self.time.isoformat().replace("+00:00", "Z")

    @property
    def event_id(self) -> EventId:
        return EventId(self.id)

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.subject)

    @property
    def provider(self) -> AgencyId:
        match = _SOURCE.fullmatch(self.source)
        assert match is not None  # validated on construction
        return AgencyId(match["agency"])

    @property
    def record_name(self) -> str:
        return self.type.rsplit(".", 1)[0]

    @property
    def kind(self) -> ChangeKind:
        return ChangeKind(self.type.rsplit(".", 1)[1])

    def to_headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers in CloudEvents binary-mode order; absent bus headers are omitted."""
        headers: list[tuple[str, bytes]] = []
        for header, field in {**_CE_HEADERS, **_BUS_HEADERS}.items():
            value = getattr(self, field)
            if value is None:
                continue
            if isinstance(value, datetime):
                text = self.time_text
            elif isinstance(value, tuple):
                text = ",".join(value)
            else:
                text = str(value)
            headers.append((header, text.encode()))
        return headers

    @classmethod
    def from_headers(cls, headers: Headers) -> Envelope:
        """Parse and check Kafka headers; ``EnvelopeError`` names the first bad header.

        Headers as the SDK and gateway write them are checked by a plain-Python fast path (the
        processor parses one envelope per event); anything it does not accept outright goes
        through the pydantic model, which decides and words the error, so results are the same.
        """
        fast = _fast_envelope(headers)
        if fast is not None:
            return fast
        return cls.checked_by_model(headers)

    @classmethod
    def checked_by_model(cls, headers: Headers) -> Envelope:
        """``from_headers`` without the fast path: every header through the pydantic model."""
        known = _KNOWN
        values: dict[str, object] = {}
        for name, raw in headers:
            if name not in known:
                continue
            if known[name] in values:
                raise EnvelopeError(
                    name,
                    f"header {name!r} appears more than once",
                    hint="send each CloudEvents/bus header exactly once",
                )
            try:
                text = bytes(raw).decode("utf-8")
            except (UnicodeDecodeError, TypeError):
                raise EnvelopeError(
                    name, f"header {name!r} is not UTF-8 text", hint="header values are UTF-8 strings"
                ) from None
            values[known[name]] = _parse_value(known[name], text)
        for name in _REQUIRED:
            if known[name] not in values:
                raise EnvelopeError(
                    name,
                    f"required header {name!r} is missing",
                    hint="publish through the bus SDK, or set every ce_* header",
                )
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise _as_envelope_error(exc) from None


_KNOWN: Final = {**_CE_HEADERS, **_BUS_HEADERS}
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PLAIN_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:(Z)|([+-])(\d{2}):(\d{2}))"
)
_KINDS: Final = frozenset(ChangeKind._value2member_map_)
_TZ_CACHE: dict[int, TzInfo] = {}


def _fast_envelope(headers: Headers) -> Envelope | None:
    """The envelope of well-formed headers, built without pydantic; None = let the model decide.

    Accepts only what the model accepts and produces the same values (a UUID already in
    canonical form, an RFC 3339 time with at most microseconds, a plain decimal sequence).
    """
    values: dict[str, object] = {}
    try:
        for name, raw in headers:
            field = _KNOWN.get(name)
            if field is None:
                continue
            if field in values:
                return None
            values[field] = (raw if type(raw) is bytes else bytes(raw)).decode("utf-8")
    except (UnicodeDecodeError, TypeError):
        return None
    if values.get("specversion") != "1.0" or values.get("content_type", CONTENT_TYPE) != CONTENT_TYPE:
        return None
    event_id, source, ce_type, time_text, subject = (
        values.get("id"),
        values.get("source"),
        values.get("type"),
        values.get("time"),
        values.get("subject"),
    )
    if not (
        isinstance(event_id, str)
        and _CANONICAL_UUID.fullmatch(event_id)
        and isinstance(source, str)
        and _SOURCE.fullmatch(source)
        and isinstance(ce_type, str)
        and isinstance(subject, str)
        and 1 <= len(subject) <= 256
        and isinstance(time_text, str)
    ):
        return None
    typed = _TYPE.fullmatch(ce_type)
    if typed is None or typed["kind"] not in _KINDS:
        return None
    when = _fast_time(time_text)
    if when is None:
        return None
    values["time"] = when
    sequence = values.get("sequence")
    if sequence is not None:
        if not (
            isinstance(sequence, str) and sequence.isascii() and sequence.isdigit() and len(sequence) < 19
        ):
            return None
        values["sequence"] = int(sequence)
    changed = values.get("changed")
    if isinstance(changed, str):
        values["changed"] = _parse_value("changed", changed)
    return _construct(values)


def _construct(values: dict[str, object]) -> Envelope:
    """``Envelope.model_construct(**values)`` for checked values, without its per-field alias search."""
    envelope = Envelope.__new__(Envelope)
    fields = {**_DEFAULTS, **values}
    object.__setattr__(envelope, "__dict__", fields)
    object.__setattr__(envelope, "__pydantic_fields_set__", set(values))
    object.__setattr__(envelope, "__pydantic_extra__", None)
    object.__setattr__(envelope, "__pydantic_private__", None)
    return envelope


_DEFAULTS: Final[dict[str, object]] = {
    name: field.default for name, field in Envelope.model_fields.items() if not field.is_required()
}
assert all(
    f.alias is None and f.validation_alias is None and f.default_factory is None
    for f in Envelope.model_fields.values()
), "_construct assumes plain fields"


def _fast_time(text: str) -> datetime | None:
    match = _PLAIN_TIME.fullmatch(text)
    if match is None:
        return None
    zone_h, zone_m = match.group(10, 11)
    if zone_h is not None and (int(zone_h) > 23 or int(zone_m) > 59):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    offset = parsed.utcoffset()
    if offset is None:
        return None
    seconds = offset.days * 86400 + offset.seconds
    zone = _TZ_CACHE.get(seconds)
    if zone is None:
        zone = _TZ_CACHE.setdefault(seconds, TzInfo(seconds))
    return parsed.replace(tzinfo=zone)  # pydantic's own tzinfo type, as the model would give


def _parse_value(field: str, text: str) -> object:
    if field == "changed":
        return tuple(p for p in text.split(",") if p) if text else ()
    return text


def _as_envelope_error(exc: ValidationError) -> EnvelopeError:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "?"
    header = _FIELD_TO_HEADER.get(field, field)
    message = first["msg"].removeprefix("Value error, ")
    return EnvelopeError(
        header,
        f"header {header!r} is malformed: {message}",
        hint="see DESIGN §3 for the expected header formats",
    )
